"""Lets calls in until the server stops, then answers new ones UNAVAILABLE and waits for the running ones.

grpcio cancels (CANCELLED) the calls it has received but not yet started when `server.stop()` begins, and
the ones still running when the grace period ends. Closing the gate first, while the server still serves,
answers every new call UNAVAILABLE (safe to retry elsewhere) and lets the running ones finish; once no call
has come for QUIET seconds (the ones grpcio had queued have all come through), the gRPC server is stopped with
nothing left to cancel. Clients that keep calling past the grace period can still see CANCELLED.
"""

from __future__ import annotations

import threading
import time

from segflow.server.errors import Unavailable

QUIET = 0.05


class Gate:
    def __init__(self):
        # Calls count in and out under the plain lock (a Condition's with-block costs two Python calls); close()
        # waits on the condition over the same lock.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running = 0
        self._last = 0.0  # when the last call came (time.monotonic())
        self.closed = False

    def enter(self) -> None:
        """Count a call in; raises Unavailable once the gate is closed."""
        with self._lock:
            self._last = time.monotonic()
            if self.closed:
                raise Unavailable("the server is shutting down", reason="SHUTTING_DOWN")
            self._running += 1

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                self._changed.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new calls; wait up to `timeout` seconds for the running ones to finish and for calls to stop
        coming for QUIET seconds. True when that happened in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self.closed = True
            while True:
                now = time.monotonic()
                if not self._running and now - self._last >= QUIET:
                    return True
                if now >= deadline:
                    return False
                self._changed.wait(min(deadline, self._last + QUIET) - now if not self._running else deadline - now)
