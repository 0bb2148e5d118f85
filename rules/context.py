"""What an expression can ask about the world beyond the row: the current event, per-event statistics,
segment membership, the clock and external callouts. The server subclasses EvalContext per session/event;
the defaults make the engine usable standalone (no events seen, no segments, UTC wall clock)."""

from __future__ import annotations

from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EvalContext:
    """Answers the context functions of the expression language; override what your setting knows.

    Attributes read by generated code: `event_params` (the current event's parameters, read by `event.x`),
    `event_name` (EVENT_NAME()) and `event_sequence` (EVENT_SEQUENCE(), the event's 1-based position in the
    session). Methods: `event_count(name)` (EVENT_COUNT), `event_first_time(name)`/`event_last_time(name)`
    (aware datetimes or None), `event_last_data(name, param)`, `in_segment(name)`, `now()` (aware UTC; one
    evaluation asks once, so every NOW() in it agrees) and `callout(name, args)` (EXTERNALCALLOUT).
    Customer memory, across visits: `event_count_within(name, seconds)`, `event_first_time_within`,
    `event_last_time_within`, `event_sum_within(name, param, seconds)` (rolling windows ending now),
    `pattern_met(name)`, `audience_id(field)` (audience.<field>) and the `audience_level` attribute.
    """

    event_params: Mapping[str, Any] = _EMPTY
    event_name: str | None = None
    event_sequence: int | None = None
    audience_level: str = ""

    def event_count(self, name: str) -> int:
        return 0

    def event_first_time(self, name: str) -> datetime | None:
        return None

    def event_last_time(self, name: str) -> datetime | None:
        return None

    def event_last_data(self, name: str, param: str) -> Any:
        return None

    def in_segment(self, name: str) -> bool:
        return False

    def event_count_within(self, name: str, seconds: int) -> int:
        return 0

    def event_first_time_within(self, name: str, seconds: int) -> datetime | None:
        return None

    def event_last_time_within(self, name: str, seconds: int) -> datetime | None:
        return None

    def event_sum_within(self, name: str, param: str, seconds: int) -> Any:
        return None

    def pattern_met(self, name: str) -> bool:
        return False

    def audience_id(self, field: str) -> Any:
        return None

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def callout(self, name: str, args: tuple) -> Any:
        """The value of EXTERNALCALLOUT(name, *args); None (NULL) unless a subclass wires callouts in."""
        return None


DEFAULT_CONTEXT = EvalContext()  # shared by every ctx-free evaluation; it holds no state
