"""The host's one sequence of action events: workers append to a log in the shared LMDB environment, and each
worker's subscribers follow it, so a subscriber on any worker sees every worker's actions, numbered once.

`publish` appends in one write transaction (LMDB serialises writers across processes), which assigns the next
sequence number and trims the log to the last `retention` events. Each worker keeps an `ActionBus` fed only from
the log, in order, with the log's numbers: while it has subscribers a thread reads new events every few
milliseconds, and `subscribe` first reads up to the log's head, so resume and gap semantics are the bus's own
(`server.subscriptions`) over the host's sequence. A worker with no subscribers reads nothing.
"""

from __future__ import annotations

import struct
import threading
import time

import lmdb
from segflow.v1 import action_pb2, decision_service_pb2

from segflow.server.subscriptions import ActionBus, Subscription

_SEQUENCE = struct.Struct(">Q")  # keys: big-endian, so the log is in sequence order
_TIME = struct.Struct(">q")  # each event's value starts with its publication time in nanoseconds
_HEAD = b"actions.head"
# How often a worker with subscribers looks for new events.
POLL_SECONDS = 0.002


class SharedActionBus:
    """An `ActionBus` for one worker whose events come from, and go to, the host's shared log."""

    def __init__(self, env: lmdb.Environment, *, retention: int = 10_000, queue_size: int = 1_000):
        self.env = env
        self._log = env.open_db(b"actions")
        self._meta = env.open_db(b"meta")
        self._retention = max(retention, 1)
        self._local = ActionBus(retention=retention, queue_size=queue_size)
        self._reading = threading.Lock()
        self._read = max(self.last_sequence - self._retention, 0)  # a restarted worker replays the retained
        self._closed = threading.Event()
        self._follower = threading.Thread(target=self._follow, name="segflow-action-log", daemon=True)
        self._follower.start()

    @property
    def last_sequence(self) -> int:
        with self.env.begin(db=self._meta) as txn:
            head = txn.get(_HEAD)
        return 0 if head is None else _SEQUENCE.unpack(head)[0]

    def publish(self, action: action_pb2.Action) -> int:
        """Append `action` to the host's log; returns its sequence number."""
        value = _TIME.pack(time.time_ns()) + action.SerializeToString()
        with self.env.begin(write=True) as txn:
            head = txn.get(_HEAD, db=self._meta)
            sequence = 1 if head is None else _SEQUENCE.unpack(head)[0] + 1
            key = _SEQUENCE.pack(sequence)
            txn.put(key, value, db=self._log, append=True)
            txn.put(_HEAD, key, db=self._meta)
            if sequence > self._retention:
                txn.delete(_SEQUENCE.pack(sequence - self._retention), db=self._log)
        return sequence

    def subscribe(self, request: decision_service_pb2.SubscribeActionsRequest) -> Subscription:
        """A live subscription, as `ActionBus.subscribe`, over the host's sequence."""
        self._catch_up()
        return self._local.subscribe(request)

    def stats(self) -> dict[str, int]:
        """The bus's counters, with `published` the host's (every worker's events)."""
        return {**self._local.stats(), "published": self.last_sequence}

    def close(self) -> None:
        self._closed.set()
        self._follower.join(timeout=5)
        self._catch_up()  # what was published before the close reaches the subscribers still draining
        self._local.close()

    def _follow(self) -> None:
        while not self._closed.wait(POLL_SECONDS):
            if self._local.stats()["subscribers"]:
                self._catch_up()

    def _catch_up(self) -> None:
        """Hand the local bus every event after the last one read, in order (those trimmed meanwhile are gone: the
        bus then holds the last `retention`, a contiguous run, and reports the gap to a subscriber who asks)."""
        with self._reading:
            with self.env.begin(db=self._log) as txn:
                cursor = txn.cursor()
                if not cursor.set_range(_SEQUENCE.pack(self._read + 1)):
                    return
                for key, value in cursor:
                    self._read = sequence = _SEQUENCE.unpack(key)[0]
                    self._local.publish(action_pb2.Action.FromString(value[_TIME.size:]), sequence=sequence,
                                        at=_TIME.unpack(value[:_TIME.size])[0])
