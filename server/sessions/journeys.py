"""Journey state that outlives a session: kept per customer, or in the session itself while it is anonymous."""

from __future__ import annotations

import threading

from segflow.server.sessions.state import JourneyStep, SessionState


class JourneyBook:
    """Each identified customer's journeys, shared by all their sessions (in this process)."""

    def __init__(self):
        self._by_customer: dict[str, dict[str, JourneyStep]] = {}
        self._lock = threading.Lock()

    def journeys_of(self, session: SessionState) -> dict[str, JourneyStep]:
        """The journeys a session advances: the customer's once identified, else the session's own."""
        customer = session.customer_id
        if not customer:
            return session.journeys
        with self._lock:
            journeys = self._by_customer.setdefault(customer, {})
            if session.journeys:  # the session was just de-anonymized: its journeys become the customer's
                for name, step in session.journeys.items():
                    journeys.setdefault(name, step)
                session.journeys = {}
            return journeys

    def save(self, session_id: str) -> None:
        """Nothing to write: the dicts `journeys_of` returns are the book itself. (The Redis book writes here.)"""
