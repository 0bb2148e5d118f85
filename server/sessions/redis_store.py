"""Sessions in Redis, so that several replicas serve the same visits with the semantics of the memory store.

Keys, under a prefix (default `segflow:`); a session's own keys share the hash tag `{<id>}`, so they live in one
slot of a Redis Cluster and one script can change them together:
- `{<id>}:session`: the encoded `SessionState` (`server.sessions.codec`), with a Redis TTL of the idle timeout
  plus a margin, so a session no replica sweeps any more still disappears;
- `{<id>}:version`: the token of the call that wrote it last, with the same TTL: what a call that read it
  without the lock compares at its commit;
- `{<id>}:lock`: the session's lock, holding the token of the call that owns it, with its own expiry, so a
  replica that crashed while holding it wedges the session for at most `lock_timeout` seconds;
- `{shared}:active`: a sorted set of live session ids scored by last activity (the store's clock, in epoch
  milliseconds): `expire_idle` finds idle sessions by score, eviction takes the lowest scores first; in the slot of
  the action log (`server.subscriptions.redis_log`), so one script changes both.

A call on a session this process committed last (`_Committed`) costs one round trip: it runs on the session as
committed, without the lock, and the script that commits it (`_COMMIT`) writes only if no call holds the lock and
the version is still the one it committed; else it writes nothing and the call is run again
(`SessionConflict`, `retry_conflicts`), on the session as the script found it, and a second conflict runs it under
the lock. Under the lock a call costs two: one script takes the lock and returns the session (`_ACQUIRE`), the
commit checks the lock still holds this call's token and releases it. Either way the commit writes (or deletes)
the session and its version, updates its score and appends the call's actions to the action log
(`commit_actions`). The token and the version are the write's fence: a call that outlived its lock, or ran on a
session that changed since, never overwrites the work of another call, nor fires its actions. On a Redis Cluster
the index and the log live in another slot, so they are changed by a third script once the commit succeeded. A
call's changes to customers' journeys (`server.sessions.redis_journeys`) are written by the commit script too; on
a Cluster, where each customer's hash is in its own slot, after the commit while the call holds the session lock
(the commit takes it for a call that had not), then released. Closing a session (expired, evicted) deletes it
under its lock before `on_close` runs, so exactly one replica reports it. In one process, calls on one session
take turns (`_Turns`), so only calls of different processes ever conflict.
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
from segflow.server.sessions.store import OnClose, SessionConflict
from segflow.server.subscriptions.redis_log import APPEND_FUNCTION, RedisActionLog, encode_actions, log_keys

# KEYS: lock, session. ARGV: token, lock expiry in ms. Returns {0} if another call holds the lock, else {1, the
# encoded session or false}. The lock held with this token already counts as taken, so a call whose answer was
# lost with its connection may run it again.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {0}
end
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
# journeys (`write_journeys`, KEYS from 7, none on a cluster) and `encode_actions`' (if any). Returns how many
# sessions are live.
_AFTER_COMMIT = APPEND_FUNCTION + _JOURNEYS_FUNCTION + """
local function after_commit(index, log_key, count_key, first)
  if ARGV[first] == '1' then
    redis.call('ZREM', index, ARGV[first + 2])
  else
    redis.call('ZADD', index, ARGV[first + 1], ARGV[first + 2])
  end
  local actions = write_journeys(7, first + 5)
  append_actions(log_key, count_key, tonumber(ARGV[first + 3]), tonumber(ARGV[first + 4]), actions)
  return redis.call('ZCARD', index)
end
"""

# KEYS: lock, session, version, then on one server the index, action log, its counter and the journeys' hashes.
# ARGV: token, the version the call read the session at ("" if it holds the lock), encoded state ("" to delete),
# TTL in ms, "1" to hold the lock after (on a cluster, while the journeys are written), the lock's expiry in ms,
# then (on one server) `after_commit`'s. Writes nothing and returns -1 if the lock is not held with this token,
# -2 if a call that did not take it finds it taken, {the encoded session, its version} if the version changed;
# else how many sessions are live (0 on a cluster). The session's version becomes the token.
_COMMIT = _AFTER_COMMIT + """
if ARGV[2] == '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
  if ARGV[5] ~= '1' then redis.call('DEL', KEYS[1]) end
else
  if redis.call('EXISTS', KEYS[1]) == 1 then return -2 end
  if redis.call('GET', KEYS[3]) ~= ARGV[2] then return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3])} end
  if ARGV[5] == '1' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[6]) end
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[2], KEYS[3])
else
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[4])
end
if KEYS[4] then return after_commit(KEYS[4], KEYS[5], KEYS[6], 7) end
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

# After how many conflicts a call run again takes the session's lock, so that it commits.
_LOCK_AFTER = 2

# How often a call waiting for a busy session tries its lock again; small, as a call holds it about a millisecond.
_POLL_SECONDS = 0.002


class SessionBusy(Unavailable):
    """Another call held the session's lock for longer than this one may wait: retry the call."""


