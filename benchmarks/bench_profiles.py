"""Customer memory benchmark: what remembering costs a PostEvent, over gRPC and in the engine.

    python -m benchmarks.bench_profiles [--quick] [--out benchmarks/results/profiles.json]

One ruleset (the example plus two events), one `segflow serve` in its own process, one identified customer
session per event kind, calls interleaved so both see the same machine load:
- `plain`: a rule whose condition reads a session attribute and assigns a session attribute;
- `remembered`: the same rule shape, but its condition is a windowed `EVENT_COUNT(..., INTERVAL '30' DAY)`
  over the customer's counters and it assigns a `scope: profile` attribute, so every call also counts
  the event, changes the profile and queues its write-back.
Reports p50/mean latency of each over gRPC (sequential calls, one client), and µs per PostEvent in the engine
alone (no network) for both; ratios are remembered / plain. Also: StartSession of an identified customer whose
profile is stored (a load from the database, then the cache) against an anonymous StartSession.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import grpc
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc, session_pb2

from benchmarks.bench_grpc import start_segflow
from segflow.rules.values import to_value
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.history import RulesetVersions, open_sink
from segflow.server.profiles.store import ProfileStore
from segflow.server.rulesets import RulesetRegistry, Source
from segflow.server.runtime.engine import Engine
from segflow.server.sessions.store import MemorySessionStore

RULES = """
  - id: bench-plain
    on: [plain]
    if: cart_total >= 0
    then: [{expression: {expression: "cart_items + 1", assign_to: cart_items}}]
  - id: bench-remembered
    on: [remembered]
    if: EVENT_COUNT('remembered', INTERVAL '30' DAY) >= 0
    then: [{expression: {expression: "COALESCE(lifetime_value, 0) + 1", assign_to: lifetime_value}}]
"""
KINDS = ("plain", "remembered")


def ruleset() -> str:
    text = EXAMPLE_RULESET.replace("\nrules:\n", "\nrules:\n" + RULES, 1)
    return text.replace("\nevents:\n", "\nevents:\n  - name: plain\n  - name: remembered\n", 1)


def customer(n: str) -> session_pb2.Audience:
    return session_pb2.Audience(level="Customer", id_fields={"customer_id": to_value(f"bench-{n}")})


def grpc_costs(target: str, calls: int) -> dict[str, dict[str, float]]:
    """ms per PostEvent of each kind, calls interleaved; and ms per StartSession, anonymous or identified."""
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS} | {"start_anonymous": [], "start_identified": []}
    with grpc.insecure_channel(target) as channel:
        stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
        requests = {}
        for kind in KINDS:
            stub.StartSession(pb.StartSessionRequest(session_id=kind, audience=customer(kind)))
            requests[kind] = pb.PostEventRequest(session_id=kind, event=session_pb2.Event(name=kind))
        for i in range(calls + 200):  # the first 200 warm up
            for kind in KINDS:
                began = time.perf_counter()
                stub.PostEvent(requests[kind], timeout=10)
                if i >= 200:
                    latencies[kind].append((time.perf_counter() - began) * 1000)
        for i in range(min(calls, 2_000)):
            for kind, audience in (("start_anonymous", None), ("start_identified", customer("remembered"))):
                began = time.perf_counter()
                stub.StartSession(pb.StartSessionRequest(session_id=f"{kind}-{i}", audience=audience), timeout=10)
                latencies[kind].append((time.perf_counter() - began) * 1000)
    return {kind: {"p50_ms": statistics.median(values), "mean_ms": statistics.fmean(values), "calls": len(values)}
            for kind, values in latencies.items()}


def engine_costs(events: int) -> dict[str, float]:
    """µs per PostEvent of each kind in the engine alone (profiles written to an in-memory SQLite)."""
    registry = RulesetRegistry(RulesetVersions(open_sink("sqlite://:memory:").database))
    registry.deploy(Source(yaml=ruleset()))
    clock = lambda: datetime(2026, 1, 1, tzinfo=timezone.utc)  # noqa: E731 - a fixed clock: no expiry
    store = MemorySessionStore(idle_timeout=timedelta(hours=1), max_sessions=10_000, clock=clock)
    profiles = ProfileStore.in_memory()
    engine = Engine(registry, store, clock=clock, profiles=profiles)
    costs = {}
    try:
        for kind in KINDS:
            engine.start_session(pb.StartSessionRequest(session_id=kind, audience=customer(kind)))
        requests = {kind: pb.PostEventRequest(session_id=kind, event=session_pb2.Event(name=kind)) for kind in KINDS}
        for kind in KINDS * 2:  # each measured twice, alternating; the second round is kept
            for _ in range(200):
                engine.post_event(requests[kind])
            began = time.perf_counter()
            for _ in range(events):
                engine.post_event(requests[kind])
            costs[kind] = (time.perf_counter() - began) / events * 1e6
    finally:
        profiles.close()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/profiles.json"))
    options = parser.parse_args()
    calls = 500 if options.quick else 5_000
    events = 2_000 if options.quick else 20_000

    engine = engine_costs(events)
    with tempfile.TemporaryDirectory() as data_dir:
        path = Path(data_dir) / "bench_profiles.yaml"
        path.write_text(ruleset())
        server = start_segflow(path, data_dir, 1)
        try:
            remote = grpc_costs(server.target, calls)
        finally:
            server.stop()

    ratios = {
        "grpc_post_event_p50": remote["remembered"]["p50_ms"] / remote["plain"]["p50_ms"],
        "grpc_post_event_mean": remote["remembered"]["mean_ms"] / remote["plain"]["mean_ms"],
        "engine_post_event": engine["remembered"] / engine["plain"],
        "grpc_start_session_p50": remote["start_identified"]["p50_ms"] / remote["start_anonymous"]["p50_ms"],
    }
    for kind in KINDS:
        print(f"PostEvent {kind:10s}  gRPC p50 {remote[kind]['p50_ms']:.3f} ms  mean {remote[kind]['mean_ms']:.3f} ms"
              f"  engine {engine[kind]:7.1f} µs")
    print(f"remembered / plain: gRPC p50 {ratios['grpc_post_event_p50']:.2f}x, mean "
          f"{ratios['grpc_post_event_mean']:.2f}x, engine {ratios['engine_post_event']:.2f}x")
    print(f"StartSession identified (profile loaded) / anonymous: gRPC p50 {ratios['grpc_start_session_p50']:.2f}x "
          f"({remote['start_identified']['p50_ms']:.3f} vs {remote['start_anonymous']['p50_ms']:.3f} ms)")
    results = {"machine": {"python": platform.python_version(), "platform": platform.platform()},
               "grpc": remote, "engine_us": engine, "ratios": ratios}
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
