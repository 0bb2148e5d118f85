"""Each customer's journeys in Redis, so that every replica advances the same journeys for that customer.

An identified customer's journeys live in a hash `<prefix>journeys:<customer id>`, one field per journey, read
when a call first needs them, and written by the script that commits the call's session (on a Redis Cluster,
once that commit succeeded: the customer's hash is in its own slot), so a call that fails, loses its session lock
or is run again after a conflict changes no journey; `StoredJourneyBook` (`server.sessions.journeys`) holds the
contract. A customer's hash expires `retention` after its journeys last changed (none: kept until deleted).
"""

from __future__ import annotations

from datetime import timedelta

from segflow.server.sessions.journeys import StoredJourneyBook
from segflow.server.sessions.redis_store import RedisSessionStore, text


class RedisJourneyBook(StoredJourneyBook):
    """Journeys per customer shared by every replica that uses the same Redis database and prefix as `store`."""

    def __init__(self, store: RedisSessionStore, *, retention: timedelta | None = None):
        super().__init__()
        self.store = store
        self.client = store.client
        self.prefix = store.prefix
        self.retention_ms = int(retention.total_seconds() * 1000) if retention else 0

    def key(self, customer: str) -> str:
        return f"{self.prefix}journeys:{customer}"

    def forget(self, customer: str) -> None:
        self.client.delete(self.key(customer))

    def _read(self, customer: str) -> dict[str, str]:
        """The customer's journeys as stored: name -> encoded step."""
        return {text(name): text(value) for name, value in self.client.hgetall(self.key(customer)).items()}

    def _store(self, session_id: str, customer: str, changed: dict[str, str], removed: set[str]) -> None:
        """Hand the changed and removed journeys to the commit of the call on `session_id`."""
        self.store.commit_journeys(session_id, (self.key(customer), self.retention_ms, changed, removed))
