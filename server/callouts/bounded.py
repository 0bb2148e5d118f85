"""Puts one callout behind its bounds: result cache, single flight, concurrency limit, breaker and timeout.

Whatever happens, `call` returns within the callout's timeout (capped by the caller's deadline) with either
the value or the configured default, and exactly one outcome is counted for it.
"""

import enum
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol

from segflow.server.callouts.breaker import CircuitBreaker
from segflow.server.callouts.settings import CACHE_SIZE, CalloutSettings

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    """What happened to one call, as counted in stats and shown in explain traces."""

    HIT = "hit"  # served from the result cache
    MISS = "miss"  # not cached: the call went out and returned a value
    SHARED = "shared"  # an identical call was in flight; its value was shared
    TIMEOUT = "timeout"  # no answer within the timeout or the caller's deadline: default used
    ERROR = "error"  # the plugin raised or the remote call failed: default used
    BREAKER_OPEN = "breaker_open"  # the breaker is open after repeated failures: default used, nothing sent
    REJECTED = "rejected"  # max_concurrency calls already in flight: default used, nothing sent


# The outcomes as module names: reading a member through its Enum class is a slow class lookup (~4x a global).
HIT, MISS, SHARED, TIMEOUT, ERROR = Outcome.HIT, Outcome.MISS, Outcome.SHARED, Outcome.TIMEOUT, Outcome.ERROR
BREAKER_OPEN, REJECTED = Outcome.BREAKER_OPEN, Outcome.REJECTED


class Source(Protocol):
    """Where values come from: a plugin (inline or on a thread pool) or a remote CalloutService."""

    inline: bool  # True: `get` runs the call on the caller's thread; False: `submit` starts it elsewhere

    def get(self, args: tuple, *, audience: Any, session_id: str) -> Any:
        """Compute the value on this thread (inline sources only)."""

    def submit(self, args: tuple, *, audience: Any, session_id: str, timeout: float) -> Future:
        """Start a call; the future holds the value, TimeoutError, or another exception."""

    def close(self) -> None:
        """Release the source's resources."""


_NOT_CACHED = object()


class ResultCache:
    """Values for `ttl` seconds after they were stored, at most `size` of them, the oldest evicted first.

    In insertion order: with one TTL for every entry, insertion order is expiry order, so the oldest entry is
    the first to expire and the first to evict (a third of cachetools.TTLCache's cost). An OrderedDict, not a
    plain dict: evicting a plain dict's first key (`next(iter(d))`) scans the deleted entries before it, ~3 µs
    per put once a 10,000-entry cache is full, against 0.25 µs. Not thread-safe: the callout's lock guards it.
    """

    __slots__ = ("_values", "_size", "_ttl", "_clock")

    def __init__(self, size: int, ttl: float, clock: Callable[[], float]) -> None:
        self._values: OrderedDict[tuple, tuple[Any, float]] = OrderedDict()
        self._size, self._ttl, self._clock = size, ttl, clock

    def get(self, key: tuple) -> Any:
        """The value stored for `key` if it has not expired, else _NOT_CACHED."""
        entry = self._values.get(key)
        if entry is None:
            return _NOT_CACHED
        if entry[1] <= self._clock():
            del self._values[key]
            return _NOT_CACHED
        return entry[0]

    def put(self, key: tuple, value: Any) -> None:
        values = self._values
        values.pop(key, None)  # stored again: it goes to the end, with a new expiry
        values[key] = (value, self._clock() + self._ttl)
        if len(values) > self._size:
            values.popitem(last=False)


