"""What expressions see of a session: its event statistics, segments, the clock, the event and callouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from rules.context import EvalContext

from server.sessions.state import SessionState

# Calls a callout: (name, args, session) -> value. The default knows no callouts: NULL.
CalloutHook = Callable[[str, tuple, SessionState], Any]


def _no_callouts(name: str, args: tuple, session: SessionState) -> Any:
    return None


class SessionContext(EvalContext):
    """The evaluation context of one call on one session; the current event is set while it is processed."""

    def __init__(self, session: SessionState, now: datetime, callouts: CalloutHook = _no_callouts):
        self.session = session
        self._now = now
        self._callouts = callouts

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

    def now(self) -> datetime:
        return self._now

    def callout(self, name: str, args: tuple) -> Any:
        return self._callouts(name, args, self.session)
