"""The host's one sequence of action events: workers append to a log in the shared LMDB environment, and each
worker's subscribers follow it, so a subscriber on any worker sees every worker's actions, numbered once.

`publish_all` appends one call's actions in one write transaction (LMDB serialises writers across processes),
which numbers them and trims the log to the last `retention` events. Each worker keeps an `ActionBus` fed only
from the log, in order, with the log's numbers: while it has subscribers a thread reads new events every few
milliseconds, and `subscribe` first reads up to the log's head, so resume and gap semantics are the bus's own
(`server.subscriptions`) over the host's sequence. A worker that falls so far behind that the log trimmed events
before it read them tells its subscribers of the gap (`ActionBus.missed`), as an overflow does.

While no worker has a subscriber nothing is logged: a worker lists itself under `listeners` from its first
subscriber until LINGER_SECONDS after its last (so a subscriber that reconnects soon resumes with no hole), and
a call's actions are appended only while someone is listed. Skipping is marked once in the log (`skipped`); the
next listener to arrive turns the mark into one numbered gap entry, so a subscriber resuming from before the
pause gets an `ActionGap` for what it could not see, and one arriving new sees every event after its point.
Deciding to skip and listing oneself are both write transactions over the same keys, so no call appends after
a listener arrived without its events reaching it.
"""

from __future__ import annotations

import struct
import threading
import time
from typing import Sequence

import lmdb
from segflow.v1 import decision_service_pb2

from segflow.server.subscriptions import ActionBus, Subscription

_SEQUENCE = struct.Struct(">Q")  # keys: big-endian, so the log is in sequence order
_TIME = struct.Struct(">q")  # each event's value starts with its publication time in nanoseconds
_WORKER = struct.Struct(">I")
_HEAD = b"actions.head"
_SKIPPED = b"actions.skipped"  # present while a call's actions were skipped since the last listener left
# How often a worker with subscribers looks for new events.
POLL_SECONDS = 0.002
# How long a worker stays listed after its last subscriber left.
LINGER_SECONDS = 30.0


class SharedActionBus:
    """An `ActionBus` for one worker whose events come from, and go to, the host's shared log."""

    def __init__(self, env: lmdb.Environment, worker: int, *, retention: int = 10_000, queue_size: int = 1_000,
                 linger: float = LINGER_SECONDS):
        self.env = env
        self._log = env.open_db(b"actions")
        self._meta = env.open_db(b"meta")
        self._listeners = env.open_db(b"listeners")  # worker number -> nothing, while it is listed
        self._me = _WORKER.pack(worker)
        self._retention = max(retention, 1)
        self._linger = linger
        self._local = ActionBus(retention=retention, queue_size=queue_size)
        self._published = 0  # this worker's actions, logged or skipped
        self._counting = threading.Lock()
        self._reading = threading.Lock()  # reading the log, and listing or unlisting this worker
        self._listed, self._quiet_since = False, None  # whether listed; since when without subscribers
        self._unlist()  # a restarted worker's subscribers died with its previous process
        self._read = max(self._head() - self._retention, 0)  # a restarted worker replays the retained
        self._closed = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="segflow-action-log", daemon=True)
        self._follower.start()

    def publish_all(self, actions: Sequence[bytes]) -> None:
        """Append one call's actions (encoded) to the host's log in one transaction, or skip them while nobody
        listens."""
        if not actions:
            return
        with self._counting:
            self._published += len(actions)
        with self.env.begin(buffers=True) as txn:
            if not txn.cursor(db=self._listeners).first() and txn.get(_SKIPPED, db=self._meta) is not None:
                return  # the pause is marked already: nothing to write
        values = [_TIME.pack(time.time_ns()) + action for action in actions]
        with self.env.begin(write=True) as txn:
            if not txn.cursor(db=self._listeners).first():
                txn.put(_SKIPPED, b"", db=self._meta)
                return
            self._append(txn, values)

    def subscribe(self, request: decision_service_pb2.SubscribeActionsRequest) -> Subscription:
        """A live subscription, as `ActionBus.subscribe`, over the host's sequence."""
        with self._reading:
            self._list()
            self._catch_up()
            return self._local.subscribe(request)

    def stats(self) -> dict[str, int]:
        """The bus's counters, with `published` this worker's actions (whether anyone listened or not)."""
        return {**self._local.stats(), "published": self._published}

    def close(self) -> None:
        self._closed.set()
        self._follower.join(timeout=5)
        with self._reading:
            self._catch_up()  # what was published before the close reaches the subscribers still draining
            self._unlist()
        self._local.close()

    # -- the log ----------------------------------------------------------------------------------

    def _head(self) -> int:
        with self.env.begin() as txn:
            return self._last(txn)

    def _last(self, txn: lmdb.Transaction) -> int:
        head = txn.get(_HEAD, db=self._meta)
        return 0 if head is None else _SEQUENCE.unpack(head)[0]

    def _append(self, txn: lmdb.Transaction, values: list[bytes]) -> None:
        """Number `values` after the head and trim the log to `retention`; inside a write transaction."""
        head = self._last(txn)
        for sequence, value in enumerate(values, head + 1):
            txn.put(_SEQUENCE.pack(sequence), value, db=self._log, append=True)
        last = head + len(values)
        txn.put(_HEAD, _SEQUENCE.pack(last), db=self._meta)
        for sequence in range(max(head - self._retention, 0) + 1, last - self._retention + 1):
            txn.delete(_SEQUENCE.pack(sequence), db=self._log)

    def _list(self) -> None:
        """List this worker as listening (the lock is held); the first listener after a pause logs its gap."""
        self._listed, self._quiet_since = True, None
        with self.env.begin(write=True) as txn:
            txn.put(self._me, b"", db=self._listeners)
            if txn.pop(_SKIPPED, db=self._meta) is not None:
                self._append(txn, [_TIME.pack(time.time_ns())])  # a gap entry: a time and no action

    def _unlist(self) -> None:
        self._listed = False
        with self.env.begin(write=True, db=self._listeners) as txn:
            txn.delete(self._me)

    def _follow(self) -> None:
        """Read the log while this worker has subscribers; unlist it once it had none for `linger` seconds."""
        while not self._closed.wait(POLL_SECONDS):
            with self._reading:
                if self._local.stats()["subscribers"]:
                    self._catch_up()
                    self._quiet_since = None
                elif self._listed:
                    now = time.monotonic()
                    if self._quiet_since is None:
                        self._quiet_since = now
                    elif now - self._quiet_since >= self._linger:
                        self._unlist()

    def _catch_up(self) -> None:
        """Hand the local bus every event after the last one read, in order (the lock is held); events trimmed
        before this worker read them, and the gap entry of a pause, are reported to it as missed."""
        with self.env.begin(db=self._log) as txn:
            cursor = txn.cursor()
            if not cursor.set_range(_SEQUENCE.pack(self._read + 1)):
                return
            for key, value in cursor:
                sequence = _SEQUENCE.unpack(key)[0]
                if sequence > self._read + 1:
                    self._local.missed(self._read + 1, sequence - 1)
                self._read = sequence
                if len(value) == _TIME.size:
                    self._local.missed(sequence, sequence)
                else:
                    self._local.publish_encoded(memoryview(value)[_TIME.size:], sequence=sequence,
                                                at=_TIME.unpack_from(value)[0])
