"""Sessions in Redis, so that several replicas serve the same visits with the semantics of the memory store.

Keys, under a prefix (default `segflow:`):
- `session:<id>`: the encoded `SessionState` (`server.sessions.codec`), with a Redis TTL of the idle timeout
  plus a margin, so a session no replica sweeps any more still disappears;
- `lock:<id>`: the session's lock (redis-py `Lock`), with its own expiry, so a replica that crashed while
  holding it wedges the session for at most `lock_timeout` seconds;
- `active`: a sorted set of live session ids scored by last activity (the store's clock, in epoch seconds):
  `expire_idle` finds idle sessions by score, eviction takes the lowest scores first.

A call holds the lock from reading the session to writing it back. The write is fenced: one Lua script checks
that the lock still holds this call's token, then sets (or deletes) the session and its score together, so a
call that outlived its lock can never overwrite the work of the call that took the lock after it. Closing a
session (expired, evicted) deletes it under its lock before `on_close` runs, so exactly one replica reports it.
Sessions are not Redis Cluster ready: the script touches keys in different hash slots.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator

import grpc
import redis
from redis.exceptions import LockError
from redis.lock import Lock

from segflow.server.errors import ServiceError, Unavailable
from segflow.server.sessions import codec
from segflow.server.sessions.state import SessionState
from segflow.server.sessions.store import OnClose

# KEYS: lock, session, index. ARGV: token, encoded state ("" to delete), TTL in ms, score, session id.
# Returns -1 if the lock is not held with this token (nothing written), else how many sessions are live.
_COMMIT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[5])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
end
return redis.call('ZCARD', KEYS[3])
"""


class SessionBusy(Unavailable):
    """Another call held the session's lock for longer than this one may wait: retry the call."""


class SessionLockLost(ServiceError):
    """A call outlived its session lock (`lock_timeout`); its changes were discarded, retry the call."""

    code = grpc.StatusCode.ABORTED


class RedisSlot:
    """A session's slot for one call: the state the caller reads and sets, and the lock's token."""

    __slots__ = ("state", "token")

    def __init__(self, state: SessionState | None, token: str):
        self.state = state
        self.token = token


