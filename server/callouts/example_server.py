"""A small remote CalloutService for retail rulesets: to try remote EXTERNALCALLOUT, and to test against.

    python -m server.callouts.example_server --port 50061
    python -m server.callouts.example_server --port 0 --delay-ms 500 --slow stock_level --fail credit_score

It serves `stock_level(sku)` (units in stock, 0..199) and `credit_score(customer_id)` (300..850), both
deterministic. `--delay-ms` makes callouts slow (only those named by `--slow`, or all), `--fail NAME`
makes a callout answer UNAVAILABLE. On start it prints `listening on HOST:PORT` on stdout.
"""

import argparse
import signal
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc

from segflow.v1 import callout_service_pb2, callout_service_pb2_grpc

from segflow.rules.values import from_value, to_value
from segflow.server.servicers.parsing import add_servicer


def _stock_level(sku: Any) -> int | None:
    return None if sku is None else zlib.crc32(str(sku).encode()) % 200


def _credit_score(customer_id: Any) -> int | None:
    return None if customer_id is None else 300 + zlib.crc32(str(customer_id).encode()) % 551


CALLOUTS: dict[str, Callable[..., Any]] = {"stock_level": _stock_level, "credit_score": _credit_score}


class ExampleCalloutService(callout_service_pb2_grpc.CalloutServiceServicer):
    """Serves CALLOUTS, optionally delayed or failing by name."""

    def __init__(self, *, delay_ms: int = 0, slow: Iterable[str] = (), failing: Iterable[str] = ()) -> None:
        self._delay = delay_ms / 1000
        self._slow = frozenset(slow) or frozenset(CALLOUTS)
        self._failing = frozenset(failing)

    def GetValue(self, request: callout_service_pb2.GetValueRequest, context: grpc.ServicerContext):
        function = CALLOUTS.get(request.name)
        if function is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no callout {request.name!r}; serving {sorted(CALLOUTS)}")
        if len(request.arguments) != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{request.name} takes 1 argument")
        if request.name in self._slow and self._delay:
            # Wake early when the client gives up, so a slow callout does not pin a server thread for nothing.
            finished = threading.Event()
            context.add_callback(finished.set)
            finished.wait(self._delay)
        if request.name in self._failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{request.name} is configured to fail")
        try:
            argument = from_value(request.arguments[0])
        except (OverflowError, ValueError) as exc:  # a timestamp out of range
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{request.name}: bad argument: {exc}")
        value = function(argument)
        return callout_service_pb2.GetValueResponse(value=to_value(value))


def create_server(port: int = 0, host: str = "127.0.0.1", **behaviour: Any) -> tuple[grpc.Server, int]:
    """Return the (unstarted) server and its bound port; `behaviour` goes to ExampleCalloutService."""
    server = grpc.server(ThreadPoolExecutor(max_workers=32, thread_name_prefix="example-callout"))
    add_servicer(ExampleCalloutService(**behaviour), callout_service_pb2.DESCRIPTOR.services_by_name["CalloutService"],
                 server)
    bound = server.add_insecure_port(f"{host}:{port}")
    return server, bound


def main(argv: Sequence[str] | None = None) -> None:
    """Run the example server until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50061, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=int, default=0, help="answer this much later")
    names = sorted(CALLOUTS)
    parser.add_argument("--slow", action="append", default=[], choices=names, help="delay only this one (repeatable)")
    parser.add_argument("--fail", action="append", default=[], choices=names, help="make this one fail (repeatable)")
    options = parser.parse_args(argv)
    server, port = create_server(
        options.port, options.host, delay_ms=options.delay_ms, slow=options.slow, failing=options.fail
    )
    server.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop(grace=1))
    # The bound port is the program's output (with --port 0 the caller learns it here).
    print(f"listening on {options.host}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
