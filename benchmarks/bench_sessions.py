"""PostEvent over gRPC against `segflow serve` with sessions in memory vs in Redis, in the same run.

One segflow process (`--processes 1`), the example ruleset, `add_to_cart` on 1 or 16 sessions, loaded by h2load
as bench_grpc does; each Redis run on a fresh prefix of `--redis` (its keys deleted after). Figures: throughput,
p50 and server CPU per call of Redis against memory, median over rounds; and, for more than one call in flight,
two replicas on Redis (`--processes 2`: two worker processes, each pinned to a core, sharing the sessions in
Redis as two hosts would) against one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import redis

from benchmarks.bench_grpc import Row, frame, measure, segflow_events, start_segflow, start_sessions
from benchmarks.workloads import WORKLOADS, add_to_cart


def run(round_: int, store: str, url: str, in_flight: int, seconds: float, work: Path, processes: int = 1) -> Row:
    bodies = []
    for n in range(in_flight):
        body = work / f"body-{n}.bin"
        body.write_bytes(frame(add_to_cart(f"bench-sessions-{in_flight}-{n}", n)))
        bodies.append(body)
    ruleset = work / "example.yaml"
    ruleset.write_text(WORKLOADS["example"])
    with tempfile.TemporaryDirectory(dir=work) as data_dir:
        server = start_segflow(ruleset, data_dir, processes, multi=True, flags=("--sessions-url", url))
        try:
            ids = start_sessions(server.target, "example", in_flight, f"bench-sessions-{in_flight}")
            return measure(Row(round_, "example", store, processes, in_flight, seconds), server, bodies,
                           lambda: segflow_events(server.target, ids), work, 0.5)
        finally:
            server.stop()


def summarise(rows: list[Row], flight: int) -> dict:
    """Medians over rounds, at `flight` calls in flight, of Redis against memory (one process each) and of two
    Redis replicas against one."""
    by_round: dict[int, dict[tuple[str, int], Row]] = {}
    for row in rows:
        if row.in_flight == flight:
            by_round.setdefault(row.round, {})[row.server, row.processes] = row
    pairs = [(runs["memory", 1], runs["redis", 1]) for runs in by_round.values()]
    summary = {
        "in_flight": flight, "rounds": len(pairs),
        "throughput_redis_vs_memory": statistics.median(r.per_second / m.per_second for m, r in pairs),
        "p50_overhead_ms": statistics.median(r.p50_ms - m.p50_ms for m, r in pairs),
        "cpu_per_call_redis_vs_memory": statistics.median(
            r.server_cpu_us_per_call / m.server_cpu_us_per_call for m, r in pairs),
        "verified": all(row.verified for runs in by_round.values() for row in runs.values())}
    line = (f"in flight {flight:2d}: Redis {summary['throughput_redis_vs_memory']:.2f}x memory's throughput, "
            f"p50 {summary['p50_overhead_ms']:+.2f} ms, CPU per call {summary['cpu_per_call_redis_vs_memory']:.2f}x")
    replicas = [runs["redis", 2].per_second / runs["redis", 1].per_second
                for runs in by_round.values() if ("redis", 2) in runs]
    if replicas:
        summary["throughput_2_replicas_vs_1"] = statistics.median(replicas)
        line += f"; 2 Redis replicas {summary['throughput_2_replicas_vs_1']:.2f}x one"
    print(line)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sessions.json"))
    options = parser.parse_args()
    prefix = f"bench-sessions-{uuid.uuid4().hex[:8]}-"
    # (store, processes); two replicas only where calls run at once
    runs = [("memory", 1), ("redis", 1), ("redis", 2)]
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sessions-") as work:
            for number, (round_, flight, (store, processes)) in enumerate(
                    itertools.product(range(options.rounds), options.in_flight, runs)):
                if processes > 1 and flight == 1:
                    continue
                # Each Redis run on keys of its own, so it starts from new sessions as the memory store's does
                # (on shared keys, each round's sessions carried every earlier round's events).
                url = f"{options.redis}?prefix={prefix}{number}:" if store == "redis" else "memory"
                row = run(round_, store, url, flight, options.seconds, Path(work), processes)
                rows.append(row)
                print(f"{store:6s} x{processes} in flight {flight:2d}: {row.per_second:7.0f}/s  p50 {row.p50_ms:5.2f} ms"
                      f"  server CPU {row.server_cpu_us_per_call:5.0f} µs/call  "
                      f"{'verified' if row.verified else 'UNVERIFIED'}", flush=True)
    finally:
        client = redis.Redis.from_url(options.redis)
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key)
    summary = [summarise(rows, flight) for flight in options.in_flight]
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({"command": " ".join(["python -m benchmarks.bench_sessions", *sys.argv[1:]]),
                                       "summary": summary, "rows": [vars(r) for r in rows]}, indent=2, default=str))


if __name__ == "__main__":
    main()
