"""What `--history-durability sync` costs: PostEvent over gRPC against `segflow serve` with batched history
(the reference) and with every call's history journaled before it answers, measured in the same run.

    python -m benchmarks.bench_durability [--quick] [--seconds 5] [--rounds 3] [--clients 4]
                                          [--out benchmarks/results/durability.json]

Each round starts `segflow serve` (SQLite history in a fresh data directory, the shipped example ruleset) once
per mode, in alternating order, and drives it from `--clients` client processes, each posting `add_to_cart`
(one log_data row and a journey step: two history records) on its own session, one call in flight, for
`--seconds`. Reports calls per second and p50/p99 latency per mode, and the median over rounds of the
sync / batched ratios. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from segflow.v1 import decision_service_pb2_grpc

from benchmarks.bench_grpc import _first_line, _wait_healthy
from benchmarks.workloads import add_to_cart, start_request

MODES = ("batched", "sync")


def serve(mode: str, data_dir: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--address", "127.0.0.1:0", "--data-dir", data_dir,
         "--history-durability", mode, "--log-level", "WARNING"], stdout=subprocess.PIPE, text=True)
    target = "127.0.0.1:" + _first_line(process, "segflow serving on").rsplit(":", 1)[1].strip()
    _wait_healthy(target)
    return process, target


def client(target: str, session: str, seconds: float) -> list[float]:
    """One visit posting add_to_cart for `seconds`; returns each call's latency in seconds."""
    with grpc.insecure_channel(target) as channel:
        stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
        stub.StartSession(start_request("example", session, 0))
        request = add_to_cart(session, 0)
        latencies, until = [], time.monotonic() + seconds
        while time.monotonic() < until:
            started = time.perf_counter()
            stub.PostEvent(request)
            latencies.append(time.perf_counter() - started)
    return latencies


def measure(mode: str, clients: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        process, target = serve(mode, data_dir)
        try:
            with multiprocessing.get_context("spawn").Pool(clients) as pool:  # grpc does not survive fork
                client(target, "warm-up", min(1.0, seconds))
                runs = pool.starmap(client, [(target, f"{mode}-{i}", seconds) for i in range(clients)])
        finally:
            process.terminate()
            process.wait(30)
    latencies = sorted(latency for run in runs for latency in run)
    return {"mode": mode, "calls": len(latencies), "per_second": len(latencies) / seconds,
            "p50_ms": latencies[len(latencies) // 2] * 1e3, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (a smoke run)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per run (default 5, quick 1)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 3, quick 1)")
    parser.add_argument("--clients", type=int, default=4, help="client processes, one call in flight each")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/durability.json"))
    options = parser.parse_args()
    seconds = options.seconds or (1.0 if options.quick else 5.0)
    rounds = options.rounds or (1 if options.quick else 3)
    rows, ratios = [], {"per_second": [], "p50_ms": [], "p99_ms": []}
    for round_ in range(rounds):
        order = MODES if round_ % 2 == 0 else MODES[::-1]
        measured = {mode: measure(mode, options.clients, seconds) | {"round": round_} for mode in order}
        for mode in MODES:
            row = measured[mode]
            rows.append(row)
            print(f"round {round_} {mode:8s}: {row['per_second']:7.0f} calls/s  p50 {row['p50_ms']:6.2f} ms  "
                  f"p99 {row['p99_ms']:6.2f} ms  ({row['calls']} calls)", flush=True)
        for key in ratios:
            ratios[key].append(measured["sync"][key] / measured["batched"][key])
    summary = {f"sync_vs_batched_{key}": statistics.median(values) for key, values in ratios.items()}
    for key, value in summary.items():
        print(f"{key}: {value:.2f}")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({
        "benchmark": "durability", "machine": platform.platform(), "python": platform.python_version(),
        "seconds": seconds, "rounds": rounds, "clients": options.clients, "rows": rows, "summary": summary},
        indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
