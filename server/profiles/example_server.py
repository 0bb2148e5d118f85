"""A small remote ProfileService: to try profile sources, and to test against.

    python -m segflow.server.profiles.example_server --port 50062
    python -m segflow.server.profiles.example_server --port 0 --delay-ms 500 --slow customer_id=c-slow

For any customer it answers `tier` (bronze, silver or gold, from a hash of the customer id) and
`member_since` (a fixed date), for the attributes the request asks for. `--delay-ms` makes it slow (only for
the customer ids named by `--slow`, or for all). On start it prints `listening on HOST:PORT` on stdout.
"""

import argparse
import signal
import sys
import threading
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import grpc
from segflow.v1 import profile_service_pb2, profile_service_pb2_grpc

from segflow.rules.values import to_value

_TIERS = ("bronze", "silver", "gold")
MEMBER_SINCE = datetime(2020, 1, 1, tzinfo=timezone.utc)


def profile_of(customer_id: str) -> dict[str, Any]:
    return {"tier": _TIERS[zlib.crc32(customer_id.encode()) % 3], "member_since": MEMBER_SINCE}


class ExampleProfileService(profile_service_pb2_grpc.ProfileServiceServicer):
    """Serves `profile_of`, optionally delayed for some customers."""

    def __init__(self, *, delay_ms: int = 0, slow: Iterable[str] = ()) -> None:
        self._delay = delay_ms / 1000
        self._slow = frozenset(slow)

    def LoadProfile(self, request: profile_service_pb2.LoadProfileRequest, context: grpc.ServicerContext):
        if self._delay and (not self._slow or request.customer_id in self._slow):
            finished = threading.Event()  # wake early when the client gives up
            context.add_callback(finished.set)
            finished.wait(self._delay)
        known = profile_of(request.customer_id)
        wanted = set(request.attributes) or set(known)
        return profile_service_pb2.LoadProfileResponse(
            attributes={name: to_value(value) for name, value in known.items() if name in wanted})


def create_server(port: int = 0, host: str = "127.0.0.1", **behaviour: Any) -> tuple[grpc.Server, int]:
    """Return the (unstarted) server and its bound port; `behaviour` goes to ExampleProfileService."""
    server = grpc.server(ThreadPoolExecutor(max_workers=16, thread_name_prefix="example-profiles"))
    profile_service_pb2_grpc.add_ProfileServiceServicer_to_server(ExampleProfileService(**behaviour), server)
    return server, server.add_insecure_port(f"{host}:{port}")


def main(argv: Sequence[str] | None = None) -> None:
    """Run the example server until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50062, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=int, default=0, help="answer this much later")
    parser.add_argument("--slow", action="append", default=[], help="delay only this customer id (repeatable)")
    options = parser.parse_args(argv)
    server, port = create_server(options.port, options.host, delay_ms=options.delay_ms, slow=options.slow)
    server.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop(grace=1))
    print(f"listening on {options.host}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
