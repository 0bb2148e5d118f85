"""Generated code: AND/OR operands run cheap and selective first, never moving a callout ahead; helpers
whose NULL and zero cases a literal settles are inlined."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from segflow.rules import Attribute, EvalContext, Schema, compile_expression, compile_segments

SCHEMA = Schema(attributes={"n": Attribute("int"), "d": Attribute("double"), "s": Attribute("string"),
                            "free": Attribute("any")}, callouts={"score": 0})


def body(evaluator) -> str:
    """The generated function's code, without the header comment that quotes the SQL."""
    return evaluator.source[evaluator.source.index("def "):]


class CountingContext(EvalContext):
    def __init__(self):
        self.calls = 0

    def callout(self, name, args):
        self.calls += 1
        return 60


def test_a_selective_equality_runs_before_a_range_test():
    source = body(compile_segments({"a": "n > 5 AND s = 'FR'"}, SCHEMA))
    assert source.index("'FR'") < source.index("> 5")


def test_a_callout_stays_after_the_tests_written_before_it_and_is_skipped_when_they_decide():
    segments = compile_segments({"a": "EXTERNALCALLOUT('score') > 50 AND n > 5 AND s = 'FR'"}, SCHEMA)
    source = body(segments)
    assert source.index("'FR'") < source.index("callout") and source.index("> 5") < source.index("callout")
    ctx = CountingContext()
    assert segments.bits({"n": 1, "s": "FR"}, ctx) == 0 and ctx.calls == 0
    assert segments.bits({"n": 9, "s": "FR"}, ctx) == 1 and ctx.calls == 1


def test_operands_of_unknown_type_keep_their_written_order():
    # `free` may hold anything at run time, so `free > 1` may raise: it is not moved behind `s = 'x'`.
    source = body(compile_expression("free > 1 AND s = 'x'", SCHEMA))
    assert source.index("> 1") < source.index("'x'")


def test_nested_and_not_are_ordered_as_one_conjunction():
    source = body(compile_segments({"a": "(n > 5 AND (d < 2.0)) AND NOT (s <> 'FR' OR n IS NULL)"}, SCHEMA))
    assert source.index("'FR'") < source.index("> 5")


def test_division_by_a_nonzero_double_literal_needs_no_helper():
    assert "_div" not in body(compile_expression("d / 2.5 > 1", SCHEMA))
    assert "_div" in body(compile_expression("d / 2 > 1", SCHEMA))      # integer division truncates
    assert "_div" in body(compile_expression("d / 0.0 > 1", SCHEMA))    # division by zero is NULL
    for d, expected in ((5.0, True), (2.0, False), (None, None)):
        assert compile_expression("d / 2.5 > 1", SCHEMA)({"d": d}) is expected


def test_an_int_literal_compared_with_a_double_is_written_as_a_float():
    assert "> 5.0" in body(compile_expression("d > 5", SCHEMA))
    assert ">= 1.0 and " in body(compile_expression("d BETWEEN 1 AND 2", SCHEMA))
    assert "> 5)" in body(compile_expression("n > 5", SCHEMA))  # an int stays an int
    huge = 2 ** 53 + 1  # no float equals it: it stays an int
    assert f"> {huge}" in body(compile_expression(f"d > {huge}", SCHEMA))


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
       st.sampled_from([0, 1, -7, 2 ** 53, -(2 ** 53), 2 ** 53 + 1, 2 ** 62]),
       st.one_of(st.none(), st.integers(-2 ** 60, 2 ** 60), st.floats(allow_nan=False),
                 st.sampled_from([2.0 ** 53, 2 ** 53 + 1, float(2 ** 53 + 2), -0.0, 10.0 ** 20])))
def test_comparing_a_double_with_an_int_literal_is_exact(op, literal, value):
    # A double attribute may hold an int at run time; either way the result is Python's exact comparison.
    python_op = {"=": "==", "<>": "!="}.get(op, op)
    expected = None if value is None else eval(f"value {python_op} literal")
    evaluator = compile_expression(f"d {op} {literal}", SCHEMA)
    assert evaluator({"d": value}) is expected
    assert compile_expression(f"NOT (d {op} {literal})", SCHEMA)({"d": value}) is (
        None if expected is None else not expected)
    low, high = sorted([literal, literal + 3])
    between = None if value is None else low <= value <= high
    assert compile_expression(f"d BETWEEN {low} AND {high}", SCHEMA)({"d": value}) is between


