"""Sessions in Redis, so that several replicas serve the same visits with the semantics of the memory store.

Keys, under a prefix (default `segflow:`); a session's own keys share the hash tag `{<id>}`, so they live in one
slot of a Redis Cluster and one script can change them together:
- `{<id>}:session`: the encoded `SessionState` (`server.sessions.codec`), with a Redis TTL of the idle timeout
  plus a margin, so a session no replica sweeps any more still disappears;
- `{<id>}:lock`: the session's lock, holding the token of the call that owns it, with its own expiry, so a
  replica that crashed while holding it wedges the session for at most `lock_timeout` seconds;
- `{shared}:active`: a sorted set of live session ids scored by last activity (the store's clock, in epoch
  seconds): `expire_idle` finds idle sessions by score, eviction takes the lowest scores first; in the slot of
  the action log (`server.subscriptions.redis_log`), so one script changes both.

A call costs two round trips: one script takes the lock and returns the session (`_ACQUIRE`; on one server with
the journeys of the customer the session had when this process last committed it, so an identified customer's
call needs no third), and after the call another checks that the lock still holds this call's token, writes (or deletes) the session, updates its
score, appends the call's actions to the action log (`commit_actions`) and releases the lock (`_COMMIT`). The
token is the write's fence: a call that outlived its lock never overwrites the work of the call that took the
lock after it, nor fires its actions. On a Redis Cluster the index and the log live in another slot, so they
are changed by a third script once the commit succeeded. A call's changes to customers' journeys
(`server.sessions.redis_journeys`) are written by the commit script too; on a Cluster, where each customer's hash
is in its own slot, after the commit while the call still holds the session lock, then released. Closing a session (expired, evicted) deletes it under
its lock before `on_close` runs, so exactly one replica reports it. A session this process committed and finds
unchanged in Redis at its next call is not decoded again (`_Committed`).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator

import grpc
import redis

from segflow.server.errors import ServiceError, Unavailable
from segflow.server.sessions import codec
from segflow.server.sessions.redis_connections import ThreadConnections
from segflow.server.sessions.state import SessionState
from segflow.server.sessions.store import OnClose
from segflow.server.subscriptions.redis_log import APPEND_FUNCTION, RedisActionLog, encode_actions, log_keys

# KEYS: lock, session, and (one server only) the journeys hash of the customer the session last had, if any.
# ARGV: token, lock expiry in ms. Returns {0} if another call holds the lock, else {1, the encoded session or
# false, the journeys' fields and values}. The lock held with this token already counts as taken, so a call
# whose answer was lost with its connection may run it again.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0}
end
if KEYS[3] then return {1, redis.call('GET', KEYS[2]), redis.call('HGETALL', KEYS[3])} end
return {1, redis.call('GET', KEYS[2])}
"""

# Lua for scripts: write customers' journeys (`server.sessions.redis_journeys`), KEYS[first_key..] one hash per
# customer. ARGV from `at`: how many customers, then for each its retention in ms (0: kept), how many journeys
# changed, name and encoded step of each, how many were removed, their names. Returns the ARGV index after them.
_JOURNEYS_FUNCTION = """
local function write_journeys(first_key, at)
  local customers = tonumber(ARGV[at])
  at = at + 1
  for k = first_key, first_key + customers - 1 do
    local retention, changed = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
    at = at + 2
    for i = 1, changed do
      redis.call('HSET', KEYS[k], ARGV[at], ARGV[at + 1])
      at = at + 2
    end
    local removed = tonumber(ARGV[at])
    at = at + 1
    for i = 1, removed do
      redis.call('HDEL', KEYS[k], ARGV[at])
      at = at + 1
    end
    if retention > 0 then redis.call('PEXPIRE', KEYS[k], retention) end
  end
  return at
end
"""

