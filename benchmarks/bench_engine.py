"""Engine benchmark: compiled segment conditions against hand-written Python on a varied, seeded workload.

    python -m benchmarks.bench_engine [--quick] [--out benchmarks/results/engine.json]

Measures, in one run, on benchmarks/engine_workload.py (200 random AND/OR/NOT rules of ~5 leaf tests over 32
attributes: comparisons, =, IN, BETWEEN, LIKE prefixes, arithmetic, division, NULL tests, COALESCE, lists):
- evaluation: ns per rule for compile_segments (one generated function) against two hand-written baselines,
  one function per rule and one function for all rules reading every attribute once, all three checked to
  give identical bits on every session;
- compile: 200 rules cold (caches cleared) against pure-Python sqlglot merely parsing the same 200 texts in
  this process, the same text again (cached), respelt (code cache), and 10,000 rules (50 flowcharts of 200)
  against the 200 and against the same 50 flowcharts compiled each alone, cold (linear: 1.0x);
- incremental resegmentation: cost against the fraction of the 32 attributes changed since the last one;
- tracemalloc peak of one evaluation as segments grow, one event's cost as rules on other events grow, and
  opt-in tracing (explain off/on). Writes JSON and a PNG of the curves next to it.
"""

from __future__ import annotations

import argparse
import gc
import importlib.machinery
import json
import os
import platform
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Callable

from benchmarks.engine_workload import SCHEMA, Rule, make_rules, make_sessions, one_function, per_rule_bits
from segflow.rules import (RuleIndex, clear_cache, compile_expression, compile_segments, explain,
                           explain_segments)

SEED = 20240501


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