def test_least_and_greatest_of_a_value_and_a_literal_need_no_helper():
    for sql in ("LEAST(n, 10) > 3", "GREATEST(2.5, d) < 7", "LEAST(s, 'm') = 'a'"):
        assert "_least" not in body(compile_expression(sql, SCHEMA))
        assert "_greatest" not in body(compile_expression(sql, SCHEMA))
    assert "_least(" in body(compile_expression("LEAST(n, d) > 3", SCHEMA))  # no literal: the helper


_EXTREME_VALUES = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([2.0, -0.0, 0.0, 1.5, float("nan")]))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.sampled_from(["LEAST", "GREATEST"]), st.sampled_from([-1, 0, 2, 1.5, 2.0, -0.0]), st.booleans(),
       _EXTREME_VALUES)
def test_least_and_greatest_with_a_literal_agree_with_the_helpers(name, literal, literal_first, value):
    # min()/max() of two keep the first of equal values (2 vs 2.0, 0.0 vs -0.0) and a NaN first: so must the
    # inlined form.
    from segflow.rules.runtime import _greatest, _least
    helper = _least if name == "LEAST" else _greatest
    sql = f"{name}({literal}, d)" if literal_first else f"{name}(d, {literal})"
    expected = helper(literal, value) if literal_first else helper(value, literal)
    actual = compile_expression(sql, SCHEMA)({"d": value})
    assert repr(actual) == repr(expected), (sql, value)


def test_rules_needing_one_attribute_to_be_one_of_some_values_run_under_one_test():
    conditions = {"fr": "s = 'FR' AND n > 1", "de": "n < 5 AND s IN ('DE', 'AT')", "x": "d > 2",
                  "it": "s = 'IT' AND d < 1", "any": "s = 'FR' OR n > 1"}
    segments = compile_segments(conditions, SCHEMA)
    source = body(segments)
    assert " in {'AT', 'DE', 'FR', 'IT'}:" in source  # one test for the three rules that need s
    assert segments({"s": "FR", "n": 2, "d": 0.5}) == {"fr", "any"}
    assert segments({"s": "IT", "n": 2, "d": 0.5}) == {"it", "any"}
    assert segments({"s": "AT", "n": 2, "d": 3.0}) == {"de", "x", "any"}
    assert segments({"s": None, "n": None, "d": None}) == frozenset()


def test_a_rule_that_may_raise_or_call_out_is_not_moved_under_a_gate():
    conditions = {f"r{i}": f"s = 'v{i}' AND EXTERNALCALLOUT('score') > {i}" for i in range(4)}
    assert " in {" not in body(compile_segments(conditions, SCHEMA))


def test_not_between_of_a_nan_is_the_negation_of_between():
    # Ranges are tested as two comparisons and NOT BETWEEN as the two opposite ones, except for doubles: a
    # NaN fails both, so there NOT BETWEEN stays `not (...)`, as it always was.
    nan = float("nan")
    assert compile_expression("d BETWEEN 1 AND 2", SCHEMA)({"d": nan}) is False
    assert compile_expression("d NOT BETWEEN 1 AND 2", SCHEMA)({"d": nan}) is True
    assert compile_expression("NOT (d BETWEEN 1 AND 2)", SCHEMA)({"d": nan}) is True
    assert compile_expression("n NOT BETWEEN 1 AND 2", SCHEMA)({"n": 3}) is True
    assert compile_expression("n NOT BETWEEN 1 AND 2", SCHEMA)({"n": None}) is None
    assert compile_expression("COALESCE(n, 0) NOT BETWEEN 1 AND 2", SCHEMA)({"n": None}) is True
    assert compile_expression("COALESCE(d, 0.0) NOT BETWEEN 1 AND 2", SCHEMA)({"d": 1.5}) is False
