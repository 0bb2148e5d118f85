"""Takes history off the hot path: records are queued cheaply and written in batches by a background thread.

Guarantees: `submit` never waits for I/O; a record whose `submit` returned before `close()` was called is
written before `close()` returns (unless the database refused it, which is logged and counted as failed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

from segflow.server.history.records import Record
from segflow.server.history.sinks import HistorySink

log = logging.getLogger(__name__)


class HistoryError(Exception):
    """A record was not accepted for history."""


class HistoryFull(HistoryError):
    """The history queue is full (the database is slow or down); the server answers RESOURCE_EXHAUSTED."""


class HistoryClosed(HistoryError):
    """The writer is closed (the server is shutting down); the server answers UNAVAILABLE."""


class HistoryWriter:
    """Queues records (bounded) and writes them to `sink` in batches from a daemon thread.

    A batch is up to `batch_size` records, or whatever arrived within `flush_interval` seconds. A failed batch
    is retried `retries` times with doubling delays from `retry_backoff`; then each record is tried alone, so
    one bad record does not lose its neighbours, and the ones still refused are logged and counted as failed.
    """

    def __init__(
        self,
        sink: HistorySink,
        *,
        max_queue: int = 100_000,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        retries: int = 3,
        retry_backoff: float = 0.05,
        spill: Callable[[list[Record]], object] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self._sink = sink
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retries = retries
        self._retry_backoff = retry_backoff
        self._spill = spill  # where records the database keeps refusing go (a Spill's write), else they are lost
        self._inflight: list[Record] = []  # the batch being written
        self._progress_hook = progress  # told, after each batch, how many records (in order) are done
        # Submitters append without a lock (deque appends are atomic); only the writer thread pops.
        self._pending: deque[Record] = deque()
        self._closed = False
        self._wake = threading.Event()
        # Guards the counters; notified whenever records are written or given up.
        self._progress = threading.Condition()
        self._taken = self._written = self._failed = self._batches = self._rejected = self._quarantined = self._lost = 0
        self._flush_target = 0
        self._close_lock = threading.Lock()
        self._finished = False  # The thread has stopped and the sink is closed.
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._thread.start()

    def submit(self, record: Record) -> None:
        """Queue `record` for writing; raises HistoryFull when the queue is full, HistoryClosed after close().

        The bound is checked without a lock, so concurrent submitters may overshoot it by one record each.
        """
        pending = self._pending
        if self._closed or len(pending) >= self._max_queue:
            self._refuse()
        pending.append(record)
        if len(pending) == self._batch_size:
            self._wake.set()

    def check_room(self, headroom: int = 1_000) -> None:
        """Raise HistoryFull unless `headroom` more records fit (HistoryClosed after close()).

        Called before a decision changes anything, so a full queue refuses the call instead of losing records.
        """
        if self._closed or len(self._pending) + headroom > self._max_queue:
            self._refuse()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record submitted before this call is written (or given up).

        Returns True when all of them were written, False on timeout or when any of them failed.
        """
        with self._progress:
            target = self._taken + len(self._pending)
            failed_before = self._failed
            self._flush_target = max(self._flush_target, target)
            self._wake.set()
            done = self._progress.wait_for(lambda: self._written + self._failed >= target, timeout)
            return done and self._failed == failed_before

    def close(self, timeout: float = 10.0) -> bool:
        """Refuse new records, write everything queued, stop the thread and close the sink.

        Returns False when records failed, or when the queue was not written within `timeout` seconds: the
        sink is then left open (the thread still uses it) and calling close() again waits again. Once the
        writer is fully closed, further calls return True.
        """
        with self._close_lock:
            if self._finished:
                return True
            failed_before = self._failed
            self._closed = True
            self._wake.set()
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("history writer still busy after %.1fs, %d records queued", timeout, len(self._pending))
                return False
            # A submit that passed its closed check just before close() may have appended after the thread ended.
            while self._pending:
                self._write_next_batch()
            self._sink.close()
            self._finished = True
            return self._failed == failed_before

    def drain(self, timeout: float) -> list[Record]:
        """Close, writing everything queued within `timeout` seconds; when time runs out, stop and return the
        records not written yet (queued, and the batch being written, which may still be written too) so the
        caller can keep them elsewhere. Returns [] once everything was written or given up."""
        self.close(timeout)
        if self._finished:
            return []
        with self._progress:
            left = [*self._inflight, *self._pending]
            self._pending.clear()
        return left

    def stats(self) -> dict[str, int]:
        """Counters: submitted, written, failed (given up), queued (not yet written), batches, rejected,
        quarantined (failed because they cannot be encoded) and lost (failed and not spilled)."""
        with self._progress:
            submitted = self._taken + len(self._pending)
            return {
                "submitted": submitted,
                "written": self._written,
                "failed": self._failed,
                "queued": submitted - self._written - self._failed,
                "batches": self._batches,
                "rejected": self._rejected,
                "quarantined": self._quarantined,
                "lost": self._lost,
            }

    def _refuse(self) -> None:
        with self._progress:
            self._rejected += 1
        if self._closed:
            raise HistoryClosed("history writer is closed")
        raise HistoryFull(f"history queue is full ({self._max_queue} records waiting to be written)")

    def _run(self) -> None:
        while not (self._closed and not self._pending):
            urgent = (
                self._closed
                or len(self._pending) >= self._batch_size
                or self._written + self._failed < self._flush_target
            )
            if not urgent:
                self._wake.wait(self._flush_interval)
                self._wake.clear()
            self._write_next_batch()

    def _write_next_batch(self) -> None:
        with self._progress:
            batch = self._inflight = [self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))]
            self._taken += len(batch)
        if batch:
            written = self._write(batch)
            with self._progress:
                self._inflight = []
                self._written += written
                self._failed += len(batch) - written
                self._batches += 1
                done = self._written + self._failed
                self._progress.notify_all()
            if self._progress_hook is not None:
                self._progress_hook(done)

    def _write(self, batch: list[Record]) -> int:
        """Write `batch`, retrying; returns how many of its records were written. A record the sink cannot
        encode is quarantined at once (logged, counted as failed), so it never holds up the others."""
        for attempt in range(self._retries + 1):
            try:
                unencodable = self._sink.write_batch(batch) or ()
                self._quarantine(unencodable)
                return len(batch) - len(unencodable)
            except Exception as error:  # The sink's driver decides what it raises; all of it is retried.
                last_error = error
                if attempt < self._retries:
                    time.sleep(self._retry_backoff * 2**attempt)
        refused = [record for record in batch if not self._write_alone(record)] if len(batch) > 1 else batch
        log.error("history: %d of %d records not written after %d attempts%s", len(refused), len(batch),
                  self._retries + 1, "; spilling them" if self._spill else "", exc_info=last_error)
        self._give_up(refused)
        return len(batch) - len(refused)

    def _write_alone(self, record: Record) -> bool:
        """True when the record is written or quarantined: done with either way."""
        try:
            unencodable = self._sink.write_batch([record]) or ()
        except Exception:
            return False
        self._quarantine(unencodable)
        return True

    def _give_up(self, records: list[Record]) -> None:
        """Records the database refused: spilled for the next start when there is a spill, else lost."""
        if self._spill is not None:
            try:
                self._spill(records)
                return
            except OSError:
                log.exception("history: spilling %d records failed", len(records))
        log.error("history: %d records lost", len(records))
        with self._progress:
            self._lost += len(records)

    def _quarantine(self, records) -> None:
        for record in records:
            log.error("history: record cannot be stored, dropped (a bug): %.500r", record)
        with self._progress:
            self._quarantined += len(records)
