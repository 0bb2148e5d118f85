"""Journals that no process of this run writes, written to the database before it serves: the host ran with more
`--processes` before (journals of the worker numbers it no longer has), or with a different layout (the single
process journals in the data directory itself, worker i in `workers/<i>/`). Without this their records, each one
acknowledged to a client, would wait for a run with that layout again."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

from segflow.server.history.journal import Journal
from segflow.server.history.records import Record

log = logging.getLogger(__name__)


def retired(data_dir: Path, processes: int) -> list[Path]:
    """The journal directories under `data_dir` that a run of `processes` workers (1: a single process) never
    writes."""
    workers = data_dir / "workers"
    serving = range(processes) if processes > 1 else range(0)
    found = [path for path in sorted(workers.iterdir()) if path.name.isdigit() and int(path.name) not in serving
             ] if workers.is_dir() else []
    if processes > 1 and Journal(data_dir, submit=_refuse).path.exists():
        found.append(data_dir)
    return found


def replay_retired(data_dir: Path, processes: int, write: Callable[[list[Record]], object]) -> int:
    """Write the retired journals' records with `write` (a sink's write_batch) and remove the journals; returns
    how many records were written. Call it before any other process of the run writes its journal (the first
    worker, or the single process). Raises, keeping the journal, when the database refuses them."""
    written = 0
    for directory in retired(data_dir, processes):
        journal = Journal(directory, submit=_refuse)
        count = journal.replay(write)
        journal.close()
        if directory == data_dir:
            journal.path.unlink(missing_ok=True)
        else:
            shutil.rmtree(directory, ignore_errors=True)
        if count:
            log.info("history: %d records from the journal of a retired process (%s) written", count, directory)
        written += count
    return written


def _refuse(record: Record) -> None:
    raise RuntimeError("a retired journal takes no new records")
