"""Customer profiles in the history database, behind a bounded in-process cache and a batching writer.

A profile is read when a session is identified (cache first, then one primary-key lookup) and written by
deltas after the call that changed it commits: `save` queues the delta for the background writer
(`history.writer.HistoryWriter`, the one history uses), which merges the deltas of each customer into the
stored row in one transaction that holds the row (read, merge, write), so concurrent visits of one
customer, in this process or any other, are all counted. The deltas queued but not written yet are added to
every profile this process loads, so it always sees its own writes; another process's are seen when this
one next writes the customer, or within `cache_ttl`.

Erasure (`forget`) raises the customer's generation in a tombstone row. A delta carries the generation of
the memory it was taken from, and one of an older generation is dropped at write-back: a live session that
had loaded the erased memory never writes it back. Every process learns recent tombstones (`refresh`, from
the sweeper) and from its own writes, and `generation` tells a live session that it must drop what it
loaded. The store has its own connection, so a profile load never waits behind a history batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Protocol, Sequence

from segflow.server.history.backends import SQLiteBackend, _to_json
from segflow.server.history.database import Database, Transaction
from segflow.server.history.schema import (FORGET_PROFILE, FORGET_STATEMENTS, PURGE_PROFILES, PURGE_TOMBSTONES,
                                           RAISE_GENERATION, RECENT_TOMBSTONES, SELECT_GENERATION, SELECT_PROFILE,
                                           UPSERT_PROFILE, Kind)
from segflow.server.history.writer import HistoryWriter
from segflow.server.profiles.memory import CustomerMemory

log = logging.getLogger(__name__)

CACHE_SIZE = 10_000
CACHE_TTL = 60.0
# How long a tombstone is kept after an erasure: far longer than a visit lives (idle timeout 30 min).
TOMBSTONE_DAYS = 30

Key = tuple[str, str]


class Peers(Protocol):
    """The other processes sharing the database on this host, as far as cached profiles go."""

    def wrote(self, keys: Iterable[Key]) -> None:
        """This process has just committed the rows of these customers."""

    def changed_since(self, key: Key, moment: float) -> bool:
        """Whether another process wrote the customer's row at or after `moment` (`time.monotonic()`)."""


