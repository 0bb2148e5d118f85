"""Sessions in an LMDB file every process of the host maps, so any worker of `segflow serve --processes N`
serves any call of any session, with the semantics of the memory and Redis stores.

The environment (one directory: LMDB's `data.mdb` and `lock.mdb`, and `sessions.locks`) holds named databases:
- `sessions`: session id -> last activity (8 bytes, microseconds since the epoch) + the encoded `SessionState`
  (`server.sessions.codec`);
- `active`: last activity + session id -> nothing: idle sessions and eviction candidates in activity order;
- `journeys` (`server.sessions.lmdb_journeys`) and `actions` (`server.workers.actionlog`) live beside them.

A call holds its session's lock from reading the session to writing it back: a striped lock that is a thread
lock within the process and a POSIX record lock (`fcntl.lockf` on one byte of `sessions.locks`) across
processes, which the kernel releases when a process dies, so a killed worker never wedges a session. The write
is one LMDB write transaction (session and index together), committed before the lock is released, so the
next call on the session in any process sees it. Closing a session (expired, evicted) deletes it under its lock
before `on_close` runs, so exactly one process reports it. Commits are not fsynced: sessions survive a process
crash (the pages are in the kernel's cache), not a machine crash, like the memory store's.

Each process keeps the sessions it last read or wrote decoded (`hot` of them, least recently used dropped), with
the record they match: a call reads the record (it must, under the lock, to see another worker's change) and
decodes it only if it differs from the one kept, so a visit served by one worker (a client's connection stays
on one) pays no decoding, and one whose calls alternate between workers decodes each change once.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import threading
import time
import zlib
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import lmdb

from segflow.server.sessions import codec
from segflow.server.sessions.state import SessionState
from segflow.server.sessions.store import OnClose

_MOMENT = struct.Struct(">Q")  # microseconds since the epoch: big-endian, so keys sort in time order
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Stripes of the session locks: two sessions share a lock with probability 1/STRIPES.
STRIPES = 4096
# LMDB reserves address space, not memory or disk: pages are used as sessions are written.
MAP_SIZE = 64 << 30

_opened: dict[Path, tuple[lmdb.Environment, "StripedLocks"]] = {}
_opening = threading.Lock()


def open_environment(path: str | Path) -> tuple[lmdb.Environment, "StripedLocks"]:
    """The process's one LMDB environment at `path` (LMDB allows one per process), created if need be, and its
    session locks (one per process too: closing a second descriptor of the file would drop every record lock)."""
    path = Path(path).resolve()
    with _opening:
        opened = _opened.get(path)
        if opened is None:
            path.mkdir(parents=True, exist_ok=True)
            # writemap: a commit writes the pages in place in the shared map instead of one pwrite(2) each,
            # ~5 µs instead of ~40 per transaction (the file is sized to MAP_SIZE, sparse).
            env = lmdb.open(str(path), map_size=MAP_SIZE, max_dbs=8, sync=False, metasync=False, writemap=True,
                            max_readers=1024)
            opened = _opened[path] = env, StripedLocks(path / "sessions.locks")
        return opened


def moment(at: datetime) -> bytes:
    return _MOMENT.pack((at - _EPOCH) // timedelta(microseconds=1))


class StripedLocks:
    """Locks by key, shared by the threads of this process and by every process that opens the same file."""

    def __init__(self, path: Path, stripes: int = STRIPES):
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # never closed (see open_environment)
        self._threads = [threading.Lock() for _ in range(stripes)]
        self._stripes = stripes

    @contextmanager
    def held(self, key: str, wait: bool = True) -> Iterator[bool]:
        """Hold the key's lock for the block; yields False (holding nothing) if `wait` is False and it is taken."""
        stripe = zlib.crc32(key.encode()) % self._stripes  # the same in every process, unlike hash()
        lock = self._threads[stripe]
        if not lock.acquire(blocking=wait):
            yield False
            return
        try:
            if not self._lock(stripe, wait):
                yield False
                return
            try:
                yield True
            finally:
                fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, stripe)
        finally:
            lock.release()

    def _lock(self, stripe: int, wait: bool) -> bool:
        while True:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB, 1, stripe)
                return True
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES) and not wait:
                    return False
                # The kernel sees record locks per process, not per thread, so two processes whose threads
                # wait on each other's stripes look deadlocked to it; they are not: the holders finish.
                if exc.errno != errno.EDEADLK:
                    raise
                time.sleep(0.0002)


class DecodedSessions:
    """The sessions a process last wrote (or read), decoded, each with the record it was written as or read from.

    A state is taken out while a call holds it (the call changes it in place) and kept again with the record
    written at the end of the call, so a kept state is always the one its record was encoded from."""

    def __init__(self, size: int):
        self._kept: OrderedDict[str, tuple[bytes, SessionState]] = OrderedDict()
        self._size = size
        self._guard = threading.Lock()

    def take(self, session_id: str, record) -> SessionState | None:
        """The state kept for `session_id` if it was kept with this record (bytes or a buffer), else None;
        either way nothing is kept for it any more."""
        with self._guard:
            kept = self._kept.pop(session_id, None)
        return kept[1] if kept is not None and kept[0] == record else None

    def keep(self, session_id: str, record: bytes, state: SessionState) -> None:
        with self._guard:
            self._kept[session_id] = (record, state)
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def drop(self, session_id: str) -> None:
        with self._guard:
            self._kept.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._kept)


class LmdbSlot:
    """A session's slot for one call: the state the caller reads and sets."""

    __slots__ = ("state",)

    def __init__(self, state: SessionState | None):
        self.state = state


