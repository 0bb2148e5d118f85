"""Evaluation in instructions, counted by callgrind: bench_engine's ratios as a figure that repeats on a loaded machine.

    python -m benchmarks.bench_engine_instructions [--sessions 1000] [--out benchmarks/results/engine_instructions.json]

Builds bench_engine's workload (same seed: 200 varied rules, the first `--sessions` of its sessions), checks
that segflow's compile_segments and both hand-written baselines give identical bits on every session, then
runs itself under `valgrind --tool=callgrind` with instrumentation off and counts, for each evaluator alone,
the instructions of one pass over the sessions (`callgrind_control` turns counting on for that pass and dumps
it). Time on a shared 2-core machine moves by 25% between runs; these counts move by well under 1%. They
weigh every instruction alike (a cache miss or a mispredicted branch costs nothing extra), so read them next
to bench_engine's times, not instead of them. Takes a minute or two. Writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

EVALUATORS = ("segflow", "one_function", "function_per_rule")


def evaluators(session_count: int):
    """(sessions, rule count, {name: function of one session -> bits}) for bench_engine's workload, checked."""
    import random

    from benchmarks.bench_engine import SEED, conditions_of
    from benchmarks.engine_workload import SCHEMA, make_rules, make_sessions, one_function, per_rule_bits
    from segflow.rules import compile_segments

    rng = random.Random(SEED)
    sessions = make_sessions(rng, 10_000)[:session_count]
    rules = make_rules(rng, 200)

    functions = {"segflow": compile_segments(conditions_of(rules), SCHEMA).bits,
                 "one_function": one_function(rules), "function_per_rule": per_rule_bits(rules)}
    expected = [functions["one_function"](s) for s in sessions]
    for name, function in functions.items():
        assert [function(s) for s in sessions] == expected, f"{name} disagrees with the hand-written baseline"
    return sessions, len(rules), functions


def child(session_count: int) -> None:
    """Under callgrind: one counted pass per evaluator, each dumped to its own file, in EVALUATORS order."""
    sessions, _, functions = evaluators(session_count)
    for name in EVALUATORS:
        function = functions[name]
        _control("-i", "on")
        for session in sessions:
            function(session)
        _control("-i", "off")
        _control("-d", name)


def _control(*arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True, capture_output=True)


def count(session_count: int, work: Path) -> dict[str, int]:
    """{evaluator: instructions of one pass over the sessions}, from the dumps of a callgrind run of child()."""
    out = work / "callgrind.engine"
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                    sys.executable, "-m", "benchmarks.bench_engine_instructions", "--child",
                    "--sessions", str(session_count)],
                   check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    totals = {}
    for dump in work.glob("callgrind.engine.*"):
        text = dump.read_text()
        trigger = re.search(r"^desc: Trigger: .*?(\w+)$", text, re.M)
        if trigger and trigger.group(1) in EVALUATORS:
            totals[trigger.group(1)] = sum(int(n) for n in re.findall(r"^(?:summary|totals): (\d+)", text, re.M))
    missing = set(EVALUATORS) - set(totals)
    assert not missing, f"no callgrind dump for {sorted(missing)}"
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000, help="sessions per counted pass")
    parser.add_argument("--out", default="benchmarks/results/engine_instructions.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.sessions)
        return
    sessions, rules, _ = evaluators(options.sessions)  # checked here too: a wrong evaluator fails fast
    with tempfile.TemporaryDirectory() as work:
        totals = count(len(sessions), Path(work))
    per_rule = {name: totals[name] / (rules * len(sessions)) for name in EVALUATORS}
    results = {"benchmark": "engine_instructions", "rules": rules, "sessions": len(sessions),
               **{f"{name}_instructions_per_rule": round(per_rule[name], 1) for name in EVALUATORS},
               "ratio_to_one_function": round(per_rule["segflow"] / per_rule["one_function"], 3),
               "ratio_to_function_per_rule": round(per_rule["segflow"] / per_rule["function_per_rule"], 3)}
    print(f"evaluation in instructions (callgrind), {rules} rules x {len(sessions)} sessions, identical bits")
    for name in EVALUATORS:
        print(f"  {name:<20}{per_rule[name]:>10.1f} instructions per rule")
    print(f"  ratio segflow / one function for all rules {results['ratio_to_one_function']:.3f}, "
          f"/ one function per rule {results['ratio_to_function_per_rule']:.3f}")
    Path(options.out).parent.mkdir(parents=True, exist_ok=True)
    Path(options.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {options.out}")


if __name__ == "__main__":
    main()
