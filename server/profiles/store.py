"""Customer profiles in the history database, behind a bounded in-process cache and a batching writer.

A profile is read when a session is identified (cache first, then one primary-key lookup) and written after
the call that changed it commits: `save` updates the cache and queues the row for the background writer
(`history.writer.HistoryWriter`, the one history uses), which replaces each customer's row once per batch
with its latest state; `close` writes everything queued. The store has its own connection, so a profile
load never waits behind a history batch. With several replicas the cache is bounded in time too
(`cache_ttl`): another replica's write is seen within that time, and the last write of a customer wins.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence


from segflow.server.history.backends import SQLiteBackend, _to_json
from segflow.server.history.database import Database
from segflow.server.history.schema import (FORGET_PROFILE, FORGET_STATEMENTS, PURGE_PROFILES, SELECT_PROFILE,
                                           UPSERT_PROFILE, Kind)
from segflow.server.history.writer import HistoryWriter

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
CACHE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """One customer's profile as of `updated_at`: attributes and memory already as JSON text (a snapshot)."""

    audience_level: str
    customer_id: str
    attributes: str
    memory: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A profile as read back: attribute values (timestamps still ISO text), the memory document, its time."""

    attributes: dict[str, Any]
    memory: dict[str, Any]
    updated_at: datetime | None


def profile_record(level: str, customer_id: str, attributes: dict[str, Any], memory: dict[str, Any],
                   now: datetime) -> ProfileRecord:
    """Snapshot a profile for writing (the live dicts go on changing after this)."""
    return ProfileRecord(level, customer_id, _to_json(attributes), _to_json(memory), now)


class _ProfileSink:
    """The writer's sink: each batch replaces the rows of the customers in it, the latest state of each."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._time = database.backend.encoders[Kind.TIME]

    def write_batch(self, records: Sequence[ProfileRecord]) -> None:
        latest = {(r.audience_level, r.customer_id): r for r in records}
        rows = [(r.audience_level, r.customer_id, r.attributes, r.memory, self._time(r.updated_at))
                for r in latest.values()]
        with self._database.transaction() as tx:
            tx.executemany(UPSERT_PROFILE, rows)

    def close(self) -> None:
        """The store closes the database after the writer."""


class ProfileStore:
    """Profiles by (audience level, customer id): load, save (after commit), forget, purge."""

    def __init__(self, database: Database, *, owns_database: bool, cache_size: int = CACHE_SIZE,
                 cache_ttl: float = CACHE_TTL):
        self.database = database
        self._owns_database = owns_database
        self._decode_json = self.database.backend.decoders[Kind.JSON]
        self._decode_time = self.database.backend.decoders[Kind.TIME]
        self._encode_time = self.database.backend.encoders[Kind.TIME]
        # key -> (row, monotonic expiry), least recently used first: cheaper to update on every save than a
        # TTLCache, and one TTL for all makes the oldest entry the first to expire.
        self._cache: OrderedDict[tuple[str, str], tuple[tuple, float]] = OrderedDict()
        self._cache_size, self._cache_ttl = cache_size, cache_ttl
        self._cache_lock = threading.Lock()
        self.writer = HistoryWriter(_ProfileSink(self.database))

    @classmethod
    def beside(cls, url: str, history: Database) -> ProfileStore:
        """The store of a server whose history database is `history` (at `url`): its own connection to the same
        database, except for an in-memory SQLite database, which only the history's connection can see."""
        if isinstance(history.backend, SQLiteBackend) and history.backend.path == ":memory:":
            return cls(history, owns_database=False)
        return cls(Database.open(url), owns_database=True)

    @classmethod
    def in_memory(cls) -> ProfileStore:
        """A private store that lives as long as it is open (simulations)."""
        return cls(Database.open("sqlite://:memory:"), owns_database=True)

    def load(self, level: str, customer_id: str) -> StoredProfile | None:
        """The stored profile of a customer, or None; each call returns fresh dicts the caller may change."""
        key = (level, customer_id)
        with self._cache_lock:
            entry = self._cache.get(key)
            row = None
            if entry is not None and entry[1] > time.monotonic():
                row = entry[0]
                self._cache.move_to_end(key)
        if row is None:
            with self.database.transaction() as tx:
                found = tx.execute(SELECT_PROFILE, key).fetchone()
            if found is None:  # not cached: a profile another replica writes soon is seen at once
                return None
            row = (_text(found[0]), _text(found[1]), self._decode_time(found[2]))
            self._remember(key, row)
        attributes, memory, updated_at = row
        return StoredProfile(json.loads(attributes), json.loads(memory), updated_at)

    def save(self, record: ProfileRecord) -> None:
        """Queue a profile for writing; later loads in this process see it at once."""
        self._remember((record.audience_level, record.customer_id), (record.attributes, record.memory, record.updated_at))
        self.writer.submit(record)

    def _remember(self, key: tuple[str, str], row: tuple) -> None:
        with self._cache_lock:
            self._cache[key] = (row, time.monotonic() + self._cache_ttl)
            self._cache.move_to_end(key)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def forget(self, level: str, customer_id: str) -> tuple[int, int]:
        """Erase a customer's profile and history rows; returns (profiles deleted, history rows deleted).

        Profiles still queued are written first, so none comes back after the erasure."""
        self.writer.flush(timeout=10.0)
        with self._cache_lock:
            self._cache.pop((level, customer_id), None)
        with self.database.transaction() as tx:
            history = 0
            for statement in FORGET_STATEMENTS:
                history += tx.execute(statement, (customer_id,) * statement.count("?")).rowcount
            profiles = tx.execute(FORGET_PROFILE, (level, customer_id)).rowcount
        log.info("forgot customer %s (%s): %d profile(s), %d history row(s)", customer_id, level, profiles, history)
        return profiles, history

    def purge(self, older_than: datetime) -> int:
        """Delete profiles not changed since `older_than`; returns how many."""
        with self.database.transaction() as tx:
            purged = tx.execute(PURGE_PROFILES, (self._encode_time(older_than),)).rowcount
        with self._cache_lock:
            self._cache.clear()
        if purged:
            log.info("purged %d profile(s) unused since %s", purged, older_than.isoformat())
        return purged

    def close(self) -> None:
        """Write every queued profile, then close the store's connection."""
        self.writer.close()
        if self._owns_database:
            self.database.close()


def _text(value: Any) -> str:
    """A JSON column as text: SQLite returns the text, PostgreSQL's JSONB comes back parsed."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
