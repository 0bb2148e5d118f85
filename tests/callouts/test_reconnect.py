"""A remote callout whose server is away keeps trying to reconnect at least every breaker_reset, so it recovers
within that once the server is back, not after gRPC's default backoff has grown to seconds or minutes (#11.10)."""

from __future__ import annotations

import socket
import threading
import time

from segflow.server.callouts import CalloutRegistry
from tests.callouts.helpers import definition


class RefusingServer:
    """A TCP port that accepts each connection and closes it at once, counting them: a server that is down."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = self.socket.getsockname()[1]
        self.attempts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.attempts += 1
            connection.close()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.socket.close()


def test_a_remote_callout_retries_its_connection_within_breaker_reset():
    down = RefusingServer()
    try:
        stock = definition("stock_level", target=f"127.0.0.1:{down.port}", default=-1, breaker_failures=1,
                           timeout=0.1, breaker_reset=0.3, cache_ttl=0)
        with CalloutRegistry.from_definitions([stock]) as registry:
            until = time.monotonic() + 2.0
            while time.monotonic() < until:
                assert registry.call("stock_level", ("TV",)) == -1
                time.sleep(0.05)
        # gRPC's default backoff (1 s, then x1.6) tries 2 or 3 times in 2 s; every 0.3 s at most is 6 or more
        assert down.attempts >= 5
    finally:
        down.close()
