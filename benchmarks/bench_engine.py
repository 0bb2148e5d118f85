"""Engine benchmark: compiled segment conditions against hand-written Python on the same seeded workload.

    python -m benchmarks.bench_engine [--quick] [--out benchmarks/results/engine.json]

Measures, in one run: ns per rule evaluation for compile_segments (one generated function for all rules)
and for a hand-written lambda per rule (the baseline, checked to give identical results on every session),
compile time cold and cached, tracemalloc peak of one evaluation as the segment count grows, the cost of
one event as rules listening to other events grow, and opt-in tracing: "explain off" is the normal evaluation
(compare it with a results file from before explain existed: `python -m benchmarks.compare OLD NEW`), "explain
on" the cost of rules.explain per evaluation, as a ratio. Writes JSON and a PNG of the scaling curves next to it.

The baseline lambdas are what a careful person writes for SQL conditions in Python: read each attribute
with `row.get`, test for None where SQL's NULL would make the comparison unknown, and accept only TRUE.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

from segflow.rules import (Attribute, RuleIndex, Schema, clear_cache, compile_expression, compile_segments, explain,
                   explain_segments)

SEED = 20240501
INTS = [f"i{n}" for n in range(10)]
DOUBLES = [f"d{n}" for n in range(6)]
STRINGS = [f"s{n}" for n in range(8)]
BOOLS = [f"b{n}" for n in range(3)]
LISTS = [f"l{n}" for n in range(3)]
SCHEMA = Schema(attributes={**{n: Attribute("int") for n in INTS}, **{n: Attribute("double") for n in DOUBLES},
                            **{n: Attribute("string") for n in STRINGS}, **{n: Attribute("bool") for n in BOOLS},
                            **{n: Attribute("list") for n in LISTS}})
WORDS = ["web_home", "web_cart", "app_home", "app_search", "store", "call_centre"]
TAGS = [f"t{n}" for n in range(10)]
THRESHOLDS = [10, 25, 50, 75]
NULL_RATE = 0.15

Rule = tuple[str, Callable[[dict], bool]]  # SQL condition, hand-written equivalent (True only when TRUE)


# -- workload ---------------------------------------------------------------------------------------------
def make_sessions(rng: random.Random, count: int) -> list[dict]:
    """Sessions of 30 attributes; each is NULL with NULL_RATE (half absent, half present as None)."""
    makers = {**{n: lambda: rng.randint(0, 100) for n in INTS},
              **{n: lambda: round(rng.uniform(0, 1000), 2) for n in DOUBLES},
              **{n: lambda: rng.choice(WORDS) for n in STRINGS},
              **{n: lambda: rng.random() < 0.5 for n in BOOLS},
              **{n: lambda: rng.sample(TAGS, rng.randint(0, 4)) for n in LISTS}}
    sessions = []
    for _ in range(count):
        session = {}
        for name, make in makers.items():
            if rng.random() >= NULL_RATE:
                session[name] = make()
            elif rng.random() < 0.5:
                session[name] = None
        sessions.append(session)
    return sessions


def _words(rng: random.Random, k: int) -> tuple[list[str], str]:
    chosen = rng.sample(WORDS, k)
    return chosen, ", ".join(f"'{w}'" for w in chosen)


# Each template draws its parameters and returns (SQL, hand-written lambda). Small parameter pools make
# rules share subconditions, as real segment definitions do (country = 'FR' appears in many of them).
def _compare(rng):
    a, c, op = rng.choice(INTS), rng.choice(THRESHOLDS), rng.choice([">", ">=", "<"])
    if op == ">":
        return f"{a} > {c}", lambda r: (v := r.get(a)) is not None and v > c
    if op == ">=":
        return f"{a} >= {c}", lambda r: (v := r.get(a)) is not None and v >= c
    return f"{a} < {c}", lambda r: (v := r.get(a)) is not None and v < c


def _and(rng):
    a, c, s, w = rng.choice(INTS), rng.choice(THRESHOLDS), rng.choice(STRINGS), rng.choice(WORDS)
    return f"{a} >= {c} AND {s} = '{w}'", lambda r: (v := r.get(a)) is not None and v >= c and r.get(s) == w


def _in(rng):
    s, (chosen, sql) = rng.choice(STRINGS), _words(rng, 3)
    members = frozenset(chosen)
    return f"{s} IN ({sql})", lambda r: r.get(s) in members


def _not_in(rng):
    s, (chosen, sql) = rng.choice(STRINGS), _words(rng, 2)
    members = frozenset(chosen)
    return f"{s} NOT IN ({sql})", lambda r: (v := r.get(s)) is not None and v not in members


def _between(rng):
    d, low = rng.choice(DOUBLES), rng.choice([100, 250, 500])
    high = low + 300
    return f"{d} BETWEEN {low} AND {high}", lambda r: (v := r.get(d)) is not None and low <= v <= high


def _like(rng):
    s, prefix = rng.choice(STRINGS), rng.choice(["web", "app", "call"])
    return f"{s} LIKE '{prefix}%'", lambda r: (v := r.get(s)) is not None and v.startswith(prefix)


def _null_check(rng):
    a = rng.choice(INTS + STRINGS)
    if rng.random() < 0.5:
        return f"{a} IS NULL", lambda r: r.get(a) is None
    return f"{a} IS NOT NULL", lambda r: r.get(a) is not None


def _arithmetic(rng):
    d, a, c = rng.choice(DOUBLES), rng.choice(INTS), rng.choice([300, 600, 900])
    return (f"{d} * 1.2 + {a} > {c}",
            lambda r: (x := r.get(d)) is not None and (y := r.get(a)) is not None and x * 1.2 + y > c)


def _list_member(rng):
    lst, tag = rng.choice(LISTS), rng.choice(TAGS)
    return f"ARRAY_CONTAINS({lst}, '{tag}')", lambda r: (v := r.get(lst)) is not None and tag in v


def _not_or(rng):
    a, c, s, w = rng.choice(INTS), rng.choice(THRESHOLDS), rng.choice(STRINGS), rng.choice(WORDS)
    # NOT (p OR q) is TRUE only when both p and q are FALSE (neither may be NULL).
    return (f"NOT ({a} > {c} OR {s} = '{w}')",
            lambda r: (x := r.get(a)) is not None and x <= c and (y := r.get(s)) is not None and y != w)


def _nested(rng):
    a, c, b = rng.choice(INTS), rng.choice(THRESHOLDS), rng.choice(BOOLS)
    d, c2, s, (chosen, sql) = rng.choice(DOUBLES), rng.choice([200, 400]), rng.choice(STRINGS), _words(rng, 2)
    members = frozenset(chosen)
    return (f"({a} > {c} AND {b}) OR ({d} < {c2} AND {s} IN ({sql}))",
            lambda r: ((x := r.get(a)) is not None and x > c and r.get(b) is True)
            or ((y := r.get(d)) is not None and y < c2 and r.get(s) in members))


def _booleans(rng):
    b1, b2 = rng.sample(BOOLS, 2)
    return f"{b1} AND NOT {b2}", lambda r: r.get(b1) is True and r.get(b2) is False


def _coalesce(rng):
    a, c = rng.choice(INTS), rng.choice(THRESHOLDS)
    return f"COALESCE({a}, 0) >= {c}", lambda r: (v if (v := r.get(a)) is not None else 0) >= c


def _size(rng):
    lst, n = rng.choice(LISTS), rng.randint(1, 3)
    return f"SIZE({lst}) >= {n}", lambda r: (v := r.get(lst)) is not None and len(v) >= n


TEMPLATES = [_compare, _and, _in, _not_in, _between, _like, _null_check, _arithmetic, _list_member, _not_or,
             _nested, _booleans, _coalesce, _size]


def make_rules(rng: random.Random, count: int) -> list[Rule]:
    return [TEMPLATES[i % len(TEMPLATES)](rng) for i in range(count)]


# -- measurements ---------------------------------------------------------------------------------------
def best_ns(run: Callable[[], None], repeats: int) -> int:
    """Fastest of `repeats` runs, with the garbage collector paused as timeit does."""
    gc.collect()
    gc.disable()
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter_ns()
            run()
            times.append(time.perf_counter_ns() - start)
        return min(times)
    finally:
        gc.enable()


def baseline_bits(lambdas: list[tuple[int, Callable]], session: dict) -> int:
    bits = 0
    for bit, condition in lambdas:
        if condition(session):
            bits |= bit
    return bits


def measure_evaluation(rules: list[Rule], sessions: list[dict], repeats: int) -> dict:
    conditions = {f"seg{i}": sql for i, (sql, _) in enumerate(rules)}
    segments = compile_segments(conditions, SCHEMA)
    lambdas = [(1 << i, fn) for i, (_, fn) in enumerate(rules)]
    per_rule = [(1 << i, compile_expression(sql, SCHEMA).test) for i, (sql, _) in enumerate(rules)]
    bits = segments.bits
    expected = [baseline_bits(lambdas, s) for s in sessions]
    assert [bits(s) for s in sessions] == expected, "segflow and the hand-written lambdas disagree"
    assert [_per_rule_bits(per_rule, s) for s in sessions] == expected

    evaluations = len(rules) * len(sessions)
    segflow_ns = best_ns(lambda: [bits(s) for s in sessions], repeats) / evaluations
    baseline_ns = best_ns(lambda: [baseline_bits(lambdas, s) for s in sessions], repeats) / evaluations
    single_ns = best_ns(lambda: [_per_rule_bits(per_rule, s) for s in sessions], repeats) / evaluations
    matched = sum(bin(b).count("1") for b in expected) / evaluations
    return {"segments": len(rules), "sessions": len(sessions), "match_rate": round(matched, 4),
            "segflow_ns_per_rule": round(segflow_ns, 2), "baseline_ns_per_rule": round(baseline_ns, 2),
            "segflow_per_rule_evaluators_ns_per_rule": round(single_ns, 2),
            "ratio_segflow_to_baseline": round(segflow_ns / baseline_ns, 3)}


def _per_rule_bits(tests: list[tuple[int, Callable]], session: dict) -> int:
    bits = 0
    for bit, test in tests:
        if test(session, None):
            bits |= bit
    return bits


def measure_compile(rules: list[Rule]) -> dict:
    """Cold; the same text again (a redeploy: the finished evaluator is reused); the same rules spelt
    differently (parsed and checked again, but the generated code is found in the code cache)."""
    conditions = {f"seg{i}": sql for i, (sql, _) in enumerate(rules)}
    respelt = {name: f"  {sql}  " for name, sql in conditions.items()}
    clear_cache()
    timings = []
    for variant in (conditions, conditions, respelt):
        start = time.perf_counter()
        compile_segments(variant, SCHEMA)
        timings.append(time.perf_counter() - start)
    cold, cached, code_cached = timings
    clear_cache()
    start = time.perf_counter()
    for sql, _ in rules:
        compile_expression(sql, SCHEMA)
    single = (time.perf_counter() - start) / len(rules)
    return {"segments": len(rules), "cold_ms": round(cold * 1e3, 2), "cached_ms": round(cached * 1e3, 4),
            "code_cached_ms": round(code_cached * 1e3, 2), "single_expression_cold_ms": round(single * 1e3, 3)}


def measure_memory(rng_seed: int, counts: list[int], session: dict) -> list[dict]:
    results = []
    for count in counts:
        segments = compile_segments({f"seg{i}": sql for i, (sql, _) in
                                     enumerate(make_rules(random.Random(rng_seed), count))}, SCHEMA)
        segments.bits(session)  # warm: first-call allocations are not per-evaluation costs
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        segments.bits(session)
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        # The only thing that grows is the membership int itself (held twice while `b |= bit` replaces it).
        results.append({"segments": count, "peak_bytes": peak, "bitset_bytes": sys.getsizeof(1 << (count - 1))})
    return results


def measure_event_index(rules: list[Rule], sessions: list[dict], others: list[int], repeats: int) -> list[dict]:
    """Per-event cost (look up the event's rules, evaluate each) as rules on other events grow."""
    listening = [(f"r{i}", compile_expression(sql, SCHEMA).evaluate) for i, (sql, _) in enumerate(rules[:20])]
    unrelated = compile_expression(rules[0][0], SCHEMA).evaluate
    results = []
    for count in others:
        index = RuleIndex([(rid, ["add_to_cart"], ev) for rid, ev in listening]
                          + [(f"o{j}", [f"event_{j % 500}"], unrelated) for j in range(count)])

        def process_events():
            for session in sessions:
                for _, evaluate in index.for_event("add_to_cart"):
                    evaluate(session, None)

        ns = best_ns(process_events, repeats) / len(sessions)
        results.append({"other_rules": count, "ns_per_event": round(ns, 1), "rules_run": len(listening)})
    return results


def measure_explain(rules: list[Rule], sessions: list[dict], repeats: int) -> dict:
    """ns per evaluation with tracing off (the normal call, untouched by explain) and on, per rule and for one
    flowchart; the explained values are checked against the evaluators first."""
    evaluators = [compile_expression(sql, SCHEMA) for sql, _ in rules]
    segments = compile_segments({f"seg{i}": sql for i, (sql, _) in enumerate(rules)}, SCHEMA)
    assert all(explain(ev, s).value is ev(s) for s in sessions for ev in evaluators)
    assert all({n for n, e in explain_segments(segments, s).items() if e.value is True} == segments(s)
               for s in sessions)

    evaluations = len(rules) * len(sessions)
    timings = {
        "off": lambda: [ev(s) for s in sessions for ev in evaluators],
        "on": lambda: [explain(ev, s) for s in sessions for ev in evaluators],
        "segments_off": lambda: [segments.bits(s) for s in sessions],
        "segments_on": lambda: [explain_segments(segments, s) for s in sessions],
    }
    ns = {name: best_ns(run, repeats) / evaluations for name, run in timings.items()}
    return {"rules": len(rules), "sessions": len(sessions),
            **{f"{name}_ns_per_evaluation": round(value, 1) for name, value in ns.items()},
            "ratio_on_to_off": round(ns["on"] / ns["off"], 1),
            "segments_ratio_on_to_off": round(ns["segments_on"] / ns["segments_off"], 1)}


# -- report ---------------------------------------------------------------------------------------------
def plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (memory, events) = plt.subplots(1, 2, figsize=(11, 4))
    rows = results["memory"]
    counts = [r["segments"] for r in rows]
    memory.plot(counts, [r["peak_bytes"] for r in rows], marker="o", label="tracemalloc peak")
    memory.plot(counts, [r["bitset_bytes"] for r in rows], linestyle="--", label="size of the result int")
    memory.set(title="Peak allocation of one evaluation", xlabel="segments", ylabel="bytes", ylim=(0, None))
    memory.legend()
    rows = results["event_index"]
    events.plot([r["other_rules"] for r in rows], [r["ns_per_event"] / 1000 for r in rows], marker="o")
    events.set(title="Cost of one event (20 rules listen to it)", xlabel="rules listening to other events",
               ylabel="µs per event", ylim=(0, None))
    events.set_xscale("symlog", linthresh=100)
    events.set_xlim(left=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sessions and repeats (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine.json"))
    args = parser.parse_args(argv)
    session_count, repeats = (2_000, 3) if args.quick else (10_000, 5)
    memory_counts = [50, 200, 1_000] if args.quick else [50, 100, 200, 500, 1_000]
    other_counts = [0, 100, 1_000, 10_000]

    rng = random.Random(SEED)
    sessions = make_sessions(rng, session_count)
    rules = make_rules(rng, 200)
    results = {
        "benchmark": "engine", "seed": SEED, "quick": args.quick, "python": platform.python_version(),
        "evaluation": measure_evaluation(rules, sessions, repeats),
        "compile": measure_compile(rules),
        "memory": measure_memory(SEED, memory_counts, sessions[0]),
        "event_index": measure_event_index(rules, sessions[:2_000], other_counts, repeats),
        "explain": measure_explain(rules, sessions[:100 if args.quick else 200], repeats),
    }
    report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png')}")
    return results


def report(results: dict) -> None:
    e, c = results["evaluation"], results["compile"]
    print(f"engine benchmark: {e['segments']} segment conditions x {e['sessions']} sessions, seed {results['seed']}"
          f" (TRUE for {e['match_rate']:.1%} of evaluations)\n")
    print(f"{'evaluation':<46}{'ns per rule':>12}")
    print(f"{'  segflow compile_segments (one function)':<46}{e['segflow_ns_per_rule']:>12.1f}")
    print(f"{'  hand-written lambda per rule (baseline)':<46}{e['baseline_ns_per_rule']:>12.1f}")
    print(f"{'  segflow compile_expression per rule (ev.test)':<46}"
          f"{e['segflow_per_rule_evaluators_ns_per_rule']:>12.1f}")
    print(f"{'  ratio segflow / baseline':<46}{e['ratio_segflow_to_baseline']:>12.3f}")
    print(f"\ncompile {c['segments']} segments: cold {c['cold_ms']} ms, cached (same text) {c['cached_ms']} ms, "
          f"respelt (code cache hit) {c['code_cached_ms']} ms; one expression cold "
          f"{c['single_expression_cold_ms']} ms")
    print("\npeak tracemalloc bytes of one evaluation (result int size): " +
          ", ".join(f"{r['segments']} segs {r['peak_bytes']} B ({r['bitset_bytes']} B)" for r in results["memory"]))
    print("ns per event (20 rules on it) as rules on other events grow: " +
          ", ".join(f"{r['other_rules']}: {r['ns_per_event']:.0f}" for r in results["event_index"]))
    x = results["explain"]
    print(f"\n{'tracing, ' + str(x['rules']) + ' rules x ' + str(x['sessions']) + ' sessions':<46}"
          f"{'ns per eval':>12}")
    print(f"{'  explain off: ev(values)':<46}{x['off_ns_per_evaluation']:>12.1f}")
    print(f"{'  explain on: explain(ev, values)':<46}{x['on_ns_per_evaluation']:>12.1f}")
    print(f"{'  ratio on / off':<46}{x['ratio_on_to_off']:>12.1f}")
    print(f"{'  explain off: one flowchart, seg.bits(values)':<46}{x['segments_off_ns_per_evaluation']:>12.1f}")
    print(f"{'  explain on: explain_segments(seg, values)':<46}{x['segments_on_ns_per_evaluation']:>12.1f}")
    print(f"{'  ratio on / off':<46}{x['segments_ratio_on_to_off']:>12.1f}")


if __name__ == "__main__":
    main()
