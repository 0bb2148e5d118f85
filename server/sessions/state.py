"""The state of one visit: audience, attributes, segments, event statistics, offers and journeys.

Plain Python values throughout (None, str, int, float, bool, aware datetime, list), so expressions read them
directly; protobuf appears only at the edges, in `server.convert`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from segflow.server.profiles.memory import CustomerMemory


@dataclass(slots=True)
class EventStat:
    """Per-event statistics: what EVENT_COUNT/EVENT_FIRST_TIME/EVENT_LAST_TIME/EVENT_LAST_DATA read."""

    count: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    last_data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class IssuedOffer:
    """An offer recommended under a treatment code; later responses are logged against it."""

    offer_code: str
    treatment_code: str
    action_id: str
    interaction_point: str
    treatment_rule_id: str
    segment: str
    score: float
    name: str = ""


@dataclass(slots=True)
class JourneyStep:
    """Where a visitor is in one journey."""

    active: bool
    step: int
    last_event: str
    started_at: datetime
    updated_at: datetime

    def copy(self) -> "JourneyStep":
        return JourneyStep(self.active, self.step, self.last_event, self.started_at, self.updated_at)


def customer_id_of(ids: dict[str, Any]) -> str:
    """The canonical customer id of audience id fields: `field=value;...` in field order, "" for none."""
    if len(ids) == 1:  # most audience levels have one id field: no sort, no join
        (name, value), = ids.items()
        return "" if value is None else f"{name}={value}"
    return ";".join(f"{k}={ids[k]}" for k in sorted(ids) if ids[k] is not None)


@dataclass(slots=True)
class SessionState:
    session_id: str
    channel: str
    audience_level: str
    started_at: datetime
    last_activity_at: datetime
    audience_ids: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    segments: frozenset[str] = frozenset()
    event_stats: dict[str, EventStat] = field(default_factory=dict)
    event_sequence: int = 0
    # event id -> the serialized PostEventResponse it got the first time (bounded: server.runtime.idempotency)
    processed_events: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    last_recommended: list[IssuedOffer] = field(default_factory=list)
    issued: dict[str, IssuedOffer] = field(default_factory=dict)  # by treatment code
    presentations: dict[str, int] = field(default_factory=dict)  # offer code -> contacts logged
    rejected: set[str] = field(default_factory=set)
    suppressed: set[str] = field(default_factory=set)
    journeys: dict[str, JourneyStep] = field(default_factory=dict)
    ruleset_version: int = 0
    # The customer's memory across visits (profile attributes' last values, counters, patterns, offers);
    # None when the ruleset remembers nothing.
    memory: CustomerMemory | None = None

    @property
    def customer_id(self) -> str:
        """Canonical id from the audience id fields (`field=value;...`), empty while anonymous."""
        ids = self.audience_ids
        return customer_id_of(ids) if ids else ""

    @property
    def anonymous(self) -> bool:
        return not self.customer_id

    def checkpoint(self) -> Checkpoint:
        """What puts the session back as it was when a call fails (`rolled_back`), let go once the call committed
        (`committed`). It shares no container a call changes in place (values are never changed in place) except
        `processed_events`, which a call adds to last, and the memory, which records what the call changes
        instead (`CustomerMemory.record`): a copy of it costs as much as the customer's history is long."""
        memory = self.memory
        if memory is not None:
            memory.record()
        return Checkpoint((
            self.session_id, self.channel, self.audience_level, self.started_at, self.last_activity_at,
            self.audience_ids.copy(), self.attributes.copy(), self.segments,  # .copy(): cheaper than dict()
            {name: (s.count, s.first_time, s.last_time, s.last_data) for name, s in self.event_stats.items()},
            self.event_sequence, self.processed_events, self.last_recommended.copy(), self.issued.copy(),
            self.presentations.copy(), self.rejected.copy(), self.suppressed.copy(),
            {name: (j.active, j.step, j.last_event, j.started_at, j.updated_at) for name, j in self.journeys.items()},
            self.ruleset_version, memory))


class Checkpoint(tuple):
    """A session's fields in SessionState's order as a call found them, with copies of the containers a call
    changes in place, and of event statistics and journey steps their fields' values (in field order): a tuple,
    cheaper to build on every call (`SessionState.checkpoint`) than a session, which is built again only for a
    call that failed."""

    __slots__ = ()

    def rolled_back(self) -> SessionState:
        """The session to keep after the call failed: what the call changed in its memory undone."""
        values = list(self)
        memory = values[-1]
        if memory is not None:
            memory.undo()
        values[_STATS] = {name: EventStat(*stat) for name, stat in values[_STATS].items()}
        values[_JOURNEYS] = {name: JourneyStep(*step) for name, step in values[_JOURNEYS].items()}
        return SessionState(*values)

    def committed(self) -> None:
        """The call this checkpoint was taken for committed: its memory keeps what it changed."""
        memory = self[-1]
        if memory is not None:
            memory.settle()


_STATS, _JOURNEYS = (next(i for i, f in enumerate(fields(SessionState)) if f.name == name)
                     for name in ("event_stats", "journeys"))
