"""Journey state that outlives a session: kept per customer, or in the session itself while it is anonymous."""

from __future__ import annotations

import threading

from segflow.server.sessions.state import JourneyStep, SessionState


class JourneyBook:
    """Each identified customer's journeys, shared by all their sessions (in this process)."""

    def __init__(self):
        self._by_customer: dict[str, dict[str, JourneyStep]] = {}
        self._lock = threading.Lock()
        # session id -> the customer's journeys a call on it changes, and a copy from before, to undo a failed call
        self._open: dict[str, tuple[dict[str, JourneyStep], dict[str, JourneyStep]]] = {}

    def journeys_of(self, session: SessionState) -> dict[str, JourneyStep]:
        """The journeys a session advances: the customer's once identified, else the session's own."""
        customer = session.customer_id
        if not customer:
            return session.journeys
        with self._lock:
            journeys = self._by_customer.setdefault(customer, {})
            opened = self._open.get(session.session_id)
            if opened is None or opened[0] is not journeys:
                self._open[session.session_id] = (journeys, {name: step.copy() for name, step in journeys.items()})
            if session.journeys:  # the session was just de-anonymized: its journeys become the customer's
                for name, step in session.journeys.items():
                    journeys.setdefault(name, step)
                session.journeys = {}
            return journeys

    def save(self, session_id: str) -> None:
        """Keep what the call changed: the dicts `journeys_of` returns are the book itself (the Redis book writes
        here)."""
        self._open.pop(session_id, None)

    def discard(self, session_id: str) -> None:
        """Undo what a failed call on this session changed in its customer's journeys."""
        opened = self._open.pop(session_id, None)
        if opened is not None:
            journeys, before = opened
            with self._lock:
                journeys.clear()
                journeys.update(before)
