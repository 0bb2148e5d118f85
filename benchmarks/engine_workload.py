"""A varied, seeded segment workload for bench_engine: rules, sessions and two hand-written baselines.

Rules are random AND/OR/NOT trees of about five leaf tests over 32 attributes with distinct constants and
mixed operators (comparisons, =, IN, NOT IN, BETWEEN, LIKE prefixes, arithmetic, division by a literal,
IS [NOT] NULL, booleans, COALESCE, list membership), so little is shared by accident. Each leaf comes with
the Python a careful person writes for it: a test that is True exactly when the SQL value is TRUE, and one
for FALSE (NOT needs it), with a None test wherever SQL's NULL would make the comparison unknown.

The two baselines are built from those texts, as someone writing the rules by hand would, in the order the
rules are written: one function per rule (reads its attributes into locals, returns the TRUE test), and one
function for all rules (reads every attribute once into a local, then `if <rule>: b |= bit` per rule).
"""

from __future__ import annotations

import random
from typing import Callable, NamedTuple

from segflow.rules import Attribute, Schema

INTS = [f"i{n}" for n in range(12)]
DOUBLES = [f"d{n}" for n in range(8)]
STRINGS = [f"s{n}" for n in range(7)]
BOOLS = [f"b{n}" for n in range(3)]
LISTS = [f"l{n}" for n in range(2)]
SCHEMA = Schema(attributes={**{n: Attribute("int") for n in INTS}, **{n: Attribute("double") for n in DOUBLES},
                            **{n: Attribute("string") for n in STRINGS}, **{n: Attribute("bool") for n in BOOLS},
                            **{n: Attribute("list") for n in LISTS}})
WORDS = [f"{channel}_{n}" for channel in ("web", "app", "store", "call") for n in range(10)]
TAGS = [f"t{n}" for n in range(20)]
NULL_RATE = 0.15


class Leaf(NamedTuple):
    sql: str
    true: str   # Python, True exactly when the SQL value is TRUE (attributes are locals of the same name)
    false: str  # Python, True exactly when the SQL value is FALSE
    names: frozenset[str]


class Rule(NamedTuple):
    sql: str
    true: str
    names: frozenset[str]


def make_sessions(rng: random.Random, count: int) -> list[dict]:
    """Sessions of 32 attributes; each is NULL with NULL_RATE (half absent, half present as None)."""
    makers = {**{n: lambda: rng.randint(0, 1000) for n in INTS},
              **{n: lambda: round(rng.uniform(0, 1000), 2) for n in DOUBLES},
              **{n: lambda: rng.choice(WORDS) for n in STRINGS},
              **{n: lambda: rng.random() < 0.5 for n in BOOLS},
              **{n: lambda: rng.sample(TAGS, rng.randint(0, 5)) for n in LISTS}}
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


def _not_null(*names: str) -> str:
    return " and ".join(f"{n} is not None" for n in names)


def _compare(rng):
    a, c = rng.choice(INTS), rng.randint(0, 1000)
    op, negated = rng.choice([(">", "<="), (">=", "<"), ("<", ">="), ("<=", ">")])
    return Leaf(f"{a} {op} {c}", f"({a} is not None and {a} {op} {c})", f"({a} is not None and {a} {negated} {c})",
                frozenset([a]))


def _equals(rng):
    s, w = rng.choice(STRINGS), rng.choice(WORDS)
    return Leaf(f"{s} = '{w}'", f"({s} == {w!r})", f"({s} is not None and {s} != {w!r})", frozenset([s]))


def _in(rng):
    s, chosen = rng.choice(STRINGS), rng.sample(WORDS, rng.randint(2, 5))
    members = "{" + ", ".join(map(repr, chosen)) + "}"
    sql = ", ".join(f"'{w}'" for w in chosen)
    if rng.random() < 0.3:
        return Leaf(f"{s} NOT IN ({sql})", f"({s} is not None and {s} not in {members})", f"({s} in {members})",
                    frozenset([s]))
    return Leaf(f"{s} IN ({sql})", f"({s} in {members})", f"({s} is not None and {s} not in {members})",
                frozenset([s]))


def _int_in(rng):
    a, chosen = rng.choice(INTS), sorted(rng.sample(range(0, 1001, 5), rng.randint(3, 8)))
    members = "{" + ", ".join(map(str, chosen)) + "}"
    return Leaf(f"{a} IN ({', '.join(map(str, chosen))})",
                f"({a} in {members})", f"({a} is not None and {a} not in {members})", frozenset([a]))


def _between(rng):
    d, low = rng.choice(DOUBLES), round(rng.uniform(0, 800), 1)
    high = round(low + rng.uniform(20, 400), 1)
    return Leaf(f"{d} BETWEEN {low} AND {high}", f"({d} is not None and {low} <= {d} <= {high})",
                f"({d} is not None and not ({low} <= {d} <= {high}))", frozenset([d]))


def _like(rng):
    s, prefix = rng.choice(STRINGS), rng.choice(["web", "app", "store", "call", "sto", "ca"])
    return Leaf(f"{s} LIKE '{prefix}%'", f"({s} is not None and {s}.startswith({prefix!r}))",
                f"({s} is not None and not {s}.startswith({prefix!r}))", frozenset([s]))


