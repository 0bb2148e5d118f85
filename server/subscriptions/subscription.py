"""One subscriber's side of the action bus: a bounded queue that the bus fills and one stream drains."""

import threading
from collections import deque
from collections.abc import Callable, Iterator

from segflow.v1 import decision_service_pb2

from .errors import BusClosed, SubscriberFellBehind
from .filters import ActionMatcher
from .retained import response_of


class Subscription:
    """An iterator of SubscribeActionsResponse for one subscriber, made by ActionBus.subscribe.

    Iteration blocks until an event arrives. It yields the replayed events, then live ones, in sequence order
    with no duplicate, and ends:
      - normally after close() (from any thread), or after the first action when `once` was asked;
      - by raising BusClosed when the bus is closed, after the events already queued;
      - by yielding a gap and then raising SubscriberFellBehind when the queue overflowed, after the events
        queued before the overflow.
    `position` is always the resume_after value that continues this stream without a hole. A subscription
    abandoned without close() stays subscribed until its queue overflows: close it, or use it in a `with`.
    """

    def __init__(
        self,
        *,
        matcher: ActionMatcher,
        once: bool,
        queue_size: int,
        replay: list[bytes],
        position: int,
        initial_gap: tuple[int, int] | None,
        detach: Callable[["Subscription"], None],
        last_sequence: Callable[[], int],
        clock: Callable[[], int],
    ) -> None:
        self.matcher = matcher
        self.position = position
        self._once = once
        self._queue_size = queue_size
        self._queue: deque[bytes] = deque()  # `retained` entries, decoded as they are sent
        self._wake = threading.Event()
        self._replay = replay
        self._initial_gap = initial_gap
        self._detach = detach
        self._last_sequence = last_sequence
        self._clock = clock
        self._first_dropped = 0
        self._closed = False
        self._bus_closed = False
        self._stream = self._responses()

    def __iter__(self) -> Iterator[decision_service_pb2.SubscribeActionsResponse]:
        return self

    def __next__(self) -> decision_service_pb2.SubscribeActionsResponse:
        return next(self._stream)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Unsubscribe; a blocked iteration ends promptly. Idempotent, never blocks, callable from any thread."""
        self._closed = True
        self._detach(self)
        self._wake.set()

    def deliver(self, sequence: int, entry: bytes) -> bool:
        """Queue a matching event (its `retained` entry); False when the queue is full (the subscriber is then
        behind for good).

        Called by the bus under its lock, so it only touches the queue and the wake-up flag.
        """
        if self._closed:  # closed while the bus was publishing: let go of it without counting a drop
            return True
        queue = self._queue
        if len(queue) >= self._queue_size:
            self._first_dropped = sequence
            self._wake.set()
            return False
        queue.append(entry)
        # The consumer waits only after clearing the flag and then seeing an empty queue; while it waits nothing
        # is taken out, so the first append after that leaves exactly one entry: that one must wake it.
        if len(queue) == 1:
            self._wake.set()
        return True

    def missed(self, first: int) -> None:
        """Called by the bus under its lock: events from `first` on will never reach this stream, which ends
        as fallen behind once it has delivered what it holds."""
        if not self._first_dropped:
            self._first_dropped = first
        self._wake.set()

    def end_by_shutdown(self) -> None:
        """Called by ActionBus.close: the stream delivers what it holds, then ends with BusClosed."""
        self._bus_closed = True
        self._wake.set()

    def _responses(self) -> Iterator[decision_service_pb2.SubscribeActionsResponse]:
        if self._initial_gap is not None and not self._closed:
            yield self._gap_response(*self._initial_gap)
        for response in self._events():
            self.position = response.sequence
            if self._once:
                self.close()
            yield response
            if self._once:
                return
        # The bus has already let go of an overflowed or shut-down subscription; a closed one let go itself.
        if self._closed:
            return
        if self._first_dropped:
            last_missed = self._last_sequence()
            yield self._gap_response(self._first_dropped, last_missed)
            raise SubscriberFellBehind(self._first_dropped, last_missed)
        raise BusClosed(self.position)

    def _events(self) -> Iterator[decision_service_pb2.SubscribeActionsResponse]:
        """The responses of replayed events that match, then of live ones; ends when closed, or when drained
        after an overflow or a bus shutdown."""
        replay, self._replay = self._replay, []
        for entry in replay:
            if self._closed:
                return
            response = response_of(entry)
            if self.matcher(response.action):
                yield response
        queue, wake = self._queue, self._wake
        while not self._closed:
            if queue:
                yield response_of(queue.popleft())
            elif self._first_dropped or self._bus_closed:
                return
            else:
                wake.clear()
                if not (queue or self._closed or self._first_dropped or self._bus_closed):
                    wake.wait()

    def _gap_response(self, first_missed: int, last_missed: int) -> decision_service_pb2.SubscribeActionsResponse:
        # A gap's sequence is the position to resume from: after the gap when its events are gone for good
        # (initial gap), before it when they may still be retained (overflow).
        gap = decision_service_pb2.ActionGap(first_missed=first_missed, last_missed=last_missed)
        response = decision_service_pb2.SubscribeActionsResponse(sequence=self.position, gap=gap)
        response.time.FromNanoseconds(self._clock())
        return response
