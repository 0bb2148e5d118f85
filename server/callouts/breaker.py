"""A circuit breaker that stops calling a callout after consecutive failures, then lets one trial through."""

import threading
from collections.abc import Callable


class CircuitBreaker:
    """Closed until `failures` consecutive failures; then open for `reset` seconds; then half-open.

    Half-open admits a single trial call: its success closes the breaker, its failure opens it again for
    another `reset` seconds. Thread-safe; `clock` is a monotonic time source in seconds.
    """

    def __init__(self, failures: int, reset: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half_open' (a trial call is allowed or in flight)."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if self._trial or self._clock() - self._opened_at >= self._reset:
                return "half_open"
            return "open"

    def allow(self) -> bool:
        """Return whether a call may go out now; a True in half-open state makes it the trial."""
        if self._opened_at is None:  # the common case, read without the lock
            return True
        with self._lock:
            if self._opened_at is None:
                return True
            if self._trial or self._clock() - self._opened_at < self._reset:
                return False
            self._trial = True
            return True

    def record_success(self) -> None:
        """Close the breaker and forget earlier failures."""
        if not self._failures and self._opened_at is None:  # the common case: nothing to forget, no lock
            return
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial = False

    def record_failure(self) -> bool:
        """Count a failure; return True if it opened the breaker."""
        with self._lock:
            self._failures += 1
            if self._trial or (self._opened_at is None and self._failures >= self._threshold):
                self._opened_at = self._clock()
                self._trial = False
                return True
            return False
