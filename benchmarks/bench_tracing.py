"""What OpenTelemetry spans cost a PostEvent: one server with tracing off, one with it on, in the same run.

    python -m benchmarks.bench_tracing [--quick] [--calls 2000] [--rounds 3]
                                       [--out benchmarks/results/tracing.json]

Both servers run in this process (8 worker threads, the shipped example ruleset, whose segmentation calls the
in-process `propensity` callout: a server span and a callout span per PostEvent); one client posts
`add_to_cart` with a W3C traceparent, one call at a time over a real channel. "on" is `--otel-exporter`
with its spans batched to an exporter that drops them, so the figure is the cost of making spans, not of
shipping them. Each round measures off then on; the summary is the median over rounds of on/off for CPU
(client and server, one process) and wall time per call. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from segflow.v1 import decision_service_pb2_grpc

from benchmarks.workloads import add_to_cart, start_request
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.observability import tracing

TRACEPARENT = (("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),)


class DroppingExporter(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def per_call(mode: str, round_: int, calls: int, data_dir: Path) -> tuple[float, float]:
    """(CPU µs, wall µs) per PostEvent of `calls` sequential calls on a fresh server with tracing `mode`."""
    config = Config(address="127.0.0.1:0", data_dir=data_dir / f"{mode}-{round_}", workers=8, grace_seconds=1,
                    log_level="WARNING", otel_exporter="console" if mode == "on" else "none")
    service = create_service(config)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            sessions = [f"bench-tracing-{mode}-{round_}-{n}" for n in range(16)]
            for session in sessions:
                stub.StartSession(start_request("example", session, 0))
            for n in range(calls // 10):  # warm up
                stub.PostEvent(add_to_cart(sessions[n % 16], n), metadata=TRACEPARENT)
            cpu, wall = time.process_time(), time.perf_counter()
            for n in range(calls):
                stub.PostEvent(add_to_cart(sessions[n % 16], n), metadata=TRACEPARENT)
            return (time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6
    finally:
        service.stop(grace=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one round (a smoke run)")
    parser.add_argument("--calls", type=int, default=None, help="measured calls per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of off-then-on (default 3)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tracing.json"))
    options = parser.parse_args()
    calls = options.calls or (300 if options.quick else 2000)
    rounds = options.rounds or (1 if options.quick else 3)
    tracing.exporter_for = lambda name: DroppingExporter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-tracing-") as work:
        for round_ in range(rounds):
            for mode in ("off", "on"):
                cpu, wall = per_call(mode, round_, calls, Path(work))
                rows.append({"round": round_, "tracing": mode, "cpu_us_per_call": cpu, "wall_us_per_call": wall})
                print(f"round {round_} tracing {mode:3s}: CPU {cpu:6.0f} µs/call  wall {wall:6.0f} µs/call", flush=True)
    pairs = list(zip(rows[::2], rows[1::2]))
    summary = {
        "cpu_on_vs_off": statistics.median(on["cpu_us_per_call"] / off["cpu_us_per_call"] for off, on in pairs),
        "wall_on_vs_off": statistics.median(on["wall_us_per_call"] / off["wall_us_per_call"] for off, on in pairs),
        "cpu_us_per_call_added": statistics.median(
            on["cpu_us_per_call"] - off["cpu_us_per_call"] for off, on in pairs),
    }
    print(f"tracing on: CPU per call {summary['cpu_on_vs_off']:.2f}x (+{summary['cpu_us_per_call_added']:.0f} µs), "
          f"wall per call {summary['wall_on_vs_off']:.2f}x")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({
        "command": " ".join(["python -m benchmarks.bench_tracing", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": rows, "summary": summary}, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
