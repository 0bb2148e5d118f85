"""Where live sessions are kept, one call at a time per session, with sliding expiry and a bound on their number.

Concurrent calls on one session are serialised: each call holds the session's lock from reading the session to
writing it back, so it sees every effect of the call before it, and calls run in the order they take the lock.
Calls on different sessions never wait for each other.

The memory store keeps its `hot` most recently used sessions as objects and the others encoded
(`server.sessions.codec`) and zlib-compressed at its fastest level (0.3-0.6 KB with 30 attributes instead of
5-10 KB as objects; ~20 µs to pack, 5-10 µs to unpack), decoded again by the next call on them: a million
idle visits fit in a few gigabytes while the busy ones pay nothing.
"""

from __future__ import annotations

import functools
import logging
import threading
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Callable, Iterator, Protocol, Sequence, TypeVar

import grpc

from segflow.server.errors import ServiceError
from segflow.server.sessions import codec
from segflow.server.sessions.state import SessionState

log = logging.getLogger(__name__)

# Called with a session that left the store and why: "ended", "expired", "evicted" or "shutdown".
OnClose = Callable[[SessionState, str], None]

# How often a call is run again after `SessionConflict`s before the conflict is its answer; a store that raises it
# runs the second try under its lock, which never conflicts.
CONFLICT_TRIES = 3

T = TypeVar("T")


class SessionConflict(ServiceError):
    """The session changed since this process last read it: a store that runs a call on the session as this
    process last saw it (without taking its lock) found that at the commit, which wrote nothing. Run the call
    again (`retry_conflicts`): it then gets the session as it is."""

    code = grpc.StatusCode.ABORTED


def retry_conflicts(call: Callable[..., T]) -> Callable[..., T]:
    """`call` (which holds a store's session at most once, and does nothing the commit does not decide before
    it ends), run again on a `SessionConflict`."""

    @functools.wraps(call)
    def retried(*args, **kwargs) -> T:
        for _ in range(CONFLICT_TRIES - 1):
            try:
                return call(*args, **kwargs)
            except SessionConflict:
                pass
        return call(*args, **kwargs)

    return retried


class Slot:
    """A session's place in a store: its lock, and its state while it is live (None when there is none).

    The state may be kept encoded (`pack`, under the lock); reading `state` (under the lock) decodes it.
    `live` and `last_activity` answer without decoding, for scans that do not hold the lock.
    """

    __slots__ = ("lock", "_state", "_packed", "_last_activity")

    def __init__(self):
        self.lock = threading.Lock()
        self._state: SessionState | None = None
        self._packed: bytes | None = None
        self._last_activity: datetime | None = None  # of the packed state

    @property
    def state(self) -> SessionState | None:
        if self._packed is not None:
            self._state, self._packed = codec.decode(zlib.decompress(self._packed)), None
        return self._state

    @state.setter
    def state(self, state: SessionState | None) -> None:
        self._state, self._packed = state, None

    @property
    def live(self) -> bool:
        return self._state is not None or self._packed is not None

    @property
    def last_activity(self) -> datetime | None:
        state = self._state
        return state.last_activity_at if state is not None else self._last_activity

    def pack(self) -> None:
        """Keep the state encoded until it is read again (a state the codec refuses stays as it is)."""
        state = self._state
        if state is None:
            return
        try:
            packed = zlib.compress(codec.encode(state), 1)
        except TypeError:
            log.exception("session %r cannot be encoded; kept decoded", state.session_id)
            return
        self._last_activity = state.last_activity_at
        self._packed, self._state = packed, None


class SessionStore(Protocol):
    """What the runtime needs from a session store; the memory and Redis stores both provide it."""

    def locked(self, session_id: str) -> Iterator[Slot]:
        """Context manager: the session's slot, locked; a state set or changed in it is kept on exit. A shared
        store may raise `SessionConflict` on exit instead (nothing kept): the caller runs the call again."""

    def end(self, slot: Slot, reason: str) -> SessionState | None:
        """Remove the slot's session (inside `locked`), reporting it as closed for `reason`."""

    def commit_actions(self, slot: Slot, actions: Sequence[bytes]) -> bool:
        """Inside `locked`, at the end of a call: take its actions (their encodings) to publish with the
        session's commit, and only if it commits (True), or leave them to the caller to publish after the
        commit (False)."""

    def expire_idle(self) -> int:
        """Close every session idle past the timeout; returns how many."""

    def close_all(self, reason: str = "shutdown") -> int:
        """Close every live session (on graceful shutdown of a store that keeps nothing)."""

    def expires_at(self, state: SessionState) -> datetime:
        """When the session expires unless another call renews it."""

    def close(self) -> None:
        """Release what the store holds outside this process (connections), after close_all."""

    def __len__(self) -> int: ...


