"""What the service writes to history: one record type per kind of row, never changed once built.

Records are built on the hot path, so they are plain slotted dataclasses with one cheap check (times must be
timezone-aware; they are stored as UTC). Their fields may be given in order (the keys, then an event's time and
action id, then the record's own; `trace_id` by name only): the handlers that build one per action do, since
passing ten arguments by name costs about as much as the rest of the record. They are not `frozen`: a frozen
dataclass sets each field through object.__setattr__, which made building one cost three times as much;
nothing changes a record once built (the writer, spill and journal only read it), and they hash as frozen ones
did.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {value!r}")


@dataclass(slots=True, unsafe_hash=True)
class _Keys:
    """Who and what a record belongs to. `customer_id` is "" while the session is anonymous."""

    session_id: str
    customer_id: str
    decision_id: str
    ruleset_version: int


@dataclass(slots=True, unsafe_hash=True)
class _Event(_Keys):
    """A record of something that happened at `time` (aware, stored as UTC), fired by action `action_id` in a
    call of trace `trace_id` ("" when the call had none)."""

    time: datetime
    action_id: str
    trace_id: str = field(default="", kw_only=True)  # last in __init__, after a subclass's own fields

    def __post_init__(self) -> None:
        # Naive (or a tzinfo without an offset): say so. A datetime.timezone always has an offset, and asking
        # another tzinfo for it is a Python-level call (~250 ns, a third of building a record).
        time = self.time
        if type(time.tzinfo) is not timezone and time.utcoffset() is None:
            _require_aware("time", time)


@dataclass(slots=True, unsafe_hash=True)
class ContactRecord(_Event):
    """An offer recommended to the visitor (a contact)."""

    offer_code: str
    treatment_code: str
    interaction_point: str
    treatment_rule_id: str
    segment: str
    score: float


@dataclass(slots=True, unsafe_hash=True)
class ResponseRecord(_Event):
    """The visitor's response to a treatment: an acceptance (`accepted=True`) or a rejection."""

    offer_code: str
    treatment_code: str
    response_type: str
    accepted: bool


@dataclass(slots=True, unsafe_hash=True)
class DataRecord(_Event):
    """A row logged to the named data table `table` by a log_data action.

    Column values are None, str, int, float, bool, datetime or lists of those.
    """

    table: str
    columns: dict[str, Any]


@dataclass(slots=True, unsafe_hash=True)
class JourneyRecord(_Event):
    """A journey transition: `transition` is "start", "continue" or "stop"; `step` counts from 1."""

    journey: str
    transition: str
    step: int
    event_name: str


@dataclass(slots=True, unsafe_hash=True)
class SessionSummary(_Keys):
    """A session that ended: `end_reason` is "ended", "expired", "evicted" or "shutdown"."""

    channel: str
    audience_level: str
    anonymous: bool
    started_at: datetime
    ended_at: datetime
    end_reason: str
    event_count: int
    segments: list[str]
    attributes: dict[str, Any]

    def __post_init__(self) -> None:
        _require_aware("started_at", self.started_at)
        _require_aware("ended_at", self.ended_at)

    @property
    def time(self) -> datetime:
        """When the summary happened: the end of the session."""
        return self.ended_at


def _getstate(record) -> list:
    """A record's pickled state: its field values in order (as frozen dataclasses pickled them)."""
    return [getattr(record, name) for name in _FIELDS[type(record)]]


def _setstate(record, state: list) -> None:
    """Unpickle a record, also an event record spilled or journaled before records had a trace id (its positional
    state lacks that one field), so an upgrade replays what the previous version left unwritten."""
    names = _FIELDS[type(record)]
    if len(state) == len(names) - 1 and "trace_id" in names:
        at = names.index("trace_id")
        state = [*state[:at], "", *state[at:]]
    for name, value in zip(names, state):
        setattr(record, name, value)


_FIELDS: dict[type, list[str]] = {}
for _record in (ContactRecord, ResponseRecord, DataRecord, JourneyRecord, SessionSummary):
    _FIELDS[_record] = [described.name for described in fields(_record)]
    _record.__getstate__ = _getstate
    _record.__setstate__ = _setstate


Record = ContactRecord | ResponseRecord | DataRecord | JourneyRecord | SessionSummary
