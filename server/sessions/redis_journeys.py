"""Each customer's journeys in Redis, so that every replica advances the same journeys for that customer.

Same contract as `JourneyBook.journeys_of`: an anonymous session's journeys are its own (stored with the
session); an identified customer's live in a hash `<prefix>journeys:<customer id>`, one field per journey.
The runtime changes the returned dict and its steps in place, so the book keeps what it loaded for the call
and the engine calls `save(session_id)` before it releases the session's lock: only the journeys that changed
are written, so two sessions of one customer on two replicas advancing different journeys both keep their
change; on the same journey the later save wins. Journeys are kept until deleted, as in the memory book.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from segflow.server.sessions.codec import decode_step, encode_step
from segflow.server.sessions.redis_store import text
from segflow.server.sessions.state import JourneyStep, SessionState


@dataclass(slots=True)
class _Loaded:
    """A customer's journeys as one call loaded them, and their encoding then, to find what it changed."""

    session: SessionState
    customer: str
    journeys: dict[str, JourneyStep]
    stored: dict[str, str]


class RedisJourneyBook:
    """Journeys per customer shared by every replica that uses the same Redis database and prefix."""

    def __init__(self, client: redis.Redis, *, prefix: str = "segflow:"):
        self.client = client
        self.prefix = prefix
        # session id -> what a call on it loaded; one call at a time per session, under the session's lock.
        self._open: dict[str, _Loaded] = {}

    def journeys_of(self, session: SessionState) -> dict[str, JourneyStep]:
        """The journeys a session advances: the customer's once identified, else the session's own."""
        customer = session.customer_id
        if not customer:
            return session.journeys
        loaded = self._open.get(session.session_id)
        if loaded is None or loaded.session is not session or loaded.customer != customer:
            if loaded is not None:  # a customer change within the call, or a call that did not save
                self._write(loaded)
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

    def _key(self, customer: str) -> str:
        return f"{self.prefix}journeys:{customer}"

    def _load(self, session: SessionState, customer: str) -> _Loaded:
        stored = {text(name): text(value) for name, value in self.client.hgetall(self._key(customer)).items()}
        journeys = {name: decode_step(json.loads(value)) for name, value in stored.items()}
        return _Loaded(session, customer, journeys, stored)

    def _write(self, loaded: _Loaded) -> None:
        current = {name: json.dumps(encode_step(step), separators=(",", ":"))
                   for name, step in loaded.journeys.items()}
        changed = {name: value for name, value in current.items() if loaded.stored.get(name) != value}
        removed = loaded.stored.keys() - current.keys()
        if not changed and not removed:
            return
        key = self._key(loaded.customer)
        with self.client.pipeline() as pipe:  # MULTI/EXEC: other replicas see all of this call's changes or none
            if changed:
                pipe.hset(key, mapping=changed)
            if removed:
                pipe.hdel(key, *removed)
            pipe.execute()