def _null(rng):
    a = rng.choice(INTS + DOUBLES + STRINGS)
    if rng.random() < 0.5:
        return Leaf(f"{a} IS NULL", f"({a} is None)", f"({a} is not None)", frozenset([a]))
    return Leaf(f"{a} IS NOT NULL", f"({a} is not None)", f"({a} is None)", frozenset([a]))


def _arithmetic(rng):
    d, a = rng.choice(DOUBLES), rng.choice(INTS)
    k, c = rng.choice([0.5, 1.2, 1.5, 2.0, 3.0]), rng.randint(200, 2500)
    expr = f"{d} * {k} + {a}"
    return Leaf(f"{expr} > {c}", f"({_not_null(d, a)} and {expr} > {c})", f"({_not_null(d, a)} and {expr} <= {c})",
                frozenset([d, a]))


def _ratio(rng):
    d, k, c = rng.choice(DOUBLES), rng.choice([10.0, 4.0, 2.5, 100.0]), rng.randint(1, 200)
    return Leaf(f"{d} / {k} >= {c}", f"({d} is not None and {d} / {k} >= {c})",
                f"({d} is not None and {d} / {k} < {c})", frozenset([d]))


def _boolean(rng):
    b = rng.choice(BOOLS)
    if rng.random() < 0.5:
        return Leaf(b, f"({b} is True)", f"({b} is False)", frozenset([b]))
    return Leaf(f"NOT {b}", f"({b} is False)", f"({b} is True)", frozenset([b]))


def _coalesce(rng):
    a, c = rng.choice(INTS), rng.randint(0, 1000)
    value = f"({a} if {a} is not None else 0)"
    return Leaf(f"COALESCE({a}, 0) >= {c}", f"({value} >= {c})", f"({value} < {c})", frozenset([a]))


def _contains(rng):
    lst, tag = rng.choice(LISTS), rng.choice(TAGS)
    return Leaf(f"ARRAY_CONTAINS({lst}, '{tag}')", f"({lst} is not None and {tag!r} in {lst})",
                f"({lst} is not None and {tag!r} not in {lst} and None not in {lst})", frozenset([lst]))


LEAVES = [_compare, _compare, _equals, _in, _int_in, _between, _like, _null, _arithmetic, _ratio, _boolean,
          _coalesce, _contains]


def _tree(rng: random.Random, leaves: list[Leaf]) -> Leaf:
    """Join leaves into a random AND/OR tree, with the occasional NOT."""
    if len(leaves) == 1:
        return leaves[0]
    split = rng.randint(1, len(leaves) - 1)
    left, right = _tree(rng, leaves[:split]), _tree(rng, leaves[split:])
    conjunction = rng.random() < 0.7
    op = "AND" if conjunction else "OR"
    true_join, false_join = (" and ", " or ") if conjunction else (" or ", " and ")
    node = Leaf(f"({left.sql}) {op} ({right.sql})", f"({left.true}{true_join}{right.true})",
                f"({left.false}{false_join}{right.false})", left.names | right.names)
    if rng.random() < 0.1:
        return Leaf(f"NOT ({node.sql})", node.false, node.true, node.names)
    return node


def make_rules(rng: random.Random, count: int, leaves: int = 5) -> list[Rule]:
    """`count` rules of `leaves` leaf tests each (give or take one)."""
    rules = []
    for _ in range(count):
        n = max(1, leaves + rng.choice([-1, 0, 0, 1]))
        tree = _tree(rng, [rng.choice(LEAVES)(rng) for _ in range(n)])
        rules.append(Rule(tree.sql, tree.true, tree.names))
    return rules


def per_rule_functions(rules: list[Rule]) -> list[Callable[[dict], bool]]:
    """Baseline 1: one hand-written function per rule, reading its own attributes into locals."""
    functions = []
    for i, rule in enumerate(rules):
        reads = "".join(f"    {n} = row.get({n!r})\n" for n in sorted(rule.names))
        namespace: dict = {}
        exec(f"def rule_{i}(row):\n{reads}    return {rule.true}\n", namespace)
        functions.append(namespace[f"rule_{i}"])
    return functions


def per_rule_bits(rules: list[Rule]) -> Callable[[dict], int]:
    """The one-function-per-rule baseline as a session's bits, rule by rule (what both engine benchmarks time)."""
    per_rule = list(enumerate(per_rule_functions(rules)))

    def bits(session: dict) -> int:
        result = 0
        for i, rule in per_rule:
            if rule(session):
                result |= 1 << i
        return result

    return bits


def one_function_source(rules: list[Rule]) -> str:
    """Baseline 2 as source: one function for all rules, every attribute read once into a local."""
    names = sorted(set().union(*(r.names for r in rules)))
    lines = ["def all_rules(row):", "    get = row.get"] + [f"    {n} = get({n!r})" for n in names] + ["    b = 0"]
    for i, rule in enumerate(rules):
        lines += [f"    if {rule.true}:", f"        b |= {1 << i}"]
    return "\n".join(lines + ["    return b", ""])


def one_function(rules: list[Rule]) -> Callable[[dict], int]:
    namespace: dict = {}
    exec(one_function_source(rules), namespace)
    return namespace["all_rules"]