def interleaved_best_ns(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, int]:
    """Fastest of `repeats` runs of each, the runs taken in turn (one of each per round) so that a change in
    the machine's load moves all of them alike, with the garbage collector paused as timeit does."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], best_ns(run, 1))
    return best


def measure_evaluation(rules: list[Rule], sessions: list[dict], repeats: int) -> dict:
    segments = compile_segments(conditions_of(rules), SCHEMA)
    per_rule = per_rule_bits(rules)
    all_rules = one_function(rules)
    bits = segments.bits

    expected = [all_rules(s) for s in sessions]
    assert [per_rule(s) for s in sessions] == expected, "the two hand-written baselines disagree"
    assert [bits(s) for s in sessions] == expected, "segflow and the hand-written baselines disagree"
    evaluations = len(rules) * len(sessions)
    best = interleaved_best_ns({"segflow": lambda: [bits(s) for s in sessions],
                                "one": lambda: [all_rules(s) for s in sessions],
                                "per_rule": lambda: [per_rule(s) for s in sessions]}, repeats)
    segflow_ns, one_ns, per_rule_ns = (best[name] / evaluations for name in ("segflow", "one", "per_rule"))
    matched = sum(bin(b).count("1") for b in expected) / evaluations
    return {"segments": len(rules), "sessions": len(sessions), "match_rate": round(matched, 4),
            "leaf_tests": sum(r.sql.count(" AND ") + r.sql.count(" OR ") + 1 - r.sql.count(" BETWEEN ")
                              for r in rules),
            "segflow_ns_per_rule": round(segflow_ns, 2), "one_function_ns_per_rule": round(one_ns, 2),
            "function_per_rule_ns_per_rule": round(per_rule_ns, 2),
            "ratio_to_one_function": round(segflow_ns / one_ns, 3),
            "ratio_to_function_per_rule": round(segflow_ns / per_rule_ns, 3)}


def conditions_of(rules: list[Rule], offset: int = 0) -> dict[str, str]:
    return {f"seg{offset + i}": rule.sql for i, rule in enumerate(rules)}


def pure_sqlglot_parse_ms(texts: list[str], repeats: int) -> float:
    """Best ms to parse `texts` with pure-Python sqlglot, in this process, even where sqlglotc is installed:
    sqlglot is imported a second time from its .py files only, then the compiled one is put back."""
    compiled = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "sqlglot"}
    package = os.path.dirname(compiled["sqlglot"].__file__)
    site = os.path.dirname(package)
    source_only = importlib.machinery.FileFinder.path_hook(
        (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES))

    def hook(path: str):
        if path != site and not path.startswith(package):
            raise ImportError(path)
        return source_only(path)

    def forget_finders():
        for path in [p for p in sys.path_importer_cache if p == site or p.startswith(package)]:
            del sys.path_importer_cache[path]
    for name in compiled:
        del sys.modules[name]
    sys.path_hooks.insert(0, hook)
    forget_finders()
    try:
        import sqlglot
        assert sqlglot.parser.__file__.endswith(".py"), "could not import pure-Python sqlglot"
        return min(_timed(lambda: [sqlglot.parse_one(t) for t in texts]) for _ in range(repeats)) * 1e3
    finally:
        sys.path_hooks.remove(hook)
        forget_finders()
        for name in [n for n in sys.modules if n.split(".")[0] == "sqlglot"]:
            del sys.modules[name]
        sys.modules.update(compiled)


def _timed(run: Callable[[], object]) -> float:
    """CPU seconds of this process to run `run` (other work on a shared machine moves wall time far more)."""
    gc.collect()  # each timing starts from the same heap (the collector stays on: compiling allocates)
    start = time.process_time()
    run()
    return time.process_time() - start


def measure_compile(rules: list[Rule], big: list[Rule], repeats: int) -> dict:
    """Cold (caches cleared, best of `repeats`) against pure sqlglot parsing the same texts; the same text
    again (a redeploy: the finished evaluator is reused); the same rules spelt differently (parsed and checked
    again, the generated code found in the code cache); 10,000 rules as 50 flowcharts of 200, cold, against
    the 200 and against the sum of the 50 flowcharts compiled each alone (caches cleared before each, nothing
    kept), best of two rounds of both. That second ratio is the one that tells linear from not on a loaded
    machine: each side is seconds of the same work, while the best of a few 0.1 s runs of the 200 catches
    quiet moments a 5 s run never has."""
    conditions = conditions_of(rules)
    respelt = {name: f"  {sql}  " for name, sql in conditions.items()}
    parse_ms = pure_sqlglot_parse_ms(list(conditions.values()), repeats)
    cold = []
    for _ in range(repeats):
        clear_cache()
        cold.append(_timed(lambda: compile_segments(conditions, SCHEMA)))
    cached = _timed(lambda: compile_segments(conditions, SCHEMA))
    code_cached = _timed(lambda: compile_segments(respelt, SCHEMA))
    charts = [conditions_of(big[i:i + 200], i) for i in range(0, len(big), 200)]

    def separately() -> float:
        total = 0.0
        for chart in charts:
            clear_cache()
            total += _timed(lambda: compile_segments(chart, SCHEMA))
        return total
    together, alone = [], []
    for _ in range(2):
        clear_cache()
        together.append(_timed(lambda: [compile_segments(chart, SCHEMA) for chart in charts]))
        alone.append(separately())
    big_s, alone_s = min(together), min(alone)
    clear_cache()
    single = _timed(lambda: [compile_expression(r.sql, SCHEMA) for r in rules]) / len(rules)
    cold_ms = min(cold) * 1e3
    return {"segments": len(rules), "cold_ms": round(cold_ms, 2), "pure_sqlglot_parse_ms": round(parse_ms, 2),
            "ratio_cold_to_parse": round(cold_ms / parse_ms, 3), "cached_ms": round(cached * 1e3, 4),
            "code_cached_ms": round(code_cached * 1e3, 2), "big_rules": len(big),
            "big_cold_ms": round(big_s * 1e3, 1), "big_to_cold_ratio": round(big_s * 1e3 / cold_ms, 1),
            "big_separately_ms": round(alone_s * 1e3, 1), "big_to_separately_ratio": round(big_s / alone_s, 3),
            "single_expression_cold_ms": round(single * 1e3, 3)}


def measure_incremental(rules: list[Rule], sessions: list[dict], fractions: list[float], repeats: int) -> list[dict]:
    """Resegmentation after a fraction of the attributes changed: incremental against full evaluation."""
    segments = compile_segments(conditions_of(rules), SCHEMA)
    names = sorted(SCHEMA.attributes)
    replacement = make_sessions(random.Random(SEED + 2), len(sessions))
    results = []
    for fraction in fractions:
        changed = names[:round(fraction * len(names))]
        pairs = []
        for session, other in zip(sessions, replacement):
            _, memo = segments.incremental(session, None, None)
            after = {**session, **{n: other.get(n) for n in changed}}
            assert segments.incremental(after, None, memo)[0] == segments.bits(after)
            pairs.append((after, memo))
        ns = best_ns(lambda: [segments.incremental(after, None, memo) for after, memo in pairs],
                     repeats) / len(pairs)
        full_ns = best_ns(lambda: [segments.bits(after) for after, _ in pairs], repeats) / len(pairs)
        results.append({"fraction_changed": fraction, "attributes_changed": len(changed),
                        "ns_per_resegment": round(ns), "full_ns": round(full_ns),
                        "ratio_to_full": round(ns / full_ns, 3)})
    return results


def measure_memory(rng_seed: int, counts: list[int], session: dict) -> list[dict]:
    results = []
    for count in counts:
        segments = compile_segments(conditions_of(make_rules(random.Random(rng_seed), count)), SCHEMA)
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
    listening = [(f"r{i}", compile_expression(r.sql, SCHEMA).evaluate) for i, r in enumerate(rules[:20])]
    unrelated = compile_expression(rules[0].sql, SCHEMA).evaluate
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
    evaluators = [compile_expression(r.sql, SCHEMA) for r in rules]
    segments = compile_segments(conditions_of(rules), SCHEMA)
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

    fig, (incremental, memory, events) = plt.subplots(1, 3, figsize=(15, 4))
    rows = results["incremental"]
    incremental.plot([100 * r["fraction_changed"] for r in rows], [r["ns_per_resegment"] / 1000 for r in rows],
                     marker="o", label="incremental")
    incremental.axhline(rows[0]["full_ns"] / 1000, linestyle="--", label="full evaluation")
    incremental.set(title="Resegmentation, 200 segments", xlabel="% of the 32 attributes changed",
                    ylabel="µs per resegmentation", ylim=(0, None))
    incremental.legend()
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
    fractions = [0.0, 0.03, 0.1, 0.25, 0.5, 1.0]

    rng = random.Random(SEED)
    sessions = make_sessions(rng, session_count)
    rules = make_rules(rng, 200)
    big = make_rules(random.Random(SEED + 1), 2_000 if args.quick else 10_000)
    results = {
        "benchmark": "engine", "seed": SEED, "quick": args.quick, "python": platform.python_version(),
        "evaluation": measure_evaluation(rules, sessions, repeats),
        "compile": measure_compile(rules, big, repeats),
        "incremental": measure_incremental(rules, sessions[:1_000], fractions, repeats),
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
    print(f"engine benchmark: {e['segments']} varied segment conditions ({e['leaf_tests']} leaf tests) x "
          f"{e['sessions']} sessions, seed {results['seed']} (TRUE for {e['match_rate']:.1%} of evaluations)\n")
    print(f"{'evaluation (identical bits, all three)':<50}{'ns per rule':>12}")
    print(f"{'  segflow compile_segments (one function)':<50}{e['segflow_ns_per_rule']:>12.1f}")
    print(f"{'  hand-written: one function for all rules':<50}{e['one_function_ns_per_rule']:>12.1f}")
    print(f"{'  hand-written: one function per rule':<50}{e['function_per_rule_ns_per_rule']:>12.1f}")
    print(f"{'  ratio segflow / one function for all rules':<50}{e['ratio_to_one_function']:>12.3f}")
    print(f"{'  ratio segflow / one function per rule':<50}{e['ratio_to_function_per_rule']:>12.3f}")
    print(f"\ncompile {c['segments']} segments cold {c['cold_ms']} ms = {c['ratio_cold_to_parse']}x pure-Python "
          f"sqlglot parsing them ({c['pure_sqlglot_parse_ms']} ms); cached (same text) {c['cached_ms']} ms; "
          f"respelt (code cache hit) {c['code_cached_ms']} ms; {c['big_rules']} rules cold {c['big_cold_ms']} ms "
          f"= {c['big_to_cold_ratio']}x the 200 and {c['big_to_separately_ratio']}x its 50 flowcharts compiled each "
          f"alone ({c['big_separately_ms']} ms); one expression cold {c['single_expression_cold_ms']} ms")
    print("\nincremental resegmentation, µs (x a full evaluation of the same sessions; full "
          f"{results['incremental'][0]['full_ns'] / 1000:.1f} µs): " +
          ", ".join(f"{r['fraction_changed']:.0%} changed {r['ns_per_resegment'] / 1000:.1f} ({r['ratio_to_full']}x)"
                    for r in results["incremental"]))
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
