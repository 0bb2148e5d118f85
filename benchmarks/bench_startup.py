"""Start-up benchmark: `segflow serve` with a 10,000-rule ruleset, from launch to answering health checks.

    python -m benchmarks.bench_startup [--quick] [--rules 10000] [--out benchmarks/results/startup.json]

Three starts of one process on one data directory, in this order: cold (an empty data directory: the file is
read, compiled and deployed as version 1), restart without the compiled cache (its directory deleted: the
active version is read and compiled again, as before the cache) and restart with it (the active version is
rebuilt from data-dir/compiled). The ruleset is benchmarks/workloads.large_ruleset with 4/5 of the rules as
segments (4 flowcharts) and 1/5 as rules on add_to_cart; the shipped example's cached restart is printed as
the floor (imports, gRPC, history database). Ratios are against the restart without the cache.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.bench_grpc import start_segflow
from benchmarks.workloads import large_ruleset
from segflow.server.examples import EXAMPLE_RULESET


def seconds_to_serve(ruleset: Path, data_dir: Path) -> float:
    """Seconds from launching `segflow serve` to its first healthy answer."""
    started = time.perf_counter()
    server = start_segflow(ruleset, str(data_dir), processes=1, workers=4, multi=True)
    elapsed = time.perf_counter() - started
    server.stop()
    return elapsed


def starts(text: str, work: Path) -> dict[str, float]:
    """cold, restart without the compiled cache and restart with it, in seconds."""
    ruleset, data_dir = work / "rules.yaml", work / "data"
    ruleset.write_text(text)
    cold = seconds_to_serve(ruleset, data_dir)
    shutil.rmtree(data_dir / "compiled")
    uncached = seconds_to_serve(ruleset, data_dir)
    cached = seconds_to_serve(ruleset, data_dir)
    shutil.rmtree(data_dir)
    return {"cold_s": round(cold, 3), "restart_uncached_s": round(uncached, 3), "restart_cached_s": round(cached, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 rules")
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--out", default="benchmarks/results/startup.json")
    args = parser.parse_args()
    rules = 1_000 if args.quick else args.rules
    with tempfile.TemporaryDirectory(prefix="segflow-startup-") as work:
        large = starts(large_ruleset(segments=rules * 4 // 5, rules=rules // 5), Path(work))
        floor = starts(EXAMPLE_RULESET, Path(work))
    cached_ratio = large["restart_cached_s"] / large["restart_uncached_s"]
    print(f"{rules:,} rules: cold {large['cold_s']:.2f} s, restart without the compiled cache "
          f"{large['restart_uncached_s']:.2f} s, with it {large['restart_cached_s']:.2f} s "
          f"({cached_ratio:.3f}x; {large['restart_cached_s'] / large['cold_s']:.3f}x cold)")
    print(f"floor, the example ruleset: restart with the cache {floor['restart_cached_s']:.2f} s "
          f"({floor['restart_cached_s'] / large['restart_uncached_s']:.3f}x)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "startup", "python": platform.python_version(), "quick": args.quick,
                               "rules": rules, "large": large, "example": floor,
                               "cached_over_uncached": round(cached_ratio, 4)}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
