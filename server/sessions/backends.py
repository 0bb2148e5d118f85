"""Opens the session store a URL names, so the service picks memory or Redis from its configuration alone.

`memory`: this process only (the embedded default). `redis://host:port/db` (or `rediss://`, `unix://`):
shared by every replica using the same database; `redis+cluster://host:port` (or `cluster=1` in the query): a
Redis Cluster, found from any of its nodes. An optional `prefix=` query parameter (default `segflow:`) lets
several deployments share one database; `lock_timeout=` (seconds a session lock held by a replica that died
stays taken, default 30) and `wait_timeout=` (seconds a call waits for a busy session, default 5) tune the
locks. Redis is an optional dependency, imported only when asked for.
`lmdb:///directory`: shared by every process of the host that opens the directory (`segflow serve
--processes N` gives its workers one for the time it runs).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.lmdb_journeys import LmdbJourneyBook
from segflow.server.sessions.lmdb_store import LmdbSessionStore
from segflow.server.sessions.store import MemorySessionStore, SessionStore

REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster")


def open_store(url: str, **kwargs) -> SessionStore:
    """The store for `url`, built with the store's keyword arguments (idle_timeout, max_sessions, clock,
    on_close; for Redis also lock_timeout, wait_timeout, ttl_margin). Raises ValueError for an unknown URL."""
    if url == "memory":
        return MemorySessionStore(**kwargs)
    parts = urlsplit(url)
    if parts.scheme == "lmdb":
        return LmdbSessionStore(parts.path, **kwargs)
    if parts.scheme not in REDIS_SCHEMES:
        raise ValueError(f"unknown session store {url!r}: use memory, lmdb:///directory or redis://host:port/db")
    from segflow.server.sessions.redis_store import RedisSessionStore

    query = parse_qsl(parts.query)
    prefixes = [value for name, value in query if name == "prefix"]
    cluster = parts.scheme == "redis+cluster" or ("cluster", "1") in query
    timeouts = {name: _seconds(name, value) for name, value in query if name in _TIMEOUTS}
    rest = urlencode([(name, value) for name, value in query if name not in ("prefix", "cluster", *_TIMEOUTS)])
    scheme = "redis+cluster" if cluster else parts.scheme
    return RedisSessionStore(urlunsplit(parts._replace(scheme=scheme, query=rest)),
                             prefix=prefixes[-1] if prefixes else "segflow:", **timeouts, **kwargs)


# Query parameters of a Redis URL that set the store's timeouts, in seconds.
_TIMEOUTS = ("lock_timeout", "wait_timeout")


def _seconds(name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400:
        raise ValueError(f"session store URL: {name}={value!r} is not a number of seconds between 0 and 86400")
    return seconds


def open_journeys(store: SessionStore, retention: timedelta | None = None):
    """The journey book that goes with a store: in this process for the memory store, else beside the
    sessions in the same LMDB environment, or Redis database and prefix (where a customer's journeys expire
    `retention` after they last changed; None: kept)."""
    if isinstance(store, MemorySessionStore):
        return JourneyBook()
    if isinstance(store, LmdbSessionStore):
        return LmdbJourneyBook(store.env)
    from segflow.server.sessions.redis_journeys import RedisJourneyBook

    return RedisJourneyBook(store, retention=retention)
