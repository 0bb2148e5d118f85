"""What auth and the JSON access log cost a PostEvent: `segflow serve` with neither, then with both, same run.

    python -m benchmarks.bench_security [--quick] [--seconds 5] [--rounds 3] [--in-flight 16]
                                        [--out benchmarks/results/security.json]

Each round measures the two servers one after the other with bench_grpc's h2load load (`add_to_cart` on the
example ruleset, one connection per session): "off" is `serve --log-level WARNING` (no access lines, no
auth interceptor); "on" adds `--auth-file` (a sha256-hashed bearer token with the decide role, sent by
h2load as `authorization: Bearer ...`) and `--log-format json --log-level info`, one JSON access line per
call written to a file. Every run is verified by the sessions' event counts, as in bench_grpc. The summary
is the median over rounds of on/off for throughput, p99 and server CPU per call. Each round also times the
bearer token check in process: hashing the token on every call (as before verified tokens were cached) vs
the cached lookup. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import timeit
from dataclasses import asdict
from pathlib import Path

from benchmarks.bench_grpc import Row, frame, measure, segflow_events, start_segflow, start_sessions
from benchmarks.workloads import WORKLOADS, add_to_cart
from segflow.server.security.identities import Identities, hash_token

TOKEN = "bench-security-token"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def run(mode: str, round_: int, in_flight: int, seconds: float, warm_up: float, work: Path) -> Row:
    bodies = []
    for n in range(in_flight):
        body = work / f"body-{n}.bin"
        body.write_bytes(frame(add_to_cart(f"bench-security-{mode}-{round_}-{n}", n)))
        bodies.append(body)
    ruleset = work / "example.yaml"
    ruleset.write_text(WORKLOADS["example"])
    flags, metadata, headers = (), (), ()
    if mode == "on":
        auth = work / "auth.yaml"
        auth.write_text(f"tokens: [{{name: bench, sha256: {hash_token(TOKEN)}, roles: [decide]}}]\n")
        flags = ("--auth-file", str(auth), "--log-format", "json", "--log-level", "info")
        metadata, headers = AUTH, (f"authorization: Bearer {TOKEN}",)
    logs = work.parent / "server-logs"  # apart from `work`, where measure() reads h2load's *.log files
    logs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as data_dir, open(logs / f"{mode}-{round_}.log", "w") as log:
        server = start_segflow(ruleset, data_dir, 1, 32, False, flags, stderr=log)
        try:
            ids = start_sessions(server.target, "example", in_flight, f"bench-security-{mode}-{round_}", metadata)
            return measure(Row(round_, "example", f"segflow-{mode}", 1, in_flight, seconds), server, bodies,
                           lambda: segflow_events(server.target, ids, metadata), work, warm_up, headers)
        finally:
            server.stop()


def token_check_ns() -> tuple[float, float]:
    """Nanoseconds per bearer token check: (hashed every call, cached after the first), best of 5."""
    identities = Identities.parse(f"tokens: [{{name: bench, sha256: {hash_token(TOKEN)}, roles: [decide]}}]")
    number = 200_000

    def best(statement) -> float:
        return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e9

    return best(lambda: identities.tokens.get(hash_token(TOKEN))), best(lambda: identities.by_token(TOKEN))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one round (a smoke run)")
    parser.add_argument("--seconds", type=float, default=None, help="measured seconds per run (default 5)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of off-then-on (default 3)")
    parser.add_argument("--in-flight", type=int, default=16, help="calls in flight")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/security.json"))
    options = parser.parse_args()
    seconds = options.seconds or (1.0 if options.quick else 5.0)
    rounds = options.rounds or (1 if options.quick else 3)
    warm_up = 0.3 if options.quick else 1.0
    rows, token_checks = [], []
    with tempfile.TemporaryDirectory(prefix="bench-security-") as work:
        for round_ in range(rounds):
            for mode in ("off", "on"):
                (Path(work) / "load").mkdir(exist_ok=True)
                row = run(mode, round_, options.in_flight, seconds, warm_up, Path(work) / "load")
                rows.append(row)
                print(f"round {round_} {row.server:12s}: {row.per_second:8.0f}/s  p99 {row.p99_ms:6.2f} ms  "
                      f"server CPU {row.server_cpu_us_per_call:6.0f} µs/call  "
                      f"{'verified' if row.verified else 'UNVERIFIED'}", flush=True)
            hashed, cached = token_check_ns()
            token_checks.append({"hashed_ns": hashed, "cached_ns": cached})
            print(f"round {round_} token check: hashed {hashed:.0f} ns, cached {cached:.0f} ns", flush=True)
    pairs = list(zip(rows[::2], rows[1::2]))
    summary = {
        "throughput_on_vs_off": statistics.median(on.per_second / off.per_second for off, on in pairs),
        "p99_on_vs_off": statistics.median(on.p99_ms / off.p99_ms for off, on in pairs),
        "cpu_per_call_on_vs_off": statistics.median(
            on.server_cpu_us_per_call / off.server_cpu_us_per_call for off, on in pairs),
        "cpu_us_per_call_added": statistics.median(
            on.server_cpu_us_per_call - off.server_cpu_us_per_call for off, on in pairs),
        "verified": all(off.verified and on.verified for off, on in pairs),
        "token_check_cached_vs_hashed": statistics.median(t["cached_ns"] / t["hashed_ns"] for t in token_checks),
    }
    print(f"auth + JSON access log: {summary['throughput_on_vs_off']:.2f}x the throughput, p99 "
          f"{summary['p99_on_vs_off']:.2f}x, server CPU per call {summary['cpu_per_call_on_vs_off']:.2f}x "
          f"(+{summary['cpu_us_per_call_added']:.0f} µs){'' if summary['verified'] else '  (UNVERIFIED)'}")
    print(f"bearer token check, cached vs hashed every call: {summary['token_check_cached_vs_hashed']:.2f}x")
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps({
        "command": " ".join(["python -m benchmarks.bench_security", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "rows": [asdict(row) for row in rows], "token_checks": token_checks, "summary": summary}, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