class MemorySessionStore:
    """The embedded default: sessions in this process, least recently active evicted first."""

    def __init__(self, *, idle_timeout: timedelta, max_sessions: int, clock: Callable[[], datetime],
                 on_close: OnClose = lambda state, reason: None, hot: int = 10_000):
        """`hot`: how many of the most recently used sessions are kept decoded (the others are encoded)."""
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.clock = clock
        self.on_close = on_close
        self.hot = hot
        self._slots: OrderedDict[str, Slot] = OrderedDict()
        self._hot: OrderedDict[str, Slot] = OrderedDict()  # the decoded ones, least recently used first
        self._guard = threading.Lock()

    def __len__(self) -> int:
        with self._guard:
            return sum(1 for slot in self._slots.values() if slot.live)

    def expires_at(self, state: SessionState) -> datetime:
        return state.last_activity_at + self.idle_timeout

    @contextmanager
    def locked(self, session_id: str) -> Iterator[Slot]:
        slot = self._take(session_id)
        try:
            state = slot.state
            if state is not None and self.clock() >= self.expires_at(state):
                slot.state = None
                self.on_close(state, "expired")
            yield slot
            if slot.state is not None:
                slot.state.last_activity_at = self.clock()
        finally:
            cold = None
            with self._guard:
                if slot.state is None:
                    self._slots.pop(session_id, None)
                    self._hot.pop(session_id, None)
                else:
                    self._slots.move_to_end(session_id)
                    self._hot[session_id] = slot
                    self._hot.move_to_end(session_id)
                    if len(self._hot) > self.hot:
                        cold = self._hot.popitem(last=False)[1]
            slot.lock.release()
        if cold is not None and cold.lock.acquire(blocking=False):  # one in use now goes back to hot after
            try:
                cold.pack()
            finally:
                cold.lock.release()
        self._evict_over_bound()

    def _take(self, session_id: str) -> Slot:
        """The session's slot (made if there is none), its lock held. A free lock is taken under the guard, so
        the slot is current (only a guard holder drops one); a busy one is waited for without the guard, then
        the slot is checked again, since it may have been dropped meanwhile."""
        while True:
            with self._guard:
                slot = self._slots.get(session_id)
                if slot is None:
                    slot = self._slots[session_id] = Slot()
                if slot.lock.acquire(blocking=False):
                    return slot
            slot.lock.acquire()
            with self._guard:
                if self._slots.get(session_id) is slot:
                    return slot
            slot.lock.release()  # the slot was dropped while we waited for it: take the new one

    def commit_actions(self, slot: Slot, actions: Sequence[bytes]) -> bool:
        """The caller publishes a call's actions after the commit: the bus is in this process too."""
        return False

    def end(self, slot: Slot, reason: str) -> SessionState | None:
        state, slot.state = slot.state, None
        if state is not None:
            self.on_close(state, reason)
        return state

    def expire_idle(self) -> int:
        now = self.clock()
        with self._guard:
            candidates = [sid for sid, slot in self._slots.items()
                          if slot.live and now >= slot.last_activity + self.idle_timeout]
        return sum(self._close_if(sid, lambda state: now >= self.expires_at(state), "expired") for sid in candidates)

    def close(self) -> None:
        """Nothing to release: the sessions live in this process."""

    def close_all(self, reason: str = "shutdown") -> int:
        with self._guard:
            ids = list(self._slots)
        return sum(self._close_if(sid, lambda state: True, reason) for sid in ids)

    def _evict_over_bound(self) -> None:
        """Close the least recently active sessions beyond the bound; one in use now is left for next time."""
        while len(self._slots) > self.max_sessions:
            with self._guard:
                oldest = next(iter(self._slots), None)
            if oldest is None or not self._close_if(oldest, lambda state: True, "evicted", wait=False):
                return

    def _close_if(self, session_id: str, predicate: Callable[[SessionState], bool], reason: str,
                  wait: bool = True) -> bool:
        with self._guard:
            slot = self._slots.get(session_id)
        if slot is None or not slot.lock.acquire(timeout=5 if wait else 0):
            return False
        try:
            state = slot.state
            if state is None or not predicate(state):
                return False
            slot.state = None
            with self._guard:
                if self._slots.get(session_id) is slot:
                    del self._slots[session_id]
                self._hot.pop(session_id, None)
            self.on_close(state, reason)
            return True
        finally:
            slot.lock.release()