class RedisSessionStore:
    """A `SessionStore` shared by every replica that uses the same Redis database and prefix."""

    def __init__(self, client_or_url: redis.Redis | str, *, idle_timeout: timedelta, max_sessions: int,
                 clock: Callable[[], datetime], on_close: OnClose = lambda state, reason: None,
                 prefix: str = "segflow:", lock_timeout: float = 30.0, wait_timeout: float = 5.0,
                 ttl_margin: timedelta = timedelta(minutes=5)):
        """`lock_timeout`: seconds after which a held session lock expires by itself (longer than any call);
        `wait_timeout`: seconds a call waits for a busy session before `SessionBusy`; `ttl_margin`: how long
        past its idle timeout Redis keeps a session no replica has swept (the sweep summarises it first)."""
        self.client = redis.Redis.from_url(client_or_url) if isinstance(client_or_url, str) else client_or_url
        self._owns_client = isinstance(client_or_url, str)
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.clock = clock
        self.on_close = on_close
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self._ttl_ms = int((idle_timeout + ttl_margin).total_seconds() * 1000)
        self._index = f"{prefix}active"
        self._commit = self.client.register_script(_COMMIT)

    def __len__(self) -> int:
        return self.client.zcard(self._index)

    def expires_at(self, state: SessionState) -> datetime:
        return state.last_activity_at + self.idle_timeout

    @contextmanager
    def locked(self, session_id: str) -> Iterator[RedisSlot]:
        """The session's slot under its distributed lock; raises SessionBusy if the lock stays taken for
        `wait_timeout`, SessionLockLost on exit if the lock expired meanwhile (nothing is written then), and
        Unavailable when Redis cannot be reached (the call may be retried)."""
        try:
            with self._locked(session_id) as slot:
                yield slot
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise Unavailable(f"the session store is unreachable: {exc}", reason="SESSION_STORE_UNAVAILABLE") from exc

    @contextmanager
    def _locked(self, session_id: str) -> Iterator[RedisSlot]:
        lock = self._lock(session_id)
        token = uuid.uuid4().hex
        if not lock.acquire(blocking_timeout=self.wait_timeout, token=token):
            raise SessionBusy(f"session {session_id!r} is busy with another call; retry", reason="SESSION_BUSY")
        live = 0
        try:
            slot = RedisSlot(self._load(session_id), token)
            if slot.state is not None and self.clock() >= self.expires_at(slot.state):
                self._close(session_id, slot, "expired")
            loaded = slot.state is not None
            try:
                yield slot
                if slot.state is not None:
                    slot.state.last_activity_at = self.clock()
            finally:
                # Also when the call failed: the engine has then put the state back as it was loaded.
                if loaded or slot.state is not None:
                    live = self._write(session_id, slot)
        finally:
            _release(lock)
        if live > self.max_sessions:
            self._evict(live - self.max_sessions)

    def end(self, slot: RedisSlot, reason: str) -> SessionState | None:
        """Remove the slot's session (inside `locked`: deleted from Redis on exit), reporting it closed."""
        state, slot.state = slot.state, None
        if state is not None:
            self.on_close(state, reason)
        return state

    def expire_idle(self) -> int:
        """Close the sessions idle past the timeout, on whichever replica calls it first; returns how many
        this call closed. A session in use now is skipped: its call renews it."""
        cutoff = (self.clock() - self.idle_timeout).timestamp()
        ids = self.client.zrangebyscore(self._index, "-inf", cutoff)
        return sum(self._close_if(text(sid), lambda state: self.clock() >= self.expires_at(state), "expired")
                   for sid in ids)

    def close_all(self, reason: str = "shutdown") -> int:
        """Close nothing, returning 0: the sessions are shared, and one replica shutting down must leave the
        visits the others serve alive. They end as usual: ended by a call, or expired or evicted by a sweep."""
        return 0

    def close(self) -> None:
        """Release the Redis connections, if this store opened them from a URL."""
        if self._owns_client:
            self.client.close()

    # -- helpers ----------------------------------------------------------------------------------

    def _key(self, kind: str, session_id: str) -> str:
        return f"{self.prefix}{kind}:{session_id}"

    def _lock(self, session_id: str) -> Lock:
        # sleep: how often a waiting call polls the lock; small, because a call holds it for about a millisecond.
        return self.client.lock(self._key("lock", session_id), timeout=self.lock_timeout, sleep=0.002,
                                thread_local=False)

    def _load(self, session_id: str) -> SessionState | None:
        data = self.client.get(self._key("session", session_id))
        return None if data is None else codec.decode(data)

    def _write(self, session_id: str, slot: RedisSlot) -> int:
        """Store (or delete) the slot's session if this call still holds the lock; how many are live."""
        state = slot.state
        payload = b"" if state is None else codec.encode(state)
        score = 0.0 if state is None else state.last_activity_at.timestamp()
        live = self._commit(keys=[self._key("lock", session_id), self._key("session", session_id), self._index],
                            args=[slot.token, payload, self._ttl_ms, score, session_id])
        if live < 0:
            raise SessionLockLost(f"the call on session {session_id!r} outlived its lock ({self.lock_timeout}s); "
                                  "its changes were discarded", reason="SESSION_LOCK_LOST")
        return live

    def _close(self, session_id: str, slot: RedisSlot, reason: str) -> None:
        """Delete the slot's session now, then report it: a replica that deleted it is the only one to."""
        state, slot.state = slot.state, None
        self._write(session_id, slot)
        self.on_close(state, reason)

    def _close_if(self, session_id: str, predicate: Callable[[SessionState], bool], reason: str) -> bool:
        """Close a session if it is live and `predicate` holds under its lock; a busy one is left alone."""
        lock = self._lock(session_id)
        token = uuid.uuid4().hex
        if not lock.acquire(blocking=False, token=token):
            return False
        try:
            slot = RedisSlot(self._load(session_id), token)
            if slot.state is None:
                self._write(session_id, slot)  # expired by Redis itself: only its score is left to drop
                return False
            if not predicate(slot.state):
                return False
            self._close(session_id, slot, reason)
            return True
        finally:
            _release(lock)

    def _evict(self, excess: int) -> None:
        """Close the least recently active sessions beyond the bound; those in use now are left for next time."""
        for sid in self.client.zrange(self._index, 0, excess - 1):
            self._close_if(text(sid), lambda state: self.client.zcard(self._index) > self.max_sessions,
                           "evicted")


def _release(lock: Lock) -> None:
    """Release a session lock. One that expired meanwhile has nothing left to release: a write under it was
    refused by the fenced commit, which raised SessionLockLost."""
    try:
        lock.release()
    except LockError:
        pass


def text(value: bytes | str) -> str:
    """A string read from Redis, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
