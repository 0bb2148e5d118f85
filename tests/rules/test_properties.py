"""Property tests: random expression trees over a few nullable attributes; the compiled evaluator (alone,
schemaless and typed, and inside one CSE'd segment function) must equal the naive reference interpreter."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segflow.rules import Attribute, Schema, compile_expression, compile_segments
from tests.rules.reference import evaluate, to_sql

INTS, STRINGS, BOOLS, LISTS = ("i1", "i2", "i3"), ("s1", "s2"), ("b1",), ("l1",)
SCHEMA = Schema(attributes={**{n: Attribute("int") for n in INTS}, **{n: Attribute("string") for n in STRINGS},
                            **{n: Attribute("bool") for n in BOOLS}, **{n: Attribute("list") for n in LISTS}})

small_ints = st.integers(-3, 3)
int_leaf = st.one_of(st.sampled_from(INTS).map(lambda n: ("attr", n)), small_ints.map(lambda v: ("const", v)),
                     st.just(("const", None)))
str_leaf = st.one_of(st.sampled_from(STRINGS).map(lambda n: ("attr", n)),
                     st.sampled_from(["", "a", "ab", "b'c"]).map(lambda v: ("const", v)))


def _int_expr(inner):
    return st.one_of(
        st.tuples(st.just("arith"), st.sampled_from("+-*/%"), inner, inner),
        st.tuples(st.just("neg"), inner),
        st.tuples(st.just("coalesce"), st.lists(inner, min_size=2, max_size=3)),
        st.tuples(st.just("nullif"), inner, inner),
    )


int_expr = st.recursive(int_leaf, _int_expr, max_leaves=6)
str_expr = st.recursive(str_leaf, lambda inner: st.tuples(st.just("concat"), inner, inner), max_leaves=3)
patterns = st.sampled_from(["a%", "%b", "%a%", "a_", "_", "%", "ab", "a%b"]).map(lambda p: ("const", p))

bool_leaf = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(["=", "<>", "<", "<=", ">", ">="]), int_expr, int_expr),
    st.tuples(st.just("cmp"), st.sampled_from(["=", "<>", "<"]), str_expr, str_expr),
    st.tuples(st.just("isnull"), int_expr),
    st.tuples(st.just("in"), int_expr, st.lists(st.one_of(int_leaf, int_expr), min_size=1, max_size=4)),
    st.tuples(st.just("between"), int_expr, int_expr, int_expr),
    st.tuples(st.just("like"), str_expr, patterns),
    st.tuples(st.just("contains"), st.sampled_from(LISTS).map(lambda n: ("attr", n)), int_expr),
    st.sampled_from(BOOLS).map(lambda n: ("attr", n)),
    st.sampled_from([True, False, None]).map(lambda v: ("const", v)),
)


def _bool_expr(inner):
    return st.one_of(
        st.tuples(st.just("and"), inner, inner),
        st.tuples(st.just("or"), inner, inner),
        st.tuples(st.just("not"), inner),
        st.tuples(st.just("isnull"), inner),
        st.tuples(st.just("case"), st.lists(st.tuples(inner, inner), min_size=1, max_size=2), inner),
    )


bool_expr = st.recursive(bool_leaf, _bool_expr, max_leaves=8)
rows = st.fixed_dictionaries({
    **{n: st.one_of(st.none(), small_ints) for n in INTS},
    **{n: st.one_of(st.none(), st.sampled_from(["", "a", "ab", "ba", "b'c", "a\n"])) for n in STRINGS},
    **{n: st.one_of(st.none(), st.booleans()) for n in BOOLS},
    **{n: st.one_of(st.none(), st.lists(st.one_of(st.none(), small_ints), max_size=3)) for n in LISTS},
})
FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(bool_expr, st.lists(rows, min_size=1, max_size=4))
def test_conditions_match_the_reference(tree, samples):
    sql = to_sql(tree)
    typed, untyped = compile_expression(sql, SCHEMA), compile_expression(sql)
    for row in samples:
        expected = evaluate(tree, row)
        assert typed(row) is expected, (sql, row, typed.source)
        assert untyped(row) is expected, (sql, row, untyped.source)
        assert typed.test(row) is untyped.test(row) is (expected is True), (sql, row)


@FAST
@given(int_expr, st.lists(rows, min_size=1, max_size=4))
def test_values_match_the_reference(tree, samples):
    sql = to_sql(tree)
    evaluator = compile_expression(sql, SCHEMA)
    for row in samples:
        assert evaluator(row) == evaluate(tree, row), (sql, row, evaluator.source)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bool_expr, min_size=1, max_size=8), st.lists(rows, min_size=1, max_size=4), st.data())
def test_segments_match_the_reference(trees, samples, data):
    # Reusing whole conditions inside others makes shared subtrees (and so CSE) certain, not lucky.
    trees += [("and", data.draw(st.sampled_from(trees)), data.draw(st.sampled_from(trees))) for _ in range(3)]
    conditions = {f"seg{i}": to_sql(tree) for i, tree in enumerate(trees)}
    segments = compile_segments(conditions, SCHEMA)
    for row in samples:
        expected = frozenset(f"seg{i}" for i, tree in enumerate(trees) if evaluate(tree, row) is True)
        assert segments(row) == expected, (conditions, row, segments.source)


# A flowchart testing several literals against one list builds the list's frozenset once (runtime._members);
# these lists mix types that compare equal across types (1, 1.0, TRUE), NULLs and unhashable items (a list,
# which keeps the list itself).
_NEEDLES = [0, 1, -2, 1.5, True, False, "a", "1", ""]
_ITEMS = st.one_of(st.none(), st.integers(-2, 2), st.sampled_from([1.0, 1.5, -0.0, True, False, "a", "1", ""]),
                   st.lists(st.integers(0, 1), max_size=1))


@FAST
@given(st.lists(st.sampled_from(_NEEDLES), min_size=3, max_size=6, unique_by=repr),
       st.lists(st.booleans(), min_size=6, max_size=6),
       st.lists(st.one_of(st.none(), st.lists(_ITEMS, max_size=4)), min_size=1, max_size=5))
def test_several_literals_in_one_list_match_the_reference(needles, negated, lists):
    trees = [("not", tree) if negate else tree
             for tree, negate in zip([("contains", ("attr", "l1"), ("const", n)) for n in needles], negated)]
    conditions = {f"seg{i}": to_sql(tree) for i, tree in enumerate(trees)}
    segments = compile_segments(conditions, SCHEMA)
    assert "_members(" in segments.source
    for values in lists:
        row = {"l1": values}
        expected = frozenset(f"seg{i}" for i, tree in enumerate(trees) if evaluate(tree, row) is True)
        assert segments(row) == expected, (conditions, row)


# Dispatch: safe segments that each need one attribute to equal one of some literals run under one membership
# test of every such literal. Here several segments gate on s1 (=, IN, LIKE without wildcards) and on i1 (IN
# with a NULL in the list, = with 1.0 against ints), joined to random conditions.
_GATES = st.one_of(
    st.sampled_from(["", "a", "ab", "b'c"]).map(lambda v: ("cmp", "=", ("attr", "s1"), ("const", v))),
    st.lists(st.sampled_from(["", "a", "ba", "a\n"]), min_size=1, max_size=3).map(
        lambda vs: ("in", ("attr", "s1"), [("const", v) for v in vs])),
    st.sampled_from(["a", "ab"]).map(lambda v: ("like", ("attr", "s1"), ("const", v))),
    st.lists(st.sampled_from([0, 1, -2, None, 1.0]), min_size=1, max_size=3).map(
        lambda vs: ("in", ("attr", "i1"), [("const", v) for v in vs])),
    st.sampled_from([1, 1.0, -3]).map(lambda v: ("cmp", "=", ("const", v), ("attr", "i1"))),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_GATES, bool_expr, st.booleans()), min_size=3, max_size=10),
       st.lists(rows, min_size=1, max_size=4))
def test_segments_dispatched_on_one_attribute_match_the_reference(gated, samples):
    trees = [("and", gate, other) if first else ("and", other, gate) for gate, other, first in gated]
    conditions = {f"seg{i}": to_sql(tree) for i, tree in enumerate(trees)}
    segments = compile_segments(conditions, SCHEMA, incremental=True)
    for row in samples:
        expected = frozenset(f"seg{i}" for i, tree in enumerate(trees) if evaluate(tree, row) is True)
        assert segments(row) == expected, (conditions, row, segments.source)
        bits = segments.subset(row, None, bytes([1]) * len(trees))
        assert segments.names_of(bits) == expected, (conditions, row)