class BoundedCallout:
    """One named callout with its own cache, in-flight table, breaker, concurrency slots and counters."""

    def __init__(
        self, name: str, source: Source, settings: CalloutSettings, *, clock: Callable[[], float]
    ) -> None:
        self.name = name
        self._source = source
        self.remote = getattr(source, "remote", False)  # the values come from another process, for traces
        self._timeout = settings.timeout
        self._default = settings.default
        self._cache = ResultCache(CACHE_SIZE, settings.cache_ttl, clock) if settings.cache_ttl > 0 else None
        self._breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset, clock)
        # Calls holding one of the max_concurrency slots: a count under the lock (a BoundedSemaphore costs 2 µs).
        self._max_concurrency = settings.max_concurrency
        self._busy = 0
        # Guards the cache, the in-flight table, the slots and the counters; never held while waiting.
        self._lock = threading.Lock()
        # Calls in flight by key: None until a second identical call comes to wait for the first.
        self._in_flight: dict[tuple, Future | None] = {}
        self._counts = dict.fromkeys(Outcome, 0)

    @property
    def breaker(self) -> CircuitBreaker:
        """The callout's circuit breaker, for health reports."""
        return self._breaker

    def call(self, args: tuple, *, audience: Any, session_id: str, deadline: float | None) -> tuple[Any, Outcome]:
        """Return (value or default, outcome); `deadline` is an absolute time.monotonic() or None.

        A miss takes the lock twice: once to look in the cache and be admitted (the in-flight table, a
        concurrency slot, the breaker), once to store the value and count the outcome."""
        key = _cache_key(args)
        with self._lock:
            value = self._cache.get(key) if self._cache is not None else _NOT_CACHED
            if value is not _NOT_CACHED:
                self._counts[HIT] += 1
                return value, HIT
            leader = key not in self._in_flight
            if leader:
                self._in_flight[key] = None
                timeout = self._remaining(deadline)
                refusal = self._admit(timeout)
            else:  # follow the call in flight: its future is made by the first follower
                flight = self._in_flight[key]
                if flight is None:
                    flight = self._in_flight[key] = Future()
        if not leader:
            return self._follow(flight, deadline)
        value, outcome = self._default, refusal or ERROR
        try:
            if refusal is None:
                value, outcome = self._fetch(args, audience, session_id, timeout)
        finally:
            with self._lock:
                if refusal is None and self._source.inline:
                    self._busy -= 1
                if outcome is MISS and self._cache is not None:
                    self._cache.put(key, value)
                flight = self._in_flight.pop(key)
                self._counts[outcome] += 1
            if flight is not None:
                flight.set_result((value, outcome))
        return value, outcome

    def stats(self) -> dict[str, int]:
        """Return the number of calls per outcome so far."""
        with self._lock:
            return {str(outcome): count for outcome, count in self._counts.items()}

    def close(self) -> None:
        """Close the source (shuts a plugin down)."""
        self._source.close()

    def _remaining(self, deadline: float | None) -> float:
        if deadline is None:
            return self._timeout
        return min(self._timeout, deadline - time.monotonic())

    def _follow(self, flight: Future, deadline: float | None) -> tuple[Any, Outcome]:
        try:
            value, outcome = flight.result(timeout=max(self._remaining(deadline), 0.0))
        except TimeoutError:
            value, outcome = self._default, TIMEOUT
        else:
            if outcome is MISS:
                outcome = SHARED
        with self._lock:
            self._counts[outcome] += 1
        return value, outcome

    def _admit(self, timeout: float) -> Outcome | None:
        """Under the lock: take a concurrency slot for a call about to go out, or return why it may not go.
        The slot is checked before the breaker is asked, so that a half-open trial is never granted and then
        rejected; an inline call gives its slot back in `call`, a pooled one when its work ends."""
        if timeout <= 0:
            return TIMEOUT
        if self._busy >= self._max_concurrency:
            return REJECTED
        if not self._breaker.allow():
            return BREAKER_OPEN
        self._busy += 1
        return None

    def _fetch(self, args: tuple, audience: Any, session_id: str, timeout: float) -> tuple[Any, Outcome]:
        """Get the value from the source, holding the slot `_admit` took."""
        if self._source.inline:
            return self._inline(args, audience, session_id, timeout)
        try:
            future = self._source.submit(args, audience=audience, session_id=session_id, timeout=timeout)
        except Exception:
            self._release()
            return self._failed(ERROR)
        # The slot is held until the work itself ends, not just until this caller stops waiting.
        future.add_done_callback(self._release)
        try:
            value = future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()  # a plugin call still queued never runs
            return self._failed(TIMEOUT)
        except Exception:
            return self._failed(ERROR)
        self._breaker.record_success()
        return value, MISS

    def _inline(self, args: tuple, audience: Any, session_id: str, timeout: float) -> tuple[Any, Outcome]:
        """Run the call on this thread; a value that came later than `timeout` is discarded."""
        started = time.monotonic()
        try:
            value = self._source.get(args, audience=audience, session_id=session_id)
        except Exception:
            return self._failed(ERROR)
        if time.monotonic() - started > timeout:
            logger.warning("callout %s: an inline plugin call overran its %.3fs timeout; if it can block, set "
                           "blocking = True on its class", self.name, timeout)
            return self._failed(TIMEOUT)
        self._breaker.record_success()
        return value, MISS

    def _release(self, _future: Future | None = None) -> None:
        """Give back a pooled call's concurrency slot (also as its future's done callback)."""
        with self._lock:
            self._busy -= 1

    def _failed(self, outcome: Outcome) -> tuple[Any, Outcome]:
        logger.debug("callout %s: %s", self.name, outcome, exc_info=outcome is ERROR)
        if self._breaker.record_failure():
            logger.warning("callout %s: breaker opened after repeated failures (last: %s)", self.name, outcome)
        return self._default, outcome


# The types of argument a key holds as they are: hashable, and (beside the types) equal only for the same value.
_SCALARS = frozenset({type(None), bool, int, float, str, datetime})


def _cache_key(args: tuple) -> tuple:
    # Tagging the values with their types keeps 1, 1.0 and True apart; lists become hashable tuples. Scalars'
    # key is one flat tuple of the values then their types: holding no object the collector tracks, it is
    # untracked at its first collection, and is one object per cached entry instead of three.
    types = tuple(map(type, args))
    return args + types if _SCALARS.issuperset(types) else (types, tuple([_freeze(arg) for arg in args]))


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return (list, tuple(_freeze(item) for item in value))
    return (type(value), value)
