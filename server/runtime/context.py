"""What expressions see of a session: its event statistics, segments, the clock, the event and callouts, and
the customer's memory across visits (windowed counters, patterns, audience ids)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from segflow.rules.context import EvalContext
from segflow.rules.ruleset import CompiledRuleset

from segflow.server.callouts import CalloutRegistry, Outcome
from segflow.server.profiles.memory import day_of, span
from segflow.server.profiles.patterns import pattern_met
from segflow.server.runtime.trace import Tracer
from segflow.server.sessions.state import SessionState

# Callout outcomes that used the callout's default value instead of a real one.
DEGRADED = frozenset({Outcome.TIMEOUT, Outcome.ERROR, Outcome.BREAKER_OPEN, Outcome.REJECTED})


class SessionContext(EvalContext):
    """The evaluation context of one call on one session; the current event is set while it is processed."""

    def __init__(self, session: SessionState, now: datetime, callouts: CalloutRegistry | None = None,
                 deadline: float | None = None, advise: Callable[[str, str], None] = lambda code, message: None,
                 tracer: Tracer | None = None, compiled: CompiledRuleset | None = None):
        self.session = session
        self.compiled = compiled
        self._now = now
        self.today = day_of(now)
        self._callouts = callouts
        self.deadline = deadline
        self._advise = advise
        self._tracer = tracer

    def on_event(self, name: str, params: Mapping[str, Any], sequence: int) -> None:
        self.event_name = name
        self.event_params = params
        self.event_sequence = sequence

    def event_count(self, name: str) -> int:
        stat = self.session.event_stats.get(name)
        return stat.count if stat else 0

    def event_first_time(self, name: str) -> datetime | None:
        stat = self.session.event_stats.get(name)
        return stat.first_time if stat else None

    def event_last_time(self, name: str) -> datetime | None:
        stat = self.session.event_stats.get(name)
        return stat.last_time if stat else None

    def event_last_data(self, name: str, param: str) -> Any:
        stat = self.session.event_stats.get(name)
        return stat.last_data.get(param) if stat else None

    def in_segment(self, name: str) -> bool:
        return name in self.session.segments

    # -- the customer's memory: rolling windows ending now, read from the finest tier that reaches back -----
    def event_count_within(self, name: str, seconds: int) -> int:
        memory = self.session.memory
        return 0 if memory is None else memory.event_count(name, *span(seconds, self._now))

    def event_first_time_within(self, name: str, seconds: int) -> datetime | None:
        memory = self.session.memory
        return None if memory is None else memory.event_time(name, *span(seconds, self._now), latest=False)

    def event_last_time_within(self, name: str, seconds: int) -> datetime | None:
        memory = self.session.memory
        return None if memory is None else memory.event_time(name, *span(seconds, self._now), latest=True)

    def event_sum_within(self, name: str, param: str, seconds: int) -> Any:
        memory = self.session.memory
        return None if memory is None else memory.event_sum(name, param, *span(seconds, self._now))

    def pattern_met(self, name: str) -> bool:
        memory = self.session.memory
        pattern = self.compiled.patterns.get(name) if self.compiled is not None else None
        return memory is not None and pattern is not None and pattern_met(pattern, memory, self._now)

    def audience_id(self, field: str) -> Any:
        return self.session.audience_ids.get(field)

    @property
    def audience_level(self) -> str:
        return self.session.audience_level

    def now(self) -> datetime:
        return self._now

    def callout(self, name: str, args: tuple) -> Any:
        """EXTERNALCALLOUT: bounded by the callout's timeout and the caller's deadline; a default on failure."""
        if self._callouts is None:
            return None
        value, outcome = self._callouts.call_with_outcome(
            name, args, audience=self.session, session_id=self.session.session_id, deadline=self.deadline)
        if outcome in DEGRADED:
            self._advise(f"callout_{outcome}", f"EXTERNALCALLOUT({name!r}) used its default value: {outcome}")
        if self._tracer is not None:
            self._tracer.callout(name, args, value, outcome)
        return value