class SessionLockLost(ServiceError):
    """A call outlived its session lock (`lock_timeout`); its changes were discarded, retry the call."""

    code = grpc.StatusCode.ABORTED


class RedisSlot:
    """A session's slot for one call: the state the caller reads and sets, the call's token, the version it read
    the session at without the lock ("" if it holds the lock), how many conflicts the call had before, and the
    sessions closed during the call, reported once the call's write is committed."""

    __slots__ = ("state", "token", "version", "conflicts", "closed", "actions", "journeys")

    def __init__(self, state: SessionState | None, token: str, version: str = "", conflicts: int = 0):
        self.state = state
        self.token = token
        self.version = version
        self.conflicts = conflicts
        self.closed: list[tuple[SessionState, str]] = []
        self.actions: list = []  # `encode_actions`' arguments, appended to the action log with the commit
        self.journeys: list[JourneyWrite] = []  # written with the commit


class _Committed:
    """The sessions this process committed last, each as its bytes, its object and its version, so that the next
    call on one runs on it without the lock (the object is exactly what the bytes encode); and those a commit
    found changed, as they were then (bytes and version, no object), for the call run again. Bounded by the
    bytes kept, the least recent dropped."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[bytes, SessionState | None, str]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def take(self, session_id: str) -> tuple[bytes, SessionState | None, str] | None:
        """The session's entry, no longer kept: the call that takes it changes it."""
        with self._lock:
            return self._pop(session_id)

    def keep(self, session_id: str, data: bytes, state: SessionState | None, version: str) -> None:
        """Remember a session as committed (`state`: its object) or as a commit found it changed (None)."""
        with self._lock:
            self._pop(session_id)
            self._entries[session_id] = (data, state, version)
            self._bytes += len(data)
            while self._bytes > self.max_bytes:
                self._bytes -= len(self._entries.popitem(last=False)[1][0])

    def _pop(self, session_id: str) -> tuple[bytes, SessionState | None, str] | None:
        entry = self._entries.pop(session_id, None)
        if entry is not None:
            self._bytes -= len(entry[0])
        return entry


