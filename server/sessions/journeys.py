"""Journey state that outlives a session: kept per customer, or in the session itself while it is anonymous."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from segflow.server.sessions.codec import decode_step, encode_step
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

    def forget(self, customer: str) -> None:
        """Erase the customer's journeys (ForgetCustomer); a call that holds them now changes a detached copy."""
        with self._lock:
            self._by_customer.pop(customer, None)

    def discard(self, session_id: str) -> None:
        """Undo what a failed call on this session changed in its customer's journeys."""
        opened = self._open.pop(session_id, None)
        if opened is not None:
            journeys, before = opened
            with self._lock:
                journeys.clear()
                journeys.update(before)


@dataclass(slots=True)
class _Loaded:
    """A customer's journeys as one call loaded them, and their encoding then, to find what it changed."""

    session: SessionState
    customer: str
    journeys: dict[str, JourneyStep]
    stored: dict[str, str]


class StoredJourneyBook:
    """Journeys per customer in a store shared by several processes (Redis, the host's LMDB file).

    Same contract as `JourneyBook.journeys_of`: an anonymous session's journeys are its own (stored with the
    session); an identified customer's are loaded from the store (`_read`). The runtime changes the returned dict
    and its steps in place, so the book keeps what it loaded for the call and the engine calls `save(session_id)`
    before it releases the session's lock: only the journeys that changed are written (`_store`; in Redis with the
    commit of the session), so two sessions of one customer in two processes advancing different journeys both
    keep their change; on the same journey the later save wins. Journeys are kept until deleted, as in the
    memory book (in Redis, for a retention).
    """

    def __init__(self):
        # session id -> what a call on it loaded; one call at a time per session, under the session's lock.
        self._open: dict[str, _Loaded] = {}

    def journeys_of(self, session: SessionState) -> dict[str, JourneyStep]:
        """The journeys a session advances: the customer's once identified, else the session's own."""
        customer = session.customer_id
        if not customer:
            return session.journeys
        loaded = self._open.get(session.session_id)
        if loaded is None or loaded.session is not session or loaded.customer != customer:
            if loaded is not None and loaded.session is session:  # the customer changed within the call
                self._write(loaded)  # (what a call that neither saved nor discarded left is dropped)
            loaded = self._open[session.session_id] = self._load(session, customer)
        if session.journeys:  # the session was just de-anonymized: its journeys become the customer's
            for name, step in session.journeys.items():
                loaded.journeys.setdefault(name, step)
            session.journeys = {}
        return loaded.journeys

    def save(self, session_id: str) -> None:
        """Write what the call on this session changed in its customer's journeys (nothing if it changed none)."""
        loaded = self._open.pop(session_id, None)
        if loaded is not None:
            self._write(loaded)

    def discard(self, session_id: str) -> None:
        """Forget what a failed call on this session changed: nothing is written."""
        self._open.pop(session_id, None)

    def _load(self, session: SessionState, customer: str) -> _Loaded:
        stored = self._read(customer)
        journeys = {name: decode_step(json.loads(value)) for name, value in stored.items()}
        return _Loaded(session, customer, journeys, stored)

    def _write(self, loaded: _Loaded) -> None:
        current = {name: json.dumps(encode_step(step), separators=(",", ":"))
                   for name, step in loaded.journeys.items()}
        changed = {name: value for name, value in current.items() if loaded.stored.get(name) != value}
        removed = loaded.stored.keys() - current.keys()
        if changed or removed:
            self._store(loaded.session.session_id, loaded.customer, changed, removed)

    def forget(self, customer: str) -> None:
        """Erase the customer's journeys (ForgetCustomer). A call in flight on one of their sessions may still
        write the journeys it changed, as a new visit would."""
        raise NotImplementedError

    def _read(self, customer: str) -> dict[str, str]:
        """The customer's journeys as stored: name -> encoded step."""
        raise NotImplementedError

    def _store(self, session_id: str, customer: str, changed: dict[str, str], removed: set[str]) -> None:
        """Write the changed journeys and delete the removed ones, all at once, for the call on `session_id`."""
        raise NotImplementedError