# Lua for scripts: after a commit, the index and the action log, which share the slot `{shared}`. ARGV from
# `first`: "1" if the session was deleted, its score, its id, the action log's trimming arguments, then the
# journeys (`write_journeys`, KEYS from 6, none on a cluster) and `encode_actions`' (if any). Returns how many
# sessions are live.
_AFTER_COMMIT = APPEND_FUNCTION + _JOURNEYS_FUNCTION + """
local function after_commit(index, log_key, count_key, first)
  if ARGV[first] == '1' then
    redis.call('ZREM', index, ARGV[first + 2])
  else
    redis.call('ZADD', index, ARGV[first + 1], ARGV[first + 2])
  end
  local actions = write_journeys(6, first + 5)
  append_actions(log_key, count_key, tonumber(ARGV[first + 3]), tonumber(ARGV[first + 4]), actions)
  return redis.call('ZCARD', index)
end
"""

# KEYS: lock, session, then on one server the index, action log, its counter and the journeys' hashes. ARGV:
# token, encoded state ("" to delete), TTL in ms, "1" to keep the lock (on a cluster, while the journeys are
# written), then (on one server) `after_commit`'s. Returns -1 if the lock is not held with this token (nothing
# written), else how many sessions are live (0 on a cluster). Releases the lock unless asked to keep it.
_COMMIT = _AFTER_COMMIT + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if ARGV[4] ~= '1' then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
if KEYS[3] then return after_commit(KEYS[3], KEYS[4], KEYS[5], 5) end
return 0
"""

# On a cluster, once the session's write committed, in the slot `{shared}`. KEYS: index, action log, counter.
# ARGV: `after_commit`'s (with no journeys).
_CLUSTER_AFTER_COMMIT = _AFTER_COMMIT + "return after_commit(KEYS[1], KEYS[2], KEYS[3], 1)\n"

# On a cluster, once the session's write committed: one customer's journeys. KEYS: its hash. ARGV: `write_journeys`'.
_CLUSTER_JOURNEYS = _JOURNEYS_FUNCTION + "write_journeys(1, 1)\n"

# KEYS: lock. ARGV: token. Releases the lock if this call still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""

# One customer's journey writes: its hash, retention in ms, changed name -> encoded step, removed names.
JourneyWrite = tuple[str, int, dict[str, str], set[str]]

# What redis-py raises when Redis cannot be reached: a Cluster client whose nodes all refuse connections raises
# RedisClusterException, which is not a RedisError.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError,
               redis.exceptions.RedisClusterException)

# The encoded size of the sessions a store keeps decoded after committing them (`_Committed`).
_KEPT_BYTES = 16 << 20

# How often a call waiting for a busy session tries its lock again; small, as a call holds it about a millisecond.
_POLL_SECONDS = 0.002


class SessionBusy(Unavailable):
    """Another call held the session's lock for longer than this one may wait: retry the call."""


class SessionLockLost(ServiceError):
    """A call outlived its session lock (`lock_timeout`); its changes were discarded, retry the call."""

    code = grpc.StatusCode.ABORTED


class RedisSlot:
    """A session's slot for one call: the state the caller reads and sets, the lock's token, and the sessions
    closed during the call, reported once the call's write is committed."""

    __slots__ = ("state", "token", "closed", "actions", "journeys", "read_journeys")

    def __init__(self, state: SessionState | None, token: str):
        self.state = state
        self.token = token
        self.closed: list[tuple[SessionState, str]] = []
        self.actions: list = []  # `encode_actions`' arguments, appended to the action log with the commit
        self.journeys: list[JourneyWrite] = []  # written with the commit
        # (customer, their journeys as stored) read with the session, until the journey book asks for them
        self.read_journeys: tuple[str, dict[str, str]] | None = None


