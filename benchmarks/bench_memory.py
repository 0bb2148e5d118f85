"""Memory per live session: RSS growth per session held by the engine, and the size of a stored session.

    python -m benchmarks.bench_memory [--quick] [--sessions 100000] [--out benchmarks/results/memory.json]

Each session starts with the 30 attributes of the generated workload (`benchmarks/workloads.py`), then gets an
`add_to_cart` and two events the ruleset does not define (recorded, so three event statistics). Measured for
the generated schema with 8 segments and 4 rules, and with 200 segments and 50 rules, in fresh processes: a
session's cost must not grow with the rules. Reports resident bytes per live session in the memory store
(RSS after minus RSS before, over the sessions; the store keeps 10,000 hot sessions as objects and packs the
others), the mean encoded size (`server/sessions/codec.py`, what Redis and a shared store hold) and the mean
packed size (encoded and compressed, what the memory store holds for a session that is not hot). The target of issue 10 is 2.5 KB per live session.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from segflow.v1 import decision_service_pb2 as pb, session_pb2

from benchmarks.workloads import add_to_cart, large_ruleset, start_request
from segflow.server.history import RulesetVersions, open_sink
from segflow.server.rulesets import RulesetRegistry, Source
from segflow.server.runtime.engine import Engine
from segflow.server.sessions import codec
from segflow.server.sessions.store import MemorySessionStore

LAYOUTS = {"8 segments, 4 rules": (8, 4), "200 segments, 50 rules": (200, 50)}
TARGET_BYTES = 2500


def resident_bytes() -> int:
    gc.collect()
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(segments: int, rules: int, sessions: int) -> dict:
    """Hold `sessions` live sessions of the generated ruleset in one engine; bytes per session."""
    registry = RulesetRegistry(RulesetVersions(open_sink("sqlite://:memory:").database))
    registry.deploy(Source(yaml=large_ruleset(segments, rules)))
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store = MemorySessionStore(idle_timeout=timedelta(hours=1), max_sessions=sessions, clock=lambda: now)
    engine = Engine(registry, store, clock=lambda: now)
    other = [pb.PostEventRequest(session_id="", event=session_pb2.Event(name=name)) for name in ("page_view", "login")]
    before = resident_bytes()
    began = time.perf_counter()
    for n in range(sessions):
        session_id = f"visitor-{n:08d}"
        engine.start_session(start_request("large", session_id, n))
        engine.post_event(add_to_cart(session_id, n))
        for request in other:
            request.session_id = session_id
            engine.post_event(request)
    elapsed = time.perf_counter() - began
    after = resident_bytes()
    assert len(store) == sessions
    sample = [slot.state for _, slot in zip(range(1000), store._slots.values())]
    encoded = [codec.encode(state) for state in sample]
    return {"sessions": sessions, "segments": segments, "rules": rules,
            "resident_bytes_per_session": (after - before) / sessions,
            "encoded_bytes_per_session": sum(map(len, encoded)) / len(encoded),
            "packed_bytes_per_session": sum(len(zlib.compress(e, 1)) for e in encoded) / len(encoded),
            "attributes": len(sample[0].attributes), "event_statistics": len(sample[0].event_stats),
            "segments_per_session": sum(len(s.segments) for s in sample) / len(sample), "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 sessions (a smoke run)")
    parser.add_argument("--sessions", type=int, default=None, help="live sessions per layout (default 100,000)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/memory.json"))
    parser.add_argument("--one", nargs=3, type=int, metavar=("SEGMENTS", "RULES", "SESSIONS"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:  # a child process: one layout, its result as JSON on stdout
        print(json.dumps(measure(*options.one)))
        return
    sessions = options.sessions or (10_000 if options.quick else 100_000)
    rows = []
    for label, (segments, rules) in LAYOUTS.items():
        # A fresh process per layout, so one layout's freed memory does not hide the other's growth.
        output = subprocess.run([sys.executable, "-m", "benchmarks.bench_memory", "--one", str(segments), str(rules),
                                 str(sessions)], capture_output=True, text=True, check=True).stdout
        row = json.loads(output.splitlines()[-1]) | {"layout": label}
        rows.append(row)
        print(f"{label:24s}: {row['resident_bytes_per_session']:7.0f} B resident per live session, "
              f"{row['encoded_bytes_per_session']:5.0f} B encoded, {row['packed_bytes_per_session']:4.0f} B packed "
              f"({row['attributes']} attributes, "
              f"{row['event_statistics']} event statistics, {row['segments_per_session']:.0f} segments; "
              f"{sessions} sessions in {row['seconds']:.0f} s)")
    growth = rows[1]["resident_bytes_per_session"] / rows[0]["resident_bytes_per_session"]
    print(f"200 segments + 50 rules vs 8 + 4: {growth:.2f}x the memory per session; "
          f"target {TARGET_BYTES} B: {'met' if rows[1]['resident_bytes_per_session'] <= TARGET_BYTES else 'NOT met'}")
    results = {"command": " ".join(["python -m benchmarks.bench_memory", *sys.argv[1:]]),
               "machine": {"python": platform.python_version(), "platform": platform.platform()},
               "rows": rows, "ratios": {"large_vs_small_per_session": growth}, "target_bytes": TARGET_BYTES}
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