def customer_key(level: str, customer_id: str) -> str:
    """What a tombstone is keyed by: a digest, so the erased customer's id is not kept."""
    return hashlib.sha256(f"{level}\0{customer_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True, eq=False)
class ProfileDelta:
    """What one committed call changed of a customer's memory (JSON-ready values), and when; equal only to
    itself."""

    audience_level: str
    customer_id: str
    changes: CustomerMemory
    updated_at: datetime

    @property
    def key(self) -> Key:
        return self.audience_level, self.customer_id


# Values that JSON gives back as they are (and finite floats): a delta holding only these needs no round trip.
_AS_JSON_HOLDS = frozenset({str, int, bool, type(None)})


def profile_delta(delta: CustomerMemory, now: datetime) -> ProfileDelta:
    """A delta taken from a session's memory (nothing changes it any more) ready to write: its attribute
    values as JSON will hold them (timestamps as ISO text); counters and offers are plain data already."""
    attributes = delta.attributes
    if attributes and not all(type(value) in _AS_JSON_HOLDS or (type(value) is float and math.isfinite(value))
                              for value in attributes.values()):
        delta.attributes = json.loads(_to_json(attributes))
    return ProfileDelta(delta.audience_level, delta.customer_id, delta, now)


@dataclass(slots=True)
class StoredProfile:
    """A profile as read back: its memory (attribute values as JSON holds them), generation and time."""

    memory: CustomerMemory
    updated_at: datetime | None

    def copy(self) -> StoredProfile:
        return StoredProfile(self.memory.copy(), self.updated_at)

    def merge(self, delta: ProfileDelta) -> None:
        """Add a delta of the same generation; one of another generation was taken before an erasure."""
        if delta.changes.generation == self.memory.generation:
            self.memory.merge(delta.changes)
            self.updated_at = delta.updated_at if self.updated_at is None else max(self.updated_at, delta.updated_at)


class _ProfileSink:
    """The writer's sink: each batch merges the deltas of each customer into their stored row."""

    def __init__(self, store: ProfileStore) -> None:
        self._store = store

    def write_batch(self, records: Sequence[ProfileDelta]) -> None:
        self._store.write(records)

    def close(self) -> None:
        """The store closes the database after the writer."""


class ProfileStore:
    """Profiles by (audience level, customer id): load, save (after commit), forget, purge."""

    def __init__(self, database: Database, *, owns_database: bool, cache_size: int = CACHE_SIZE,
                 cache_ttl: float = CACHE_TTL, peers: Peers | None = None):
        """`peers`: the other processes of the host (`server.workers.profiles`), whose writes make a cached copy
        stale at once rather than after `cache_ttl`."""
        self.database = database
        self.peers = peers
        self._owns_database = owns_database
        backend = self.database.backend
        self._decode_json, self._decode_time = backend.decoders[Kind.JSON], backend.decoders[Kind.TIME]
        self._encode_json, self._encode_time = backend.encoders[Kind.JSON], backend.encoders[Kind.TIME]
        # key -> (profile as last read or written, monotonic expiry), least recently used first: cheaper to update
        # than a TTLCache, and one TTL for all makes the oldest entry the first to expire. Guarded by _lock, as
        # are the deltas queued and not written yet (by customer, in order; a load adds them to what it read)
        # and the known tombstones.
        self._cache: OrderedDict[Key, tuple[StoredProfile, float]] = OrderedDict()
        self._cache_size, self._cache_ttl = cache_size, cache_ttl
        self._unwritten: dict[Key, deque[ProfileDelta]] = {}
        self._generations: dict[str, int] = {}  # customer_key -> generation, of recent tombstones
        self._lock = threading.Lock()
        self.dropped = 0  # deltas of an erased memory that were not written
        self.writer = HistoryWriter(_ProfileSink(self))

    @classmethod
    def beside(cls, url: str, history: Database, peers: Peers | None = None) -> ProfileStore:
        """The store of a server whose history database is `history` (at `url`): its own connection to the same
        database, except for an in-memory SQLite database, which only the history's connection can see."""
        if isinstance(history.backend, SQLiteBackend) and history.backend.path == ":memory:":
            return cls(history, owns_database=False, peers=peers)
        return cls(Database.open(url), owns_database=True, peers=peers)

    @classmethod
    def in_memory(cls) -> ProfileStore:
        """A private store that lives as long as it is open (simulations)."""
        return cls(Database.open("sqlite://:memory:"), owns_database=True)

    # -- reading -------------------------------------------------------------------------------------
    def load(self, level: str, customer_id: str, fresh: bool = False) -> StoredProfile | None:
        """The profile of a customer with this process's unwritten deltas, or None when segflow knows
        nothing of them; each call returns a copy the caller may change. `fresh` reads the database even
        when the profile is cached (another process may have written or erased it)."""
        key = (level, customer_id)
        with self._lock:
            entry = self._cache.get(key)
            if not fresh and entry is not None and entry[1] > time.monotonic() and \
                    entry[0].memory.generation == self.generation(*key) and not (  # else erased since cached
                    self.peers and self.peers.changed_since(key, entry[1] - self._cache_ttl)):
                self._cache.move_to_end(key)
                return self._with_unwritten(key, entry[0].copy())
        read_at = time.monotonic()
        # The writer merges deltas inside a transaction on the same connection: what is read here and what is
        # still unwritten are one consistent view.
        with self.database.transaction() as tx:
            profile = self._read(tx, key)
            with self._lock:
                if profile.updated_at is not None:  # not cached: a profile another replica writes soon is seen
                    self._remember(key, profile, read_at)
                return self._with_unwritten(key, profile.copy())

    def _with_unwritten(self, key: Key, profile: StoredProfile) -> StoredProfile | None:
        """`profile` with the deltas of this process not written yet; None when nothing is known (the caller
        holds the lock)."""
        for delta in self._unwritten.get(key, ()):
            profile.merge(delta)
        return None if profile.updated_at is None else profile

    def _read(self, tx: Transaction, key: Key) -> StoredProfile:
        """The stored row of a customer (an empty profile of the current generation when there is none)."""
        found = tx.execute(SELECT_GENERATION, (customer_key(*key),)).fetchone()
        generation = 0 if found is None else int(found[0])
        if generation:
            self._generations[customer_key(*key)] = generation
        row = tx.execute(SELECT_PROFILE, key).fetchone()
        if row is None:
            return StoredProfile(CustomerMemory(*key, generation=generation), None)
        attributes, document = _json(row[0]), _json(row[1])
        return StoredProfile(CustomerMemory.stored(*key, attributes, document, generation), self._decode_time(row[2]))

    def generation(self, level: str, customer_id: str) -> int:
        """The customer's generation as this process knows it (0: never erased, as far as it knows)."""
        if not self._generations:
            return 0
        return self._generations.get(customer_key(level, customer_id), 0)

    # -- writing -------------------------------------------------------------------------------------
    def save(self, delta: ProfileDelta) -> None:
        """Queue a delta for writing; later loads in this process see it at once (they add the unwritten ones)."""
        with self._lock:
            self._unwritten.setdefault(delta.key, deque()).append(delta)
        try:
            self.writer.submit(delta)
        except BaseException:
            self._settle([delta])
            raise

    def write(self, deltas: Sequence[ProfileDelta]) -> None:
        """Merge `deltas` into the stored rows (the writer's batch): one transaction, each customer's row held
        (in key order, so two writers never wait on each other in a circle) from read to write."""
        by_key: dict[Key, list[ProfileDelta]] = {}
        for delta in deltas:
            by_key.setdefault(delta.key, []).append(delta)
        merged: dict[Key, StoredProfile] = {}
        with self.database.transaction() as tx:
            for key in sorted(by_key):
                self._hold(tx, key)
                profile = merged[key] = self._read(tx, key)
                for delta in by_key[key]:
                    if delta.changes.generation != profile.memory.generation:
                        self.dropped += 1
                        log.info("a change of an erased customer's memory was not written (generation %d, now %d)",
                                 delta.changes.generation, profile.memory.generation)
                    profile.merge(delta)
                memory = profile.memory
                if profile.updated_at is not None:
                    tx.execute(UPSERT_PROFILE, (*key, self._encode_json(memory.attributes),
                                                self._encode_json(memory.document()),
                                                self._encode_time(profile.updated_at)))
            # Settled within the transaction, so a load (which reads on this connection) never counts a delta
            # both in the row and as unwritten; a failed commit leaves them out of reads until the retry.
            self._settle(deltas, merged)
        if self.peers is not None:  # after the commit: a copy another process reads before it is stale
            self.peers.wrote(by_key)

    def _hold(self, tx: Transaction, key: Key) -> None:
        """Hold a customer's row for the rest of the transaction, among all processes (SQLite's write lock
        already does; PostgreSQL: an advisory lock, since the row may not exist yet). Writes and erasures of
        one customer take turns, so an erasure never interleaves with a read-merge-write."""
        for statement, params in self.database.backend.exclusive(f"profile.{customer_key(*key)}"):
            tx.execute(statement, params)

    def _settle(self, deltas: Sequence[ProfileDelta], merged: dict[Key, StoredProfile] | None = None) -> None:
        """`deltas` are written (or given up): no longer added to reads. The rows just written are the freshest
        view of those customers, so they replace the cached ones."""
        with self._lock:
            for delta in deltas:
                queued = self._unwritten.get(delta.key)
                if queued and queued[0] is delta:  # the writer takes them in the order they were saved
                    queued.popleft()
                elif queued is not None and delta in queued:
                    queued.remove(delta)
                if queued is not None and not queued:
                    del self._unwritten[delta.key]
            for key, profile in (merged or {}).items():
                if profile.updated_at is None:  # nothing stored (an erased customer's dropped deltas)
                    self._cache.pop(key, None)
                else:
                    self._remember(key, profile)

    def _remember(self, key: Key, profile: StoredProfile, read_at: float | None = None) -> None:
        """Cache a profile read at `read_at` (`time.monotonic()`, default now); the caller holds the lock."""
        self._cache[key] = (profile, (time.monotonic() if read_at is None else read_at) + self._cache_ttl)
        self._cache.move_to_end(key)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # -- erasure and retention -------------------------------------------------------------------------
    def forget(self, level: str, customer_id: str, now: datetime) -> tuple[int, int]:
        """Erase a customer's profile and history rows and raise their generation; returns (profiles deleted,
        history rows deleted). Profiles still queued are written first, then erased with the rest."""
        self.writer.flush(timeout=10.0)
        key = (level, customer_id)
        with self.database.transaction() as tx:
            self._hold(tx, key)
            history = 0
            for statement in FORGET_STATEMENTS:
                history += tx.execute(statement, (customer_id,) * statement.count("?")).rowcount
            profiles = tx.execute(FORGET_PROFILE, key).rowcount
            tx.execute(RAISE_GENERATION, (customer_key(*key), self._encode_time(now)))
            generation = int(tx.execute(SELECT_GENERATION, (customer_key(*key),)).fetchone()[0])
            with self._lock:
                self._generations[customer_key(*key)] = generation
                self._cache.pop(key, None)
                self._unwritten.pop(key, None)
        log.info("forgot customer %s (%s): %d profile(s), %d history row(s)", customer_id, level, profiles, history)
        return profiles, history

    def refresh(self, now: datetime) -> None:
        """Learn the tombstones other processes wrote recently (the sweeper calls this every few seconds)."""
        since = self._encode_time(now - timedelta(days=TOMBSTONE_DAYS))
        with self.database.transaction() as tx:  # replaced within it: an erasure here commits before or after
            found = {key: int(generation) for key, generation in tx.execute(RECENT_TOMBSTONES, (since,)).fetchall()}
            with self._lock:
                self._generations = found

    def purge(self, older_than: datetime | None, now: datetime) -> int:
        """Delete profiles not changed since `older_than` (None: keep them), and tombstones past
        TOMBSTONE_DAYS; returns how many profiles."""
        with self.database.transaction() as tx:
            tx.execute(PURGE_TOMBSTONES, (self._encode_time(now - timedelta(days=TOMBSTONE_DAYS)),))
            if older_than is None:
                return 0
            purged = tx.execute(PURGE_PROFILES, (self._encode_time(older_than),)).rowcount
        with self._lock:
            self._cache.clear()
        if purged:
            log.info("purged %d profile(s) unused since %s", purged, older_than.isoformat())
        return purged

    def close(self) -> None:
        """Write every queued profile, then close the store's connection."""
        self.writer.close()
        if self._owns_database:
            self.database.close()


def _json(value: Any) -> Any:
    """A JSON column's value: SQLite returns the text, PostgreSQL's JSONB comes back parsed."""
    return json.loads(value) if isinstance(value, str) else value
