"""History records the database did not take in time, kept in files under the data directory until it does.

A graceful stop that cannot write the queue within its drain timeout, and a batch the database keeps refusing,
spill their records here instead of dropping them; the next start writes every spill file to the database
and deletes it once written. Files are pickles of record lists (records are plain dataclasses with datetimes
and JSON-like values), written to a temporary name, synced and renamed, so a file is whole or absent. Only
segflow writes this directory: a pickle from anywhere else must never be put in it.
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import time
from pathlib import Path
from typing import Callable, Sequence

from segflow.server.history.records import Record

log = logging.getLogger(__name__)
_SUFFIX = ".pickle"


class Spill:
    """The spill files of one data directory."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._numbers = itertools.count()

    def write(self, records: Sequence[Record]) -> Path | None:
        """Keep `records` in a new file (durably: synced before it is named); None when there are none.
        Raises OSError when the file cannot be written."""
        if not records:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._numbers)}"
        final, temporary = self.directory / (name + _SUFFIX), self.directory / (name + ".tmp")
        with open(temporary, "wb") as file:
            pickle.dump(list(records), file, protocol=pickle.HIGHEST_PROTOCOL)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
        return final

    def replay(self, write: Callable[[list[Record]], object]) -> int:
        """Write every spill file, oldest first, with `write` (a sink's write_batch: one transaction per file)
        and delete each once written; one that fails stays for the next start. Returns the records written."""
        written = 0
        for path in sorted(self.directory.glob("*" + _SUFFIX)) if self.directory.is_dir() else ():
            claimed = path.with_name(f"{path.name}.{os.getpid()}.replaying")
            try:  # the workers of a host share the directory: whoever renames a file first writes it
                os.rename(path, claimed)
            except FileNotFoundError:
                continue
            try:
                with open(claimed, "rb") as file:
                    records = pickle.load(file)
                write(records)
            except Exception:
                os.rename(claimed, path)
                log.exception("history: spill file %s not written; kept for the next start", path)
                continue
            claimed.unlink()
            written += len(records)
            log.info("history: %d spilled records from %s written", len(records), path.name)
        return written