class LmdbSessionStore:
    """A `SessionStore` shared by every process of the host that opens the same directory."""

    def __init__(self, path: str | Path, *, idle_timeout: timedelta, max_sessions: int,
                 clock: Callable[[], datetime], on_close: OnClose = lambda state, reason: None,
                 closes_on_shutdown: bool = False, hot: int = 10_000):
        """`closes_on_shutdown`: whether `close_all` closes the sessions (the last worker of a host to stop)
        or leaves them to the other processes (every other one). `hot`: how many sessions this process keeps
        decoded."""
        self.path = Path(path)
        self.env, self._locks = open_environment(path)
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.clock = clock
        self.on_close = on_close
        self.closes_on_shutdown = closes_on_shutdown
        self._sessions = self.env.open_db(b"sessions")
        self._active = self.env.open_db(b"active")
        self.decoded = DecodedSessions(hot)

    def __len__(self) -> int:
        with self.env.begin() as txn:
            return txn.stat(self._sessions)["entries"]

    def expires_at(self, state: SessionState) -> datetime:
        return state.last_activity_at + self.idle_timeout

    @contextmanager
    def locked(self, session_id: str) -> Iterator[LmdbSlot]:
        live = 0
        with self._locks.held(session_id):
            slot = LmdbSlot(self._load(session_id))
            if slot.state is not None and self.clock() >= self.expires_at(slot.state):
                self._close(session_id, slot, "expired")
            loaded = slot.state is not None
            try:
                yield slot
                if slot.state is not None:
                    slot.state.last_activity_at = self.clock()
            finally:
                # Kept even when the call failed half-way, as the memory store keeps what it changed.
                if loaded or slot.state is not None:
                    live = self._write(session_id, slot.state)
        if live > self.max_sessions:
            self._evict(live - self.max_sessions)

    def commit_actions(self, slot: LmdbSlot, actions) -> bool:
        """The caller publishes a call's actions after the commit, to the host's action log."""
        return False

    def end(self, slot: LmdbSlot, reason: str) -> SessionState | None:
        """Remove the slot's session (inside `locked`: deleted on exit), reporting it closed."""
        state, slot.state = slot.state, None
        if state is not None:
            self.on_close(state, reason)
        return state

    def expire_idle(self) -> int:
        """Close the sessions idle past the timeout, in whichever process calls it first; returns how many this
        call closed. A session in use now is skipped: its call renews it."""
        cutoff = moment(self.clock() - self.idle_timeout)
        ids = []
        with self.env.begin(db=self._active) as txn:
            for key in txn.cursor().iternext(values=False):
                if key[:8] > cutoff:
                    break
                ids.append(key[8:].decode())
        return sum(self._close_if(sid, lambda state: self.clock() >= self.expires_at(state), "expired")
                   for sid in ids)

    def close_all(self, reason: str = "shutdown") -> int:
        """Close every session if this process `closes_on_shutdown` (the host's last), else none: the other
        processes go on serving them."""
        if not self.closes_on_shutdown:
            return 0
        with self.env.begin(db=self._sessions) as txn:
            ids = [key.decode() for key in txn.cursor().iternext(values=False)]
        return sum(self._close_if(sid, lambda state: True, reason, wait=True) for sid in ids)

    def close(self) -> None:
        """Nothing to release: the environment stays open for the process's other users (journeys, actions)."""

    # -- helpers ----------------------------------------------------------------------------------

    def _load(self, session_id: str) -> SessionState | None:
        """The session (under its lock): the one this process kept if nobody changed it since, else decoded."""
        with self.env.begin(db=self._sessions, buffers=True) as txn:
            record = txn.get(session_id.encode())
            if record is None:
                self.decoded.drop(session_id)
                return None
            state = self.decoded.take(session_id, record)
            if state is not None:
                return state
            data = bytes(record[8:])
        return codec.decode(data)

    def _write(self, session_id: str, state: SessionState | None) -> int:
        """Store (or delete) the session and its index entry in one transaction; how many sessions are live."""
        key = session_id.encode()
        record = None if state is None else moment(state.last_activity_at) + codec.encode(state)
        with self.env.begin(write=True) as txn:
            old = txn.get(key, db=self._sessions)
            if old is not None:
                txn.delete(old[:8] + key, db=self._active)
            if record is None:
                txn.delete(key, db=self._sessions)
            else:
                txn.put(key, record, db=self._sessions)
                txn.put(record[:8] + key, b"", db=self._active)
            live = txn.stat(self._sessions)["entries"]
        if state is not None:  # committed: the record is the state's
            self.decoded.keep(session_id, record, state)
        return live

    def _close(self, session_id: str, slot: LmdbSlot, reason: str) -> None:
        """Delete the slot's session now, then report it: the process that deleted it is the only one to."""
        state, slot.state = slot.state, None
        self._write(session_id, None)
        self.on_close(state, reason)

    def _close_if(self, session_id: str, predicate: Callable[[SessionState], bool], reason: str,
                  wait: bool = False) -> bool:
        """Close a session if it is live and `predicate` holds under its lock; a busy one is left alone unless
        `wait`."""
        with self._locks.held(session_id, wait=wait) as held:
            if not held:
                return False
            slot = LmdbSlot(self._load(session_id))
            if slot.state is None or not predicate(slot.state):
                return False
            self._close(session_id, slot, reason)
            return True

    def _evict(self, excess: int) -> None:
        """Close the least recently active sessions beyond the bound; those in use now are left for next time."""
        with self.env.begin(db=self._active) as txn:
            ids = [key[8:].decode() for _, key in zip(range(excess), txn.cursor().iternext(values=False))]
        for sid in ids:
            self._close_if(sid, lambda state: len(self) > self.max_sessions, "evicted")
