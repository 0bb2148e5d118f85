"""Engine benchmark of PostEvent: µs per call through the runtime, no network, on named workloads.

    python -m benchmarks.bench_service [--quick] [--out benchmarks/results/service.json]

Measures, in one run, µs per PostEvent in the engine on:
- the shipped example ruleset and the large generated one (`benchmarks/workloads.py`: 200 segments, 50 rules
  on the event), `add_to_cart` on 16 sessions in turn;
- a rule on a `bench` event added to the example whose condition reads an attribute, the same rule reading
  a cached EXTERNALCALLOUT instead, and the same with `explain` turned on.
The service over gRPC, against a no-op ceiling, is `benchmarks/bench_grpc.py`. Prints a table, writes JSON
and a PNG next to it.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from segflow.v1 import decision_service_pb2 as pb, session_pb2

from benchmarks.workloads import WORKLOADS, add_to_cart, start_request
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


def workload_cost(workload: str, events: int) -> float:
    """µs per PostEvent of `add_to_cart` on 16 sessions of a named workload, in the engine alone."""
    engine = engine_for(WORKLOADS[workload])
    requests = []
    for n in range(16):
        engine.start_session(start_request(workload, f"bench-{n}", n))
        requests.append(add_to_cart(f"bench-{n}", n))
    for i in range(200):  # warm up caches
        engine.post_event(requests[i % 16])
    began = time.perf_counter()
    for i in range(events):
        engine.post_event(requests[i % 16])
    return (time.perf_counter() - began) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/service.json"))
    options = parser.parse_args()
    events = 2_000 if options.quick else 20_000

    attribute = engine_cost(ruleset_with(ATTRIBUTE_RULE), events)
    callout = engine_cost(ruleset_with(CALLOUT_RULE), events)
    explained = engine_cost(ruleset_with(ATTRIBUTE_RULE), events, explain=True)
    print(f"engine PostEvent, attribute condition:       {attribute:8.1f} µs")
    print(f"engine PostEvent, cached callout condition:  {callout:8.1f} µs  ({callout / attribute:.2f}x)")
    print(f"engine PostEvent, explain on:                {explained:8.1f} µs  ({explained / attribute:.2f}x)")

    example = workload_cost("example", events // 2)
    large = workload_cost("large", events // 4)
    print(f"engine PostEvent add_to_cart, example ruleset: {example:8.1f} µs")
    print(f"engine PostEvent add_to_cart, large ruleset:   {large:8.1f} µs  ({large / example:.2f}x)")

    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "engine_us": {"attribute": attribute, "cached_callout": callout, "explain_on": explained},
        "workloads_us": {"example_add_to_cart": example, "large_add_to_cart": large},
        "ratios": {"cached_callout_vs_attribute": callout / attribute, "explain_on_vs_off": explained / attribute,
                   "large_vs_example": large / example},
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2))
    plot(results, options.out.with_suffix(".png"))
    print(f"wrote {options.out} and {options.out.with_suffix('.png')}")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    costs = {**results["engine_us"], **results["workloads_us"]}
    figure, axes = plt.subplots(figsize=(8, 4))
    axes.barh(list(costs), list(costs.values()))
    axes.set(xlabel="µs per PostEvent in the engine", title="Engine PostEvent cost")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