class _Committed:
    """The sessions this process committed last, each as its bytes and its object, so that a call finding the
    same bytes in Redis takes the object instead of decoding them (the object is exactly what they encode), and
    knows the session's customer before it reads it. Bounded by the bytes kept, the least recent dropped."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[bytes, SessionState]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def customer(self, session_id: str) -> str:
        """The customer of the session as last committed here ("" if anonymous or not kept)."""
        entry = self._entries.get(session_id)
        return entry[1].customer_id if entry is not None else ""

    def take(self, session_id: str, data: bytes | None) -> SessionState | None:
        """The session `data` encodes (None for none), no longer kept: the call that loaded it changes it."""
        with self._lock:
            entry = self._pop(session_id)
        if not data:
            return None
        return entry[1] if entry is not None and entry[0] == data else codec.decode(data)

    def keep(self, session_id: str, data: bytes, state: SessionState | None) -> None:
        """Remember what a call committed (a deleted session: nothing)."""
        with self._lock:
            self._pop(session_id)
            if state is not None:
                self._entries[session_id] = (data, state)
                self._bytes += len(data)
                while self._bytes > self.max_bytes:
                    self._bytes -= len(self._entries.popitem(last=False)[1][0])

    def _pop(self, session_id: str) -> tuple[bytes, SessionState] | None:
        entry = self._entries.pop(session_id, None)
        if entry is not None:
            self._bytes -= len(entry[0])
        return entry


class RedisSessionStore:
    """A `SessionStore` shared by every replica that uses the same Redis database (or cluster) and prefix."""

    def __init__(self, client_or_url: redis.Redis | redis.RedisCluster | str, *, idle_timeout: timedelta,
                 max_sessions: int, clock: Callable[[], datetime], on_close: OnClose = lambda state, reason: None,
                 prefix: str = "segflow:", lock_timeout: float = 30.0, wait_timeout: float = 5.0,
                 ttl_margin: timedelta = timedelta(minutes=5)):
        """`lock_timeout`: seconds after which a held session lock expires by itself (longer than any call);
        `wait_timeout`: seconds a call waits for a busy session before `SessionBusy`; `ttl_margin`: how long
        past its idle timeout Redis keeps a session no replica has swept (the sweep summarises it first)."""
        self.client = connect(client_or_url) if isinstance(client_or_url, str) else client_or_url
        self._owns_client = isinstance(client_or_url, str)
        self.cluster = isinstance(self.client, redis.RedisCluster)
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.clock = clock
        self.on_close = on_close
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self._ttl_ms = int((idle_timeout + ttl_margin).total_seconds() * 1000)
        self._lock_ms = max(1, int(lock_timeout * 1000))
        self._shared = [f"{prefix}{{shared}}:active", *log_keys(prefix)]  # the index, action log and counter
        self._index = self._shared[0]
        self.actions: RedisActionLog | None = None  # the action log a call's actions are committed to, if any
        self._acquire = self.client.register_script(_ACQUIRE)
        self._commit = self.client.register_script(_COMMIT)
        self._after_commit = self.client.register_script(_CLUSTER_AFTER_COMMIT)
        self._write_journeys = self.client.register_script(_CLUSTER_JOURNEYS)
        self._release = self.client.register_script(_RELEASE)
        self._connections = None if self.cluster else ThreadConnections(self.client)
        self._committed = _Committed(_KEPT_BYTES)
        # A customer's journeys hash (set by `server.sessions.redis_journeys`), read with the session on one server.
        self.journeys_key: Callable[[str], str] | None = None
        self._running = threading.local()  # the slot of the call this thread runs
        # A lock's token: unique to the call, across replicas (a random prefix per store) and processes forked
        # with it (the pid); a counter, not a uuid4 per call (about 4 µs each)
        self._token_prefix = f"{uuid.uuid4().hex}:"
        self._tokens = itertools.count()
        # The slots of the calls this process is running, by session id and thread (a call runs in one thread;
        # one that outlived its lock must not hand its journeys to the call that took the lock after it).
        self._held: dict[tuple[str, int], RedisSlot] = {}

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
        except UNREACHABLE as exc:
            raise Unavailable(f"the session store is unreachable: {exc}", reason="SESSION_STORE_UNAVAILABLE") from exc

    @contextmanager
    def _locked(self, session_id: str) -> Iterator[RedisSlot]:
        slot = self._take(session_id, time.monotonic() + self.wait_timeout)
        if slot is None:
            raise SessionBusy(f"session {session_id!r} is busy with another call; retry", reason="SESSION_BUSY")
        if slot.state is not None and self.clock() >= self.expires_at(slot.state):
            slot.closed.append((slot.state, "expired"))
            slot.state = None
        held = (session_id, threading.get_ident())
        self._held[held] = self._running.slot = slot
        try:
            yield slot
            if slot.state is not None:
                slot.state.last_activity_at = self.clock()
        except BaseException:
            slot.actions, slot.journeys = [], []  # a failed call fires nothing and changes no journey
            raise
        finally:
            del self._held[held]
            self._running.slot = None
            # Also when the call failed: the engine has then put the state back as it was loaded.
            live = self._write(session_id, slot)
        self._report(slot)
        if live > self.max_sessions:
            self._evict(live - self.max_sessions)

    def action_log(self, *, retention: int, max_age_ms: int, queue_size: int) -> RedisActionLog:
        """The cluster-wide action log beside these sessions; from now on `commit_actions` takes a call's
        actions into its commit."""
        self.actions = RedisActionLog(self.client, prefix=self.prefix, retention=retention, max_age_ms=max_age_ms,
                                      queue_size=queue_size)
        return self.actions

    def commit_actions(self, slot: RedisSlot, actions) -> bool:
        """Take a call's actions (inside `locked`) to append to the action log in the round trip that commits
        the session, only if it commits; False without an action log: the caller publishes them."""
        if self.actions is None:
            return False
        slot.actions = encode_actions(actions) if actions else []
        return True

    def commit_journeys(self, session_id: str, write: JourneyWrite) -> None:
        """Write one customer's journeys with the commit of the call running on `session_id` (in this process,
        inside `locked`), and only if it commits."""
        self._held[session_id, threading.get_ident()].journeys.append(write)

    def read_journeys(self, customer: str) -> dict[str, str] | None:
        """The customer's journeys as stored (name -> encoded step), if the call this thread runs read them with
        its session, once; else None (the journey book reads them)."""
        slot = getattr(self._running, "slot", None)
        if slot is None or slot.read_journeys is None or slot.read_journeys[0] != customer:
            return None
        journeys, slot.read_journeys = slot.read_journeys[1], None
        return journeys

    def end(self, slot: RedisSlot, reason: str) -> SessionState | None:
        """Remove the slot's session (inside `locked`: deleted from Redis on exit, then reported closed)."""
        state, slot.state = slot.state, None
        if state is not None:
            slot.closed.append((state, reason))
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

    def key(self, kind: str, session_id: str) -> str:
        """The name of one of a session's keys ("session", "lock"), hash-tagged by the session id."""
        return f"{self.prefix}{{{session_id}}}:{kind}"

    def _take(self, session_id: str, deadline: float) -> RedisSlot | None:
        """Take the session's lock and load it in one round trip, trying until `deadline` (monotonic);
        None if another call still holds it then."""
        token = f"{self._token_prefix}{os.getpid()}:{next(self._tokens)}"
        keys = [self.key("lock", session_id), self.key("session", session_id)]
        # The customer's journeys too, if the session had one when this process last committed it (on a
        # Cluster they are in the customer's slot: the journey book reads them)
        customer = self._committed.customer(session_id) if self.journeys_key and not self.cluster else ""
        if customer:
            keys.append(self.journeys_key(customer))
        while True:
            taken = self._run(self._acquire, keys, [token, self._lock_ms], retry=True)
            if taken[0]:
                slot = RedisSlot(self._committed.take(session_id, taken[1] if len(taken) > 1 else None), token)
                if customer:
                    fields = taken[2]
                    slot.read_journeys = customer, {text(name): text(value)
                                                    for name, value in zip(fields[::2], fields[1::2])}
                return slot
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_SECONDS)

    def _write(self, session_id: str, slot: RedisSlot) -> int:
        """Store (or delete) the slot's session and release its lock, if this call still holds the lock, then
        update the index and append the call's actions; how many sessions are live."""
        state = slot.state
        payload = b"" if state is None else codec.encode(state)
        score = 0.0 if state is None else state.last_activity_at.timestamp()
        trim = self.actions.trim_args if self.actions is not None else [1, 0]
        after = ["1" if state is None else "0", score, session_id, *trim]
        keys = [self.key("lock", session_id), self.key("session", session_id)]
        if self.cluster:  # the index, log and journeys are in other slots: changed once the session's committed
            keep = "1" if slot.journeys else "0"
            live = self._commit(keys=keys, args=[slot.token, payload, self._ttl_ms, keep])
        else:
            live = self._run(self._commit, [*keys, *self._shared, *(write[0] for write in slot.journeys)],
                             [slot.token, payload, self._ttl_ms, "0", *after, *_journey_args(slot.journeys),
                              *slot.actions])
        if live < 0:
            slot.closed.clear()  # the call that took the lock after this one reports them
            raise SessionLockLost(f"the call on session {session_id!r} outlived its lock ({self.lock_timeout}s); "
                                  "its changes were discarded", reason="SESSION_LOCK_LOST")
        self._committed.keep(session_id, payload, state)
        if self.cluster:
            if slot.journeys:  # under the lock still, so the next call on the session reads them
                for write in slot.journeys:
                    self._write_journeys(keys=[write[0]], args=_journey_args([write]))
                self._release(keys=keys[:1], args=[slot.token])
            live = self._after_commit(keys=self._shared, args=[*after, 0, *slot.actions])
        return live

    def _run(self, script, keys: list, args: list, retry: bool = False):
        """Run one of the store's scripts: on the calling thread's own connection to one server (a lost answer
        raised, or with `retry` asked again), through the cluster client's routing on a Cluster."""
        if self._connections is None:
            return script(keys=keys, args=args)
        return self._connections.run(script, keys, args, retry=retry)

    def _report(self, slot: RedisSlot) -> None:
        """Report the sessions a committed call closed."""
        for state, reason in slot.closed:
            self.on_close(state, reason)
        slot.closed.clear()

    def _close_if(self, session_id: str, predicate: Callable[[SessionState], bool], reason: str) -> bool:
        """Close a session if it is live and `predicate` holds under its lock; a busy one is left alone."""
        slot = self._take(session_id, deadline=0)
        if slot is None:
            return False
        closing = slot.state is not None and predicate(slot.state)
        if closing:
            self.end(slot, reason)
        # A session Redis expired by itself leaves only its score: the write drops it.
        self._write(session_id, slot)
        self._report(slot)
        return closing

    def _evict(self, excess: int) -> None:
        """Close the least recently active sessions beyond the bound; those in use now are left for next time."""
        for sid in self.client.zrange(self._index, 0, excess - 1):
            self._close_if(text(sid), lambda state: self.client.zcard(self._index) > self.max_sessions,
                           "evicted")


def _journey_args(writes: list[JourneyWrite]) -> list:
    """`write_journeys`' arguments for `writes`."""
    args: list = [len(writes)]
    for _, retention_ms, changed, removed in writes:
        args += [retention_ms, len(changed), *(item for pair in changed.items() for item in pair),
                 len(removed), *removed]
    return args


def connect(url: str) -> redis.Redis | redis.RedisCluster:
    """A client for `url`: a Redis Cluster for `redis+cluster://host:port` (any node; the others are
    discovered), else one Redis server."""
    if url.startswith("redis+cluster://"):
        return redis.RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"))
    return redis.Redis.from_url(url)


def text(value: bytes | str) -> str:
    """A string read from Redis, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else value
