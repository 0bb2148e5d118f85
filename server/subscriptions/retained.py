"""Published action events as one bytes object each, so the thousands the bus retains for resuming (and those
waiting in subscriber queues) are no objects the garbage collector tracks: a message or a tuple per event would
be, and every full collection, which stops every call, walks them all.

An entry is its sequence number and publication time (nanoseconds since the epoch), then the Action's protobuf
encoding; the stream decodes it only when it sends it.
"""

import struct
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice

from segflow.v1 import action_pb2, decision_service_pb2

_HEADER = struct.Struct("<Qq")  # sequence, time in ns


def encode(sequence: int, time_ns: int, action: bytes | memoryview) -> bytes:
    """The entry of `action`'s encoding published as `sequence` at `time_ns`."""
    return _HEADER.pack(sequence, time_ns) + action


def response_of(entry: bytes) -> decision_service_pb2.SubscribeActionsResponse:
    """The SubscribeActionsResponse that sends an entry: its sequence, time and action."""
    sequence, time_ns = _HEADER.unpack_from(entry)
    response = decision_service_pb2.SubscribeActionsResponse(sequence=sequence)
    response.time.FromNanoseconds(time_ns)
    response.action.MergeFromString(memoryview(entry)[_HEADER.size:])
    return response


def action_of(entry: bytes) -> action_pb2.Action:
    """An entry's Action, decoded."""
    return action_pb2.Action.FromString(memoryview(entry)[_HEADER.size:])


class Retained:
    """The latest `capacity` entries, oldest first, numbered consecutively up to the bus's last sequence."""

    def __init__(self, capacity: int) -> None:
        self._entries: deque[bytes] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, entry: bytes) -> None:
        """Retain an entry, evicting the oldest when full."""
        self._entries.append(entry)

    def extend(self, last: int, clock: Callable[[], int], actions: Iterable[bytes]) -> int:
        """Retain `actions` (encoded), numbered after `last`, each timed by `clock()`; returns the last number."""
        pack, append = _HEADER.pack, self._entries.append  # `encode` inline: no call per action
        for action in actions:
            last += 1
            append(pack(last, clock()) + action)
        return last

    def clear(self) -> None:
        self._entries.clear()

    def after(self, sequence: int, last: int) -> tuple[tuple[int, int] | None, list[bytes]]:
        """What a resume after `sequence` replays when `last` is the latest number: the gap of those evicted
        (first, last missed), if any, and the retained entries after it, oldest first."""
        oldest = last - len(self._entries) + 1
        gap = (sequence + 1, oldest - 1) if sequence + 1 < oldest else None
        return gap, list(islice(self._entries, max(sequence + 1 - oldest, 0), None))