class _Turns:
    """Calls on one session in this process, one at a time: they would conflict with each other, and the journey
    book keeps one call's journeys per session."""

    def __init__(self):
        self._turns: dict[str, list] = {}  # session id -> [its lock, calls holding or waiting for it]
        self._guard = threading.Lock()

    def take(self, session_id: str, timeout: float) -> bool:
        """Wait up to `timeout` seconds (0: not at all) for the session's turn; False if another call kept it."""
        with self._guard:
            turn = self._turns.get(session_id)
            if turn is None:
                turn = self._turns[session_id] = [threading.Lock(), 0]
            turn[1] += 1
        if turn[0].acquire(timeout=timeout) if timeout > 0 else turn[0].acquire(blocking=False):
            return True
        self._leave(session_id, turn)
        return False

    def give(self, session_id: str) -> None:
        turn = self._turns[session_id]
        turn[0].release()
        self._leave(session_id, turn)

    def _leave(self, session_id: str, turn: list) -> None:
        with self._guard:
            turn[1] -= 1
            if not turn[1]:
                del self._turns[session_id]


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
        self._turns = _Turns()
        # (session id, conflicts) of the call this thread runs again after `SessionConflict`s on that session
        self._again = threading.local()
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
        """The session's slot, as this process committed it last or under its distributed lock; raises
        SessionBusy if the lock (or this process's turn on the session) stays taken for `wait_timeout`, on exit
        SessionConflict if the session changed since this process committed it, SessionLockLost if the lock
        expired meanwhile (nothing is written then), and Unavailable when Redis cannot be reached (the call may
        be retried)."""
        try:
            deadline = time.monotonic() + self.wait_timeout
            if not self._turns.take(session_id, self.wait_timeout):
                raise _busy(session_id)
            try:
                slot = self._take(session_id, deadline)
                if slot is None:
                    raise _busy(session_id)
                if slot.state is not None and self.clock() >= self.expires_at(slot.state):
                    slot.closed.append((slot.state, "expired"))
                    slot.state = None
                held = (session_id, threading.get_ident())
                self._held[held] = slot
                try:
                    yield slot
                    if slot.state is not None:
                        slot.state.last_activity_at = self.clock()
                except BaseException:
                    slot.actions, slot.journeys = [], []  # a failed call fires nothing and changes no journey
                    raise
                finally:
                    del self._held[held]
                    # Also when the call failed: the engine has then put the state back as it was loaded.
                    live = self._write(session_id, slot)
            finally:
                self._turns.give(session_id)
            self._report(slot)
            if live > self.max_sessions:
                self._evict(live - self.max_sessions)
        except UNREACHABLE as exc:
            raise Unavailable(f"the session store is unreachable: {exc}", reason="SESSION_STORE_UNAVAILABLE") from exc

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

    def end(self, slot: RedisSlot, reason: str) -> SessionState | None:
        """Remove the slot's session (inside `locked`: deleted from Redis on exit, then reported closed)."""
        state, slot.state = slot.state, None
        if state is not None:
            slot.closed.append((state, reason))
        return state

    def expire_idle(self) -> int:
        """Close the sessions idle past the timeout, on whichever replica calls it first; returns how many
        this call closed. A session in use now is skipped: its call renews it."""
        cutoff = int((self.clock() - self.idle_timeout).timestamp() * 1000)
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
        """The session as this process committed it last (or as a conflict found it), without the lock, unless
        the call runs again after `_LOCK_AFTER` conflicts; else take its lock and load it in one round trip,
        trying until `deadline` (monotonic); None if another call still holds it then."""
        token = f"{self._token_prefix}{os.getpid()}:{next(self._tokens)}"
        kept = self._committed.take(session_id)
        again, self._again.call = getattr(self._again, "call", None), None
        conflicts = again[1] if again is not None and again[0] == session_id else 0
        if kept is not None and conflicts < _LOCK_AFTER:
            data, state, version = kept
            return RedisSlot(codec.decode(data) if state is None else state, token, version, conflicts)
        keys = [self.key("lock", session_id), self.key("session", session_id)]
        while True:
            taken = self._run(self._acquire, keys, [token, self._lock_ms], retry=True)
            if taken[0]:
                data = taken[1]
                if not data:
                    return RedisSlot(None, token)
                same = kept is not None and kept[1] is not None and kept[0] == data
                return RedisSlot(kept[1] if same else codec.decode(data), token)
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_SECONDS)

    def _write(self, session_id: str, slot: RedisSlot) -> int:
        """Store (or delete) the slot's session and its version and release its lock, if this call still holds
        the lock or the session is still at the version the call read, then update the index and append the
        call's actions; how many sessions are live."""
        state = slot.state
        payload = b"" if state is None else codec.encode(state)
        score = 0 if state is None else int(state.last_activity_at.timestamp() * 1000)
        trim = self.actions.trim_args if self.actions is not None else [1, 0]
        after = ["1" if state is None else "0", score, session_id, *trim]
        keys = [self.key("lock", session_id), self.key("session", session_id), self.key("version", session_id)]
        head = [slot.token, slot.version, payload, self._ttl_ms, "1" if self.cluster and slot.journeys else "0",
                self._lock_ms]
        if self.cluster:  # the index, log and journeys are in other slots: changed once the session's committed
            live = self._commit(keys=keys, args=head)
        else:
            live = self._run(self._commit, [*keys, *self._shared, *(write[0] for write in slot.journeys)],
                             [*head, *after, *_journey_args(slot.journeys), *slot.actions])
        if type(live) is not int or live < 0:
            slot.closed.clear()  # the call that committed instead reports them
            self._refused(session_id, slot, live)
        if state is not None:
            self._committed.keep(session_id, payload, state, slot.token)
        if self.cluster:
            if slot.journeys:  # under the lock still, so the next call on the session reads them
                for write in slot.journeys:
                    self._write_journeys(keys=[write[0]], args=_journey_args([write]))
                self._release(keys=keys[:1], args=[slot.token])
            live = self._after_commit(keys=self._shared, args=[*after, 0, *slot.actions])
        return live

    def _refused(self, session_id: str, slot: RedisSlot, answer) -> None:
        """Raise what `_COMMIT`'s refusal means. A session found changed is kept as found for the call run again;
        one found locked is waited for: the call runs again under the lock."""
        if answer == -1:
            raise SessionLockLost(f"the call on session {session_id!r} outlived its lock ({self.lock_timeout}s); "
                                  "its changes were discarded", reason="SESSION_LOCK_LOST")
        if answer != -2 and answer[0] and answer[1]:
            self._committed.keep(session_id, answer[0], None, text(answer[1]))
        self._again.call = (session_id, _LOCK_AFTER if answer == -2 else slot.conflicts + 1)
        raise SessionConflict(f"session {session_id!r} changed while this call ran on it; run it again",
                              reason="SESSION_CONFLICT")

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
        if not self._turns.take(session_id, 0):
            return False
        try:
            self._committed.take(session_id)  # under the lock, always: a sweep does not run again
            slot = self._take(session_id, deadline=0)
            if slot is None:
                return False
            closing = slot.state is not None and predicate(slot.state)
            if closing:
                self.end(slot, reason)
            # A session Redis expired by itself leaves only its score: the write drops it.
            self._write(session_id, slot)
        finally:
            self._turns.give(session_id)
        self._report(slot)
        return closing

    def _evict(self, excess: int) -> None:
        """Close the least recently active sessions beyond the bound; those in use now are left for next time."""
        for sid in self.client.zrange(self._index, 0, excess - 1):
            self._close_if(text(sid), lambda state: self.client.zcard(self._index) > self.max_sessions,
                           "evicted")


def _busy(session_id: str) -> SessionBusy:
    return SessionBusy(f"session {session_id!r} is busy with another call; retry", reason="SESSION_BUSY")


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
