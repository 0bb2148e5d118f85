"""Fans each published action out to the subscribers whose filter matches, without ever waiting for them,
and keeps recent events so a subscriber can resume after a short disconnect."""

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from segflow.v1 import action_pb2, decision_service_pb2

from .errors import BusClosed, InvalidSubscription
from .filters import ActionMatcher
from .retained import Retained, action_of, encode
from .subscription import Subscription

_Index = dict[str, set[Subscription]]


class ActionBus:
    """The log of action events: global sequence numbers, a retention ring, and live subscribers.

    `retention` is how many recent events are kept for resuming; `queue_size` bounds each subscriber's queue;
    `clock` returns nanoseconds since the epoch (the event time sent to subscribers). Events are kept, and
    queued, encoded (`retained`): the bus holds no message of its own.
    """

    def __init__(
        self, *, retention: int = 10_000, queue_size: int = 1_000, clock: Callable[[], int] = time.time_ns
    ) -> None:
        if retention < 0:
            raise ValueError(f"retention must be >= 0, got {retention}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        self._queue_size = queue_size
        self._clock = clock
        self._lock = threading.Lock()
        self._sequence = 0
        self._retained = Retained(retention)
        # Each subscriber sits in exactly one bucket: by its session filter, else its customer filter, else
        # in the "" bucket of _anywhere; publish then looks only at the buckets an action can match.
        self._by_session: _Index = {}
        self._by_customer: _Index = {}
        self._anywhere: _Index = {}
        self._indexes = (self._anywhere, self._by_session, self._by_customer)
        # Closed subscriptions waiting to be taken out of their bucket by whoever next holds the lock.
        self._leaving: deque[Subscription] = deque()
        self._subscribers = 0
        self._dropped = 0
        self._closed = False

    @property
    def last_sequence(self) -> int:
        """The sequence number of the latest published event (0 before the first)."""
        return self._sequence

    def publish(self, action: action_pb2.Action, sequence: int | None = None, at: int | None = None) -> int:
        """Number, retain and hand `action` to every matching subscriber; returns its sequence number.

        Never blocks on a subscriber: one whose queue is full is dropped from the bus and told so by its
        stream. The bus keeps `action`'s encoding as it is now (the same action is published again for each
        lifecycle state change). `sequence` and `at` (nanoseconds) are given when a log shared by several
        processes numbered the event (`server.workers.actionlog`): each is the one after the last.
        """
        encoded = action.SerializeToString()
        with self._lock:
            return self._publish(encoded, action, sequence, at)

    def publish_encoded(self, encoded: bytes | memoryview, sequence: int, at: int) -> int:
        """`publish` for an Action's protobuf encoding, numbered `sequence` at `at` by a shared log that read it
        encoded: it is decoded only to match it against subscribers."""
        with self._lock:
            return self._publish(encoded, None, sequence, at)

    def publish_all(self, actions: Sequence[bytes]) -> None:
        """Publish one call's actions, their encodings as the Decision made them, in order, under one hold of
        the lock; each is decoded only to match it against subscribers."""
        with self._lock:
            if self._subscribers or self._leaving:
                for action in actions:
                    self._publish(action, None, None, None)
                return
            # Nobody to hand them to: `_publish`'s numbering and retaining, without a call per action.
            self._sequence = self._retained.extend(self._sequence, self._clock, actions)

    def _publish(self, encoded: bytes | memoryview, action: action_pb2.Action | None, sequence: int | None,
                 at: int | None) -> int:
        """`publish` of `action` (None: not decoded yet) as `encoded`, with the lock held."""
        if self._leaving:
            self._drop_leaving()
        self._sequence = sequence = self._sequence + 1 if sequence is None else sequence
        entry = encode(sequence, self._clock() if at is None else at, encoded)
        self._retained.append(entry)
        if not self._subscribers:  # the common case: numbered and retained for resumers, no one to hand it to
            return sequence
        if action is None:
            action = action_of(entry)
        behind = None
        for bucket in (
            self._anywhere.get(""),
            self._by_session.get(action.session_id),
            self._by_customer.get(action.customer_id),
        ):
            if bucket:
                for subscription in bucket:
                    if subscription.matcher(action) and not subscription.deliver(sequence, entry):
                        behind = behind or []
                        behind.append(subscription)
        if behind:
            for subscription in behind:
                self._remove(subscription)
            self._dropped += len(behind)
        return sequence

    def missed(self, first: int, last: int) -> None:
        """Events `first..last` will never reach this bus (a log shared by several processes dropped them before
        this process read them): every live subscriber gets the gap and ends as fallen behind, as after an
        overflow, and retention starts again after `last`, so a resume from before it starts with a gap."""
        with self._lock:
            self._drop_leaving()
            live = [s for index in self._indexes for bucket in index.values() for s in bucket]
            for subscription in live:
                subscription.missed(first)
                self._remove(subscription)
            self._dropped += len(live)
            self._retained.clear()
            self._sequence = last

    def subscribe(self, request: decision_service_pb2.SubscribeActionsRequest) -> Subscription:
        """A live subscription for `request`, replaying retained events after `resume_after` first.

        Raises InvalidSubscription for a bad filter or a resume position beyond the log, BusClosed after close().
        """
        matcher = ActionMatcher(request.filter)
        resume_after = request.resume_after
        with self._lock:
            self._drop_leaving()
            head = self._sequence
            if self._closed:
                raise BusClosed(resume_after or head)
            if resume_after > head:
                raise InvalidSubscription(
                    "resume_after",
                    f"{resume_after} is beyond the last published sequence {head} (was the server restarted?); "
                    "subscribe with resume_after=0",
                )
            initial_gap, replay, position = None, [], head
            if resume_after:
                # Replay and registration happen under the same lock: every event after `head` goes to the
                # queue, every one up to it is in the replay, so there is no hole and no duplicate.
                initial_gap, replay = self._retained.after(resume_after, head)
                position = initial_gap[1] if initial_gap else resume_after
            subscription = Subscription(
                matcher=matcher,
                once=request.once,
                queue_size=self._queue_size,
                replay=replay,
                position=position,
                initial_gap=initial_gap,
                detach=self._detach,
                last_sequence=lambda: self._sequence,
                clock=self._clock,
            )
            index, key = self._bucket_of(matcher)
            index.setdefault(key, set()).add(subscription)
            self._subscribers += 1
        return subscription

    def close(self) -> None:
        """End every subscription and refuse new ones; publishing still works.

        Each stream still delivers the events already queued for it, then raises BusClosed.
        """
        with self._lock:
            self._leaving.clear()
            self._closed = True
            subscriptions = [s for index in self._indexes for bucket in index.values() for s in bucket]
            for index in self._indexes:
                index.clear()
            self._subscribers = 0
        for subscription in subscriptions:
            subscription.end_by_shutdown()

    def stats(self) -> dict[str, int]:
        """Counters: events `published`, live `subscribers`, subscribers `dropped` for falling behind, and events
        `retained` for resuming."""
        with self._lock:
            self._drop_leaving()
            return {
                "published": self._sequence,
                "subscribers": self._subscribers,
                "dropped": self._dropped,
                "retained": len(self._retained),
            }

    def _detach(self, subscription: Subscription) -> None:
        """Let go of a closed subscription without ever waiting for the lock.

        close() runs from gRPC callbacks and from generator finalizers, which the garbage collector may run
        in a thread that is inside publish() and holds the lock; so it only queues the subscription, and
        takes it out at once only if the lock is free.
        """
        self._leaving.append(subscription)
        if self._lock.acquire(blocking=False):
            try:
                self._drop_leaving()
            finally:
                self._lock.release()

    def _drop_leaving(self) -> None:
        """Take the closed subscriptions out of their buckets; the lock is held."""
        leaving = self._leaving
        while leaving:
            self._remove(leaving.popleft())

    def _remove(self, subscription: Subscription) -> None:
        """Take `subscription` out of its bucket if it is still there; the lock is held."""
        index, key = self._bucket_of(subscription.matcher)
        bucket = index.get(key)
        if bucket is None or subscription not in bucket:
            return
        bucket.remove(subscription)
        if not bucket:
            del index[key]
        self._subscribers -= 1

    def _bucket_of(self, matcher: ActionMatcher) -> tuple[_Index, str]:
        if matcher.session_id:
            return self._by_session, matcher.session_id
        if matcher.customer_id:
            return self._by_customer, matcher.customer_id
        return self._anywhere, ""
