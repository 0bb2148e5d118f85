"""Instructions per PostEvent, counted by callgrind: a figure that repeats on a shared machine, where time does not.

    python -m benchmarks.bench_instructions [--quick] [--calls 500] [--warm-up 300] [--workloads example large]
                                            [--out benchmarks/results/instructions.json]

For each workload, this module runs itself twice under `valgrind --tool=callgrind` (Debian's valgrind), once with
segflow's real Service in the process (interceptors, request parsing, the gate, the engine, response encoding,
the history writer's thread) and once with bench_grpc's no-op servicer, both sync grpcio servers with 32 worker
threads. Each posts bench_grpc's `add_to_cart` over a real channel to itself, round robin over 16 sessions: the
warm-up calls first with instrumentation off, then `callgrind_control` turns it on for the measured calls alone.
Every thread of the process counts (client, gRPC, handler, writer), so the no-op's count is the floor of the
same path: the ratio, and segflow's count less the no-op's, are what segflow's own work costs per call. Counts
move by about 1% between runs; each workload takes a minute or two. `--quick`: 100 calls after 50, the example
only. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent import futures
from pathlib import Path

import grpc
from segflow.v1 import decision_service_pb2_grpc

from benchmarks.noop_server import NoopDecisions
from benchmarks.workloads import WORKLOADS, add_to_cart, start_request

SESSIONS = 16


def serve(server: str, workload: str, work: Path):
    """(gRPC server started on a free port, its port, a stop function) for `server` ("segflow" or "noop")."""
    if server == "noop":
        noop = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        decision_service_pb2_grpc.add_DecisionServiceServicer_to_server(NoopDecisions(), noop)
        port = noop.add_insecure_port("127.0.0.1:0")
        noop.start()
        return port, lambda: noop.stop(0).wait()
    from segflow.server.app import create_service
    from segflow.server.config import Config

    ruleset = work / "ruleset.yaml"
    ruleset.write_text(WORKLOADS[workload])
    service = create_service(Config(address="127.0.0.1:0", data_dir=work, ruleset=ruleset, log_level="WARNING"))
    return service.port, lambda: service.stop(grace=0)


def child(server: str, workload: str, calls: int, warm_up: int) -> None:
    """Under callgrind: serve, warm up, count `calls` PostEvents with instrumentation on."""
    with tempfile.TemporaryDirectory() as work:
        port, stop = serve(server, workload, Path(work))
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
                if server == "segflow":
                    for n in range(SESSIONS):
                        stub.StartSession(start_request(workload, f"s-{n}", n), timeout=60)
                requests = [add_to_cart(f"s-{n}", n) for n in range(SESSIONS)]
                for i in range(warm_up):
                    stub.PostEvent(requests[i % SESSIONS], timeout=60)
                _instrument("on")
                for i in range(calls):
                    stub.PostEvent(requests[i % SESSIONS], timeout=60)
                _instrument("off")
        finally:
            stop()


def _instrument(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def count(server: str, workload: str, calls: int, warm_up: int, work: Path) -> float:
    """Instructions per PostEvent of `server` on `workload`, from callgrind's totals."""
    out = work / f"callgrind.{server}.{workload}"
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                    sys.executable, "-m", "benchmarks.bench_instructions", "--child", server, workload,
                    "--calls", str(calls), "--warm-up", str(warm_up)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    total = sum(int(match) for match in re.findall(r"^(?:summary|totals): (\d+)", out.read_text(), re.M))
    return total / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 calls after 50, the example only (a smoke run)")
    parser.add_argument("--calls", type=int, default=500, help="PostEvents counted")
    parser.add_argument("--warm-up", type=int, default=300, help="PostEvents before counting starts")
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=["example", "large"])
    parser.add_argument("--out", default="benchmarks/results/instructions.json")
    parser.add_argument("--child", nargs=2, metavar=("SERVER", "WORKLOAD"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(*options.child, options.calls, options.warm_up)
        return
    if options.quick:
        options.calls, options.warm_up, options.workloads = 100, 50, ["example"]
    results = []
    with tempfile.TemporaryDirectory() as work:
        for workload in options.workloads:
            noop = count("noop", workload, options.calls, options.warm_up, Path(work))
            ours = count("segflow", workload, options.calls, options.warm_up, Path(work))
            results.append({"workload": workload, "noop": round(noop), "segflow": round(ours),
                            "ratio": round(ours / noop, 2), "segflow_less_noop": round(ours - noop)})
            print(f"{workload:8s} segflow {ours / 1e6:.3f}M instructions per PostEvent, no-op {noop / 1e6:.3f}M: "
                  f"{ours / noop:.2f}x, {(ours - noop) / 1e6:.3f}M of segflow's own", flush=True)
    Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    Path(options.out).write_text(json.dumps({"calls": options.calls, "warm_up": options.warm_up,
                                             "results": results}, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
