"""`--history-durability sync`: every history record is in a local journal before the call that made it answers.

The batching writer keeps records in memory for up to 0.2 s, so a kill (SIGKILL, a crash) loses what it has
not written yet. With a journal, `submit` also appends each record (numbered, pickled) to a file under the
data directory before it returns; the writer marks, after each batch, how many of them the database has (a
checkpoint file, replaced atomically). The next start writes the journal's records past the checkpoint and
starts a new journal. An append is a write(2) to the OS, so the journal survives the process dying, not the
machine losing power. A record may be written twice if the process dies between a batch's commit and its
checkpoint. Like spill files, only segflow writes these files.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import threading
from pathlib import Path
from typing import Callable

from segflow.server.history.records import Record

log = logging.getLogger(__name__)
_FRAME = struct.Struct("<QI")  # record number, length of the pickle that follows


class Journal:
    """The journal of one data directory; `submit` wraps the writer's submit so they number records alike."""

    def __init__(self, directory: Path, submit: Callable[[Record], None]):
        self.directory = Path(directory)
        self.path = self.directory / "history-journal"
        self.checkpoint = self.directory / "history-journal.checkpoint"
        self._submit = submit
        self._lock = threading.Lock()
        self._count = 0  # records submitted through the journal, in the writer's order
        self._file = None

    def replay(self, write: Callable[[list[Record]], object]) -> int:
        """Write (with a sink's write_batch) the records a previous run journaled past its checkpoint, then
        start an empty journal. Returns how many were written; raises when the database refuses them (the
        journal is kept, so nothing is lost)."""
        records = self._unwritten()
        if records:
            write(records)
            log.info("history: %d journaled records written", len(records))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb", buffering=0)  # a new journal, numbered from 0
        self.checkpoint.unlink(missing_ok=True)
        return len(records)

    def submit(self, record: Record) -> None:
        """Queue the record for the writer, then append it to the journal: once this returns, it is kept."""
        body = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._submit(record)  # raises (queue full, closed) before anything is journaled
            self._count += 1
            self._file.write(_FRAME.pack(self._count, len(body)) + body)

    def written(self, done: int) -> None:
        """The writer's progress hook: the first `done` records are in the database (or given up). The
        journal is emptied whenever it holds nothing more, so it stays as small as the writer's backlog."""
        try:
            temporary = self.checkpoint.with_suffix(".tmp")
            temporary.write_text(str(done))
            os.replace(temporary, self.checkpoint)
            with self._lock:
                if done == self._count:
                    self._file.truncate(0)
                    self._file.seek(0)
        except OSError:  # the next batch tries again; meanwhile a restart may write a few records twice
            log.exception("history: journal checkpoint failed")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _unwritten(self) -> list[Record]:
        if not self.path.exists():
            return []
        done = int(self.checkpoint.read_text()) if self.checkpoint.exists() else 0
        data, records, at = self.path.read_bytes(), [], 0
        while at + _FRAME.size <= len(data):
            number, length = _FRAME.unpack_from(data, at)
            body = data[at + _FRAME.size:at + _FRAME.size + length]
            if len(body) < length:
                break  # the process died in the middle of this append: the call never answered
            if number > done:
                records.append(pickle.loads(body))
            at += _FRAME.size + length
        return records
