"""Each customer's journeys in Redis, so that every replica advances the same journeys for that customer.

An identified customer's journeys live in a hash `<prefix>journeys:<customer id>`, one field per journey,
written with MULTI/EXEC; `StoredJourneyBook` (`server.sessions.journeys`) holds the contract. A
customer has this one key, so its writes stay in one slot of a Redis Cluster.
"""

from __future__ import annotations

import redis

from segflow.server.sessions.journeys import StoredJourneyBook
from segflow.server.sessions.redis_store import text


class RedisJourneyBook(StoredJourneyBook):
    """Journeys per customer shared by every replica that uses the same Redis database and prefix."""

    def __init__(self, client: redis.Redis, *, prefix: str = "segflow:"):
        super().__init__()
        self.client = client
        self.prefix = prefix

    def _key(self, customer: str) -> str:
        return f"{self.prefix}journeys:{customer}"

    def _read(self, customer: str) -> dict[str, str]:
        """The customer's journeys as stored: name -> encoded step."""
        return {text(name): text(value) for name, value in self.client.hgetall(self._key(customer)).items()}

    def _store(self, customer: str, changed: dict[str, str], removed: set[str]) -> None:
        """Write the changed journeys and delete the removed ones, all at once."""
        key = self._key(customer)
        with self.client.pipeline() as pipe:  # MULTI/EXEC: other replicas see all of this call's changes or none
            if changed:
                pipe.hset(key, mapping=changed)
            if removed:
                pipe.hdel(key, *removed)
            pipe.execute()
