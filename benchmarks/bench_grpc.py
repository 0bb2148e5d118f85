"""End-to-end benchmark over gRPC: `segflow serve` in its own process(es) against a no-op grpcio ceiling.

    python -m benchmarks.bench_grpc [--quick] [--seconds 5] [--rounds 3] [--processes 1 2] [--workers 32]
                                    [--out benchmarks/results/grpc.json]

Load comes from h2load (Debian's nghttp2-client: `apt-get install -y nghttp2-client`), a C client cheap enough
not to be the bottleneck: one h2load per session, each with one connection and one call in flight, posting
that session's gRPC-framed PostEventRequest (`add_to_cart`, no event id) again and again; 1 or 16 sessions make
1 or 16 calls in flight. For every configuration the no-op server (`benchmarks/noop_server.py`, same thread-pool
layout, an empty PostEventResponse) is measured right before segflow, so each ratio compares two servers
under the same machine load; `--rounds` repeats every configuration and the summary is the median of the
rounds' ratios (the machine may be shared). Workloads: the shipped example ruleset and the large generated one
(`benchmarks/workloads.py`: 200 segments, 50 rules on the event).

h2load sees HTTP status 200 even for a failed gRPC call, so every run is checked by a server-side count: the
sessions' `add_to_cart` counts from GetSession for segflow, the no-op's own count (`served N`); a run whose
server count falls short of the calls h2load completed (or exceeds them by more than the calls in flight
when it stopped) is marked unverified. Throughput is the server count over the run's duration; p50/p99 come
from h2load's per-request log; server CPU per call from /proc/<pid>/stat of the server's processes; the load
generator's CPU per call from its rusage. `--processes N` runs `segflow serve --processes N` (and N no-op
processes on one port, one per core) where the installed segflow has that option; otherwise the row is skipped
and says so. Writes JSON and a PNG.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc

from benchmarks.workloads import WORKLOADS, add_to_cart, start_request

POST_EVENT = "/segflow.v1.DecisionService/PostEvent"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    round: int
    workload: str
    server: str  # "segflow" or "noop"
    processes: int
    in_flight: int
    seconds: float
    server_calls: int = 0
    client_calls: int = 0
    verified: bool = False
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    server_cpu_us_per_call: float = 0.0
    loadgen_cpu_us_per_call: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- servers ----------------------------------------------------------------------------------------------


class Server:
    """Server processes on one address; `cpu_seconds` adds up every process of the tree."""

    def __init__(self, processes: list[subprocess.Popen], target: str):
        self.processes = processes
        self.target = target

    def pids(self) -> list[int]:
        pids, stack = [], [p.pid for p in self.processes]
        while stack:
            pid = stack.pop()
            pids.append(pid)
            for children in Path(f"/proc/{pid}/task").glob("*/children"):
                stack += [int(child) for child in children.read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / TICKS

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _first_line(process: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and process.poll() is not None:
            break
    raise RuntimeError(f"server did not start (expected a line starting {prefix!r})")


def _wait_healthy(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in range(300):
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == 1:
                    return
            except grpc.RpcError:
                time.sleep(0.1)
    raise RuntimeError(f"segflow at {target} never became healthy")


def supports_processes() -> bool:
    """Whether the installed `segflow serve` has --processes (one worker process per core)."""
    result = subprocess.run([sys.executable, "-m", "segflow.server.cli", "serve", "--help"], capture_output=True,
                            text=True, timeout=60)
    return "--processes" in result.stdout


def start_segflow(ruleset: Path, data_dir: str, processes: int, workers: int = 32, multi: bool = False,
                  flags: tuple[str, ...] = (), stderr=None) -> Server:
    """`segflow serve` on a free port; `multi`: it has --processes, passed always (its default is one per CPU).
    `flags` come last (a later --log-level wins); stderr goes where given."""
    command = [sys.executable, "-m", "segflow.server.cli", "serve", "--address", "127.0.0.1:0", "--data-dir",
               data_dir, "--ruleset", str(ruleset), "--log-level", "WARNING", "--workers", str(workers)]
    if multi:
        command += ["--processes", str(processes)]
    process = subprocess.Popen([*command, *flags], stdout=subprocess.PIPE, stderr=stderr, text=True)
    server = Server([process], "")
    try:
        # "segflow serving on HOST:PORT", then " with N worker processes" when there are several
        server.target = _first_line(process, "segflow serving on").split()[3]
        _wait_healthy(server.target)
    except BaseException:
        server.stop()
        raise
    return server


def start_noop(processes: int, workers: int) -> Server:
    def spawn(address: str, cpu: int | None) -> subprocess.Popen:
        command = [sys.executable, "-m", "benchmarks.noop_server", "--address", address, "--workers", str(workers)]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    cores = sorted(os.sched_getaffinity(0))
    pin = (lambda i: cores[i % len(cores)]) if processes > 1 else (lambda i: None)
    first = spawn("127.0.0.1:0", pin(0))
    target = _first_line(first, "listening on").split()[-1]
    others = [spawn(target, pin(i)) for i in range(1, processes)]
    for other in others:
        _first_line(other, "listening on")
    return Server([first, *others], target)


def noop_served(server: Server) -> int:
    """The PostEvent calls the no-op processes have answered so far (each prints its count on SIGUSR1)."""
    total = 0
    for process in server.processes:
        process.send_signal(signal.SIGUSR1)
        total += int(_first_line(process, "served ").split()[-1])
    return total


# -- sessions and load --------------------------------------------------------------------------------------


def frame(message) -> bytes:
    """A gRPC length-prefixed message: no compression flag, 4-byte big-endian length, the bytes."""
    data = message.SerializeToString()
    return b"\x00" + len(data).to_bytes(4, "big") + data


def start_sessions(target: str, workload: str, count: int, prefix: str, metadata: tuple = ()) -> list[str]:
    ids = [f"{prefix}-{n}" for n in range(count)]
    with grpc.insecure_channel(target) as channel:
        stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
        for n, session_id in enumerate(ids):
            stub.StartSession(start_request(workload, session_id, n), timeout=30, metadata=metadata)
    return ids


def segflow_events(target: str, ids: list[str], metadata: tuple = ()) -> int:
    """How many add_to_cart events segflow has processed on these sessions."""
    total = 0
    with grpc.insecure_channel(target) as channel:
        stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
        for session_id in ids:
            session = stub.GetSession(pb.GetSessionRequest(session_id=session_id), timeout=30,
                                      metadata=metadata).session
            total += sum(s.count for s in session.event_statistics if s.event_name == "add_to_cart")
    return total


def h2load(target: str, bodies: list[Path], seconds: float, logs: Path | None,
           headers: tuple[str, ...] = ()) -> tuple[int, list[float], float]:
    """Run one h2load per body at once for `seconds` (with extra `headers`, "name: value"); returns (calls
    completed, latencies in ms, CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = []
    for i, body in enumerate(bodies):
        command = ["h2load", "-D", f"{int(seconds * 1000)}ms", "-c", "1", "-m", "1", "-d", str(body),
                   "-H", "content-type: application/grpc", "-H", "te: trailers",
                   *(flag for header in headers for flag in ("-H", header)), f"http://{target}{POST_EVENT}"]
        if logs is not None:
            command[1:1] = ["--log-file", str(logs / f"{i}.log")]
        runs.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    completed = 0
    for run in runs:
        output, _ = run.communicate(timeout=seconds + 60)
        match = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded", output)
        if run.returncode != 0 or match is None:
            raise RuntimeError(f"h2load failed: {output[-2000:]}")
        completed += int(match.group(1))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    latencies = []
    if logs is not None:
        for log in logs.glob("*.log"):
            latencies += [int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line]
            log.unlink()
    return completed, sorted(latencies), cpu


def measure(row: Row, server: Server, bodies: list[Path], count, work: Path, warm_up: float,
            headers: tuple[str, ...] = ()) -> Row:
    """Warm up, then one measured run of `row.seconds`; `count()` is the server-side call count."""
    h2load(server.target, bodies, warm_up, None, headers)
    calls_before, cpu_before = count(), server.cpu_seconds()
    began = time.perf_counter()
    completed, latencies, loadgen_cpu = h2load(server.target, bodies, row.seconds, work, headers)
    elapsed = time.perf_counter() - began
    cpu = server.cpu_seconds() - cpu_before
    row.server_calls = count() - calls_before
    row.client_calls = completed
    row.verified = 0 <= row.server_calls - completed <= row.in_flight and completed > 0
    if not row.verified:
        row.notes.append(f"server counted {row.server_calls} calls, h2load {completed}: failed calls?")
    calls = max(row.server_calls, 1)
    row.per_second = row.server_calls / min(elapsed, row.seconds)
    row.p50_ms = statistics.median(latencies) if latencies else 0.0
    row.p99_ms = latencies[max(int(len(latencies) * 0.99) - 1, 0)] if latencies else 0.0
    row.server_cpu_us_per_call = cpu / calls * 1e6
    row.loadgen_cpu_us_per_call = loadgen_cpu / calls * 1e6
    return row


def run_configuration(round_: int, workload: str, processes: int, in_flight: int, seconds: float,
                      warm_up: float, work: Path, workers: int, multi: bool) -> list[Row]:
    """The no-op ceiling, then segflow, on `in_flight` sessions of `workload`."""
    bodies = []
    for n in range(in_flight):
        body = work / f"body-{n}.bin"
        body.write_bytes(frame(add_to_cart(f"bench-{workload}-{in_flight}-{n}", n)))
        bodies.append(body)
    noop = start_noop(processes, workers)
    try:
        ceiling = measure(Row(round_, workload, "noop", processes, in_flight, seconds), noop, bodies,
                          lambda: noop_served(noop), work, warm_up)
    finally:
        noop.stop()
    ruleset = work / f"{workload}.yaml"
    ruleset.write_text(WORKLOADS[workload])
    with tempfile.TemporaryDirectory(dir=work) as data_dir:
        server = start_segflow(ruleset, data_dir, processes, workers, multi)
        try:
            ids = start_sessions(server.target, workload, in_flight, f"bench-{workload}-{in_flight}")
            row = measure(Row(round_, workload, "segflow", processes, in_flight, seconds), server, bodies,
                          lambda: segflow_events(server.target, ids), work, warm_up)
        finally:
            server.stop()
    return [ceiling, row]


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def ratios(rows: list[Row]) -> list[dict]:
    """Per configuration, the median over rounds of segflow against the no-op measured just before it."""
    by_configuration: dict[tuple, list[tuple[Row, Row]]] = {}
    for noop, ours in zip(rows[::2], rows[1::2]):
        by_configuration.setdefault((ours.workload, ours.processes, ours.in_flight), []).append((noop, ours))
    result = []
    for (workload, processes, in_flight), pairs in by_configuration.items():
        median = lambda values: statistics.median(values)  # noqa: E731
        result.append({
            "workload": workload, "processes": processes, "in_flight": in_flight, "rounds": len(pairs),
            "throughput_vs_noop": median([_ratio(o.per_second, n.per_second) for n, o in pairs]),
            "p99_vs_noop": median([_ratio(o.p99_ms, n.p99_ms) for n, o in pairs]),
            "cpu_per_call_vs_noop": median([_ratio(o.server_cpu_us_per_call, n.server_cpu_us_per_call)
                                            for n, o in pairs]),
            "segflow_per_second": median([o.per_second for _, o in pairs]),
            "noop_per_second": median([n.per_second for n, _ in pairs]),
            "segflow_p50_ms": median([o.p50_ms for _, o in pairs]), "segflow_p99_ms": median([o.p99_ms for _, o in pairs]),
            "noop_p99_ms": median([n.p99_ms for n, _ in pairs]),
            "verified": all(n.verified and o.verified for n, o in pairs)})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, 16 in flight only (a smoke run)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per run (default 5, quick 1)")
    parser.add_argument("--rounds", type=int, default=None, help="times each configuration runs (default 3, quick 1)")
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help="process layouts to measure")
    parser.add_argument("--workers", type=int, default=32,
                        help="threads serving calls in each server process (segflow serve's default: 32)")
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--in-flight", type=int, nargs="+", default=None, help="calls in flight (default 1 16)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/grpc.json"))
    options = parser.parse_args()
    if shutil.which("h2load") is None:
        sys.exit("bench_grpc needs h2load: apt-get install -y nghttp2-client")
    seconds = options.seconds or (1.0 if options.quick else 5.0)
    warm_up = 0.3 if options.quick else 1.0
    rounds = options.rounds or (1 if options.quick else 3)
    in_flight = options.in_flight or ([16] if options.quick else [1, 16])
    multi = supports_processes()

    rows: list[Row] = []
    skipped = []
    with tempfile.TemporaryDirectory(prefix="bench-grpc-") as work_dir:
        for processes in options.processes:
            if processes > 1 and not multi:
                skipped.append(f"--processes {processes}: this segflow serve has no --processes option yet")
                print(f"skipped {skipped[-1]}")
                continue
            for round_, workload, flight in itertools.product(range(rounds), options.workloads, in_flight):
                for row in run_configuration(round_, workload, processes, flight, seconds, warm_up, Path(work_dir),
                                     options.workers, multi):
                    rows.append(row)
                    print(f"{row.workload:8s} {row.server:8s} procs {row.processes} in flight {row.in_flight:2d}: "
                          f"{row.per_second:8.0f}/s  p50 {row.p50_ms:6.2f} ms  p99 {row.p99_ms:6.2f} ms  "
                          f"server CPU {row.server_cpu_us_per_call:6.0f} µs/call  "
                          f"h2load CPU {row.loadgen_cpu_us_per_call:4.0f} µs/call  "
                          f"{'verified' if row.verified else 'UNVERIFIED'} ({row.server_calls} calls)", flush=True)
    summary = ratios(rows)
    for r in summary:
        print(f"{r['workload']:8s} procs {r['processes']} in flight {r['in_flight']:2d}: "
              f"{r['throughput_vs_noop']:.2f}x the no-op's throughput ({r['segflow_per_second']:.0f}/s against "
              f"{r['noop_per_second']:.0f}/s), p99 {r['p99_vs_noop']:.2f}x ({r['segflow_p99_ms']:.1f} ms), "
              f"CPU per call {r['cpu_per_call_vs_noop']:.2f}x{'' if r['verified'] else '  (UNVERIFIED)'}")
    results = {
        "command": " ".join(["python -m benchmarks.bench_grpc", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "workers": options.workers,
        "rows": [asdict(row) for row in rows], "ratios": summary, "skipped": skipped,
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2))
    if summary:
        plot(summary, options.out.with_suffix(".png"))
    print(f"wrote {options.out} and {options.out.with_suffix('.png')}")


def plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['workload']}\n{r['processes']}p {r['in_flight']} in flight" for r in summary]
    x = range(len(summary))
    width = 0.4
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.bar([i - width / 2 for i in x], [r["noop_per_second"] for r in summary], width, label="no-op grpcio")
    left.bar([i + width / 2 for i in x], [r["segflow_per_second"] for r in summary], width, label="segflow")
    for i, r in enumerate(summary):
        left.annotate(f"{r['throughput_vs_noop']:.2f}x", (i + width / 2, r["segflow_per_second"]), ha="center",
                      va="bottom", fontsize=8)
    left.set(ylabel="PostEvent per second (median of rounds)", title="Throughput, same run")
    left.set_xticks(list(x), labels, fontsize=8)
    left.legend()
    right.bar([i - width / 2 for i in x], [r["noop_p99_ms"] for r in summary], width, label="no-op p99")
    right.bar([i + width / 2 for i in x], [r["segflow_p99_ms"] for r in summary], width, label="segflow p99")
    right.set(ylabel="ms", title="p99 latency")
    right.set_xticks(list(x), labels, fontsize=8)
    right.legend()
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
