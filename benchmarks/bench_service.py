"""Service benchmark: the cost of a PostEvent in the engine, and end to end over gRPC under concurrency.

    python -m benchmarks.bench_service [--quick] [--out benchmarks/results/service.json]

Measures, in one run:
- engine: µs per PostEvent through the runtime (no network) on the example ruleset, for a rule whose
  condition reads an attribute, the same rule reading a cached EXTERNALCALLOUT instead, and the same with
  `explain` turned off and on;
- gRPC: PostEvent throughput and p50/p99 latency against `segflow serve` in a separate process, with 1, 4 and
  16 concurrent clients on loopback (each client its own session), bounded in count and time.
Prints a table, writes JSON and a PNG of latency against concurrency next to it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc, session_pb2

from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.history import RulesetVersions, open_sink
from segflow.server.rulesets import RulesetRegistry, Source
from segflow.server.runtime.engine import Engine
from segflow.server.sessions.store import MemorySessionStore
from segflow.rules.values import to_value

CALLOUT_RULE = """
  - id: bench-rule
    on: [bench]
    if: EXTERNALCALLOUT('propensity', cart_total, 3) > 0.5
    then: [{expression: {expression: "cart_items + 1", assign_to: cart_items}}]
"""
ATTRIBUTE_RULE = """
  - id: bench-rule
    on: [bench]
    if: cart_total * 0.02 - 2.55 > 0
    then: [{expression: {expression: "cart_items + 1", assign_to: cart_items}}]
"""


def ruleset_with(rule: str) -> str:
    """The example ruleset plus a `bench` event and one rule listening to it."""
    text = EXAMPLE_RULESET.replace("\nrules:\n", "\nrules:\n" + rule, 1)
    return text.replace("\nevents:\n", "\nevents:\n  - name: bench\n", 1)


def engine_for(yaml: str) -> Engine:
    registry = RulesetRegistry(RulesetVersions(open_sink("sqlite://:memory:").database))
    registry.deploy(Source(yaml=yaml))
    clock = lambda: datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: E731 - a fixed clock: no expiry
    store = MemorySessionStore(idle_timeout=timedelta(hours=1), max_sessions=10_000, clock=clock)
    return Engine(registry, store, clock=clock)


def engine_cost(yaml: str, events: int, explain: bool = False) -> float:
    """µs per PostEvent of the `bench` event in the engine alone."""
    engine = engine_for(yaml)
    engine.start_session(pb.StartSessionRequest(session_id="bench", parameters={"cart_total": to_value(200.0)}))
    request = pb.PostEventRequest(session_id="bench", event=session_pb2.Event(name="bench"), explain=explain)
    for _ in range(200):  # warm up caches
        engine.post_event(request)
    began = time.perf_counter()
    for _ in range(events):
        engine.post_event(request)
    return (time.perf_counter() - began) / events * 1e6


def grpc_run(target: str, clients: int, seconds: float, max_calls: int) -> dict:
    """PostEvent from `clients` threads for `seconds` (or max_calls in all); latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        with grpc.insecure_channel(target) as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            session = f"load-{clients}-{n}"
            stub.StartSession(pb.StartSessionRequest(session_id=session))
            request = pb.PostEventRequest(session_id=session, event=session_pb2.Event(
                name="page_view", parameters={"category": to_value("shoes")}))
            mine = []
            while time.monotonic() < stop_at and len(mine) < max_calls // clients:
                began = time.perf_counter()
                stub.PostEvent(request, timeout=10)
                mine.append((time.perf_counter() - began) * 1000)
            with lock:
                latencies.extend(mine)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"clients": clients, "calls": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(len(latencies) * 0.99) - 1]}


def start_server(data_dir: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "segflow.server.cli", "serve", "--address", "127.0.0.1:0",
                                "--data-dir", data_dir, "--log-level", "WARNING"],
                               stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()  # "segflow serving on 127.0.0.1:PORT"
    target = line.split()[-1]
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(100):
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    break
            except grpc.RpcError:
                time.sleep(0.1)
    return process, target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/service.json"))
    options = parser.parse_args()
    events = 2_000 if options.quick else 20_000
    seconds = 2.0 if options.quick else 8.0

    attribute = engine_cost(ruleset_with(ATTRIBUTE_RULE), events)
    callout = engine_cost(ruleset_with(CALLOUT_RULE), events)
    explained = engine_cost(ruleset_with(ATTRIBUTE_RULE), events, explain=True)
    print(f"engine PostEvent, attribute condition:       {attribute:8.1f} µs")
    print(f"engine PostEvent, cached callout condition:  {callout:8.1f} µs  ({callout / attribute:.2f}x)")
    print(f"engine PostEvent, explain on:                {explained:8.1f} µs  ({explained / attribute:.2f}x)")

    with tempfile.TemporaryDirectory() as data_dir:
        process, target = start_server(data_dir)
        try:
            loads = [grpc_run(target, clients, seconds, 200_000) for clients in (1, 4, 16)]
        finally:
            process.terminate()
            process.wait(30)
    for load in loads:
        print(f"gRPC PostEvent, {load['clients']:2d} clients: {load['per_second']:8.0f}/s  "
              f"p50 {load['p50_ms']:.2f} ms  p99 {load['p99_ms']:.2f} ms  ({load['calls']} calls)")

    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "engine_us": {"attribute": attribute, "cached_callout": callout, "explain_on": explained},
        "ratios": {"cached_callout_vs_attribute": callout / attribute, "explain_on_vs_off": explained / attribute},
        "grpc": loads,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2))
    plot(loads, options.out.with_suffix(".png"))
    print(f"wrote {options.out} and {options.out.with_suffix('.png')}")


def plot(loads: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clients = [load["clients"] for load in loads]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(clients, [load["p50_ms"] for load in loads], marker="o", label="p50")
    left.plot(clients, [load["p99_ms"] for load in loads], marker="o", label="p99")
    left.set(xlabel="concurrent clients", ylabel="PostEvent latency (ms)", xscale="log", title="Latency")
    left.legend()
    right.plot(clients, [load["per_second"] for load in loads], marker="o")
    right.set(xlabel="concurrent clients", ylabel="PostEvent per second", xscale="log", title="Throughput")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
