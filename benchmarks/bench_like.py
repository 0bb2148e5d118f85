"""LIKE benchmark: the linear-time matcher against the backtracking regex it replaced, in one run.

    python -m benchmarks.bench_like [--quick] [--out benchmarks/results/like.json]

For each pattern shape (a common one and the backtracking bomb of issue 11.1), ns per test of the compiled
matcher (runtime.like_matcher, as generated code calls it) and of the regex the old runtime built
(`re.fullmatch` of `%` -> `.*`, `_` -> `.`), on the same subjects; the ratio is new / old. The bomb's regex
is timed on short subjects only (it is exponential in the number of %), the matcher on those and on long ones.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from pathlib import Path

from segflow.rules.runtime import like_matcher, like_plan

CASES = [  # (name, pattern, subjects)
    ("two pieces", "ab_d%xyz", ["abcd-hello-xyz", "abcd-hello-xy", "zzzz"]),
    ("three pieces", "%order_%/items/%", ["/api/order_7/items/3", "/api/orders"]),
    ("bomb, 20 chars", "%a%a%a%a%a%b", ["a" * 20]),
    ("bomb, 24 chars", "%a%a%a%a%a%b", ["a" * 24]),
    ("bomb, 10,000 chars", "%a%a%a%a%a%b", ["a" * 10_000]),
]
OLD_REGEX_LIMIT = 30  # subject length past which the old regex is not timed (it would run for minutes)


def old_regex(pattern: str):
    """What runtime.like_plan built before: one regex, with a backtracking `.*` per %."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL).fullmatch


def ns_per_call(test, subjects: list[str], budget: float) -> float:
    """Best of 5 rounds of ns per call, each round sized to take about `budget` / 5 seconds."""
    calls, elapsed = 1, 0.0
    while elapsed < budget / 50:
        calls *= 2
        start = time.perf_counter()
        for _ in range(calls):
            for s in subjects:
                test(s)
        elapsed = time.perf_counter() - start
    best = elapsed
    for _ in range(4):
        start = time.perf_counter()
        for _ in range(calls):
            for s in subjects:
                test(s)
        best = min(best, time.perf_counter() - start)
    return best * 1e9 / (calls * len(subjects))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: shorter timings")
    parser.add_argument("--out", default="benchmarks/results/like.json")
    args = parser.parse_args()
    budget = 0.1 if args.quick else 1.0
    rows = []
    for name, pattern, subjects in CASES:
        kind, canonical = like_plan(pattern, None)
        new = like_matcher(canonical)
        old = old_regex(pattern)
        assert all((new(s) is not None) is (old(s) is not None) for s in subjects if len(s) <= OLD_REGEX_LIMIT)
        new_ns = ns_per_call(new, subjects, budget)
        old_ns = (ns_per_call(old, subjects, budget) if max(map(len, subjects)) <= OLD_REGEX_LIMIT else None)
        rows.append({"case": name, "pattern": pattern, "plan": kind, "new_ns": round(new_ns, 1),
                     "old_ns": None if old_ns is None else round(old_ns, 1),
                     "new_over_old": None if old_ns is None else round(new_ns / old_ns, 4)})
        ratio = "(old regex not timed: exponential)" if old_ns is None else f"{new_ns / old_ns:.4f}x old"
        old_text = "" if old_ns is None else f"{old_ns:,.0f} ns old, "
        print(f"{name:20} {pattern:18} {old_text}{new_ns:,.0f} ns new  {ratio}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "like", "python": platform.python_version(), "quick": args.quick,
                               "rows": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
