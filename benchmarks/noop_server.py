"""The ceiling bench_grpc measures segflow against: a grpcio DecisionService that answers every PostEvent with
an empty PostEventResponse, with segflow serve's thread-pool layout (one sync server, `--workers` threads).

    python -m benchmarks.noop_server --address 127.0.0.1:0 [--workers 32] [--cpu 0]

Prints `listening on HOST:PORT` once serving, and `served N` (the PostEvent calls answered so far) on SIGUSR1 and
when SIGTERM stops it, so a run is checked by a server-side count. Several of them may bind one port (grpcio sets
SO_REUSEPORT), which is the ceiling of a layout of several processes; `--cpu` pins one to a core.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import threading
from concurrent import futures

import grpc
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc


class NoopDecisions(decision_service_pb2_grpc.DecisionServiceServicer):
    """PostEvent does nothing but count; every other method is left unimplemented."""

    def __init__(self) -> None:
        self._calls = itertools.count()  # next() is atomic under the GIL: no lock on the hot path
        self._reads = 0  # each read takes a number too; only the main thread reads

    def PostEvent(self, request, context):
        next(self._calls)
        return pb.PostEventResponse()

    def served(self) -> int:
        """PostEvent calls answered so far."""
        count = next(self._calls) - self._reads
        self._reads += 1
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:0")
    parser.add_argument("--workers", type=int, default=32, help="threads serving calls (segflow serve's default)")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    options = parser.parse_args()
    if options.cpu is not None:
        os.sched_setaffinity(0, {options.cpu})
    servicer = NoopDecisions()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=options.workers))
    decision_service_pb2_grpc.add_DecisionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port(options.address)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: print(f"served {servicer.served()}", flush=True))
    server.start()
    print(f"listening on {options.address.rsplit(':', 1)[0]}:{port}", flush=True)
    stop.wait()
    server.stop(5).wait()
    print(f"served {servicer.served()}", flush=True)


if __name__ == "__main__":
    main()
