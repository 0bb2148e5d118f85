"""Garbage-collector work per PostEvent: collections per generation, their pauses, and the heap they walk.

    python -m benchmarks.bench_gc [--calls 20000] [--warm-up 2000] [--workloads example [large]]
                                  [--out benchmarks/results/gc.json]

A full (generation 2) collection stops every call while it walks every object the collector tracks, so the
objects a server keeps per call (retained actions, cache keys) show as p99 latency. Each workload is served by
segflow's real Service in this process, as `benchmarks.bench_instructions` serves it, with the heap settled as
`segflow serve` settles it (`settle_heap`: a collection, then `gc.freeze`); bench_grpc's `add_to_cart` is posted
over a real channel, round robin over 16 sessions, warm-up calls first. During the measured calls a
`gc.callbacks` hook counts the collections of each generation and their total and longest pause; at the end it
reports the objects the collector tracks outside the frozen start-up heap (`gc.get_objects()`), and the calls'
latency percentiles as the in-process client saw them (noisy; the collection counts and heap are what repeat).
Writes JSON.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import grpc
from segflow.v1 import decision_service_pb2_grpc

from benchmarks.bench_instructions import SESSIONS, serve
from benchmarks.workloads import WORKLOADS, add_to_cart, start_request


class CollectorLog:
    """A `gc.callbacks` hook: collections and pause seconds per generation while installed."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.pause = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation, took = info["generation"], time.perf_counter() - self._started
        self.collections[generation] += 1
        self.pause[generation] += took
        self.longest[generation] = max(self.longest[generation], took)

    def __enter__(self) -> "CollectorLog":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


def measure(workload: str, calls: int, warm_up: int) -> dict:
    """Serve `workload`, settle the heap, warm up, then post `calls` PostEvents with the collector watched."""
    from segflow.server.app import settle_heap

    with tempfile.TemporaryDirectory() as work:
        port, stop = serve("segflow", workload, Path(work))
        try:
            settle_heap()
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
                for n in range(SESSIONS):
                    stub.StartSession(start_request(workload, f"s-{n}", n), timeout=60)
                requests = [add_to_cart(f"s-{n}", n) for n in range(SESSIONS)]
                for i in range(warm_up):
                    stub.PostEvent(requests[i % SESSIONS], timeout=60)
                latencies = []
                with CollectorLog() as log:
                    for i in range(calls):
                        began = time.perf_counter()
                        stub.PostEvent(requests[i % SESSIONS], timeout=60)
                        latencies.append(time.perf_counter() - began)
                tracked, frozen = len(gc.get_objects()), gc.get_freeze_count()
        finally:
            stop()
    latencies.sort()
    return {
        "workload": workload,
        "collections": dict(zip(("gen0", "gen1", "gen2"), log.collections)),
        "pause_ms": dict(zip(("gen0", "gen1", "gen2"), (round(s * 1e3, 2) for s in log.pause))),
        "longest_pause_ms": dict(zip(("gen0", "gen1", "gen2"), (round(s * 1e3, 2) for s in log.longest))),
        "tracked_unfrozen_objects": tracked,
        "frozen_objects": frozen,
        "latency_us": {name: round(latencies[int(q * (calls - 1))] * 1e6, 1)
                       for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="PostEvents measured")
    parser.add_argument("--warm-up", type=int, default=2_000, help="PostEvents before measuring")
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=["example"])
    parser.add_argument("--out", default="benchmarks/results/gc.json")
    options = parser.parse_args()
    results = []
    for workload in options.workloads:
        result = measure(workload, options.calls, options.warm_up)
        results.append(result)
        print(f"{workload:8s} collections {result['collections']} pause ms {result['pause_ms']} "
              f"tracked {result['tracked_unfrozen_objects']} latency us {result['latency_us']}", flush=True)
    Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    Path(options.out).write_text(json.dumps({"calls": options.calls, "warm_up": options.warm_up,
                                             "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
