"""explain/explain_segments: each subexpression's value and reads, skipped operands, and agreement with the
compiled evaluators on random expressions and rows (the generators of test_properties)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from segflow.rules import EvalContext, compile_expression, compile_segments, explain, explain_segments
from tests.rules.test_properties import FAST, SCHEMA, bool_expr, int_expr, rows
from tests.rules.reference import to_sql

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class Visit(EvalContext):
    """An event with parameters, some history, and a callout that records its calls."""

    event_name = "add_to_cart"
    event_params = {"sku": "TV-1", "price": 499.0}

    def __init__(self, score=60):
        self.calls, self.score = [], score

    def event_count(self, name):
        return {"login": 2}.get(name, 0)

    def now(self):
        return NOW

    def callout(self, name, args):
        self.calls.append((name, args))
        return self.score


def why(sql, row=None, ctx=None):
    return explain(compile_expression(sql), row or {}, ctx)


def test_a_null_comparison_shows_the_missing_attribute():
    e = why("age > 30")
    assert (e.text, e.value, dict(e.reads), e.operands) == ("age > 30", None, {"age": None}, ())
    assert str(e) == "age > 30 → NULL  (age = NULL)"
    assert e.to_dict() == {"expression": "age > 30", "value": None, "operands": [], "reads": {"age": None}}


def test_tree_text_values_and_reads():
    e = why("cart_total >= 500 AND NOT vip", {"vip": False})
    assert str(e) == ("cart_total >= 500 AND NOT vip → NULL\n"
                      "  cart_total >= 500 → NULL  (cart_total = NULL)\n"
                      "  NOT vip → TRUE  (vip = FALSE)")
    assert dict(e.reads) == {}  # the AND reads nothing itself: its operands do


def test_and_or_stop_where_the_result_is_decided():
    e = why("a > 1 AND EXTERNALCALLOUT('score', a) > 50", {"a": 0}, ctx := Visit())
    assert e.value is False and ctx.calls == []
    assert [(o.text, o.value, o.skipped) for o in e.operands] == [
        ("a > 1", False, False), ("EXTERNALCALLOUT('score', a) > 50", None, True)]
    assert str(e).endswith("EXTERNALCALLOUT('score', a) > 50 → not evaluated")
    assert e.to_dict()["operands"][1] == {"expression": "EXTERNALCALLOUT('score', a) > 50", "value": None,
                                          "operands": [], "reads": {}, "skipped": True}
    # NULL does not decide AND (NULL AND FALSE is FALSE), so the next operand is evaluated.
    e = why("a > 1 AND b < 0", {"b": 5})
    assert e.value is False and [(o.value, o.skipped) for o in e.operands] == [(None, False), (False, False)]
    e = why("a > 1 OR b < 0 OR c = 1", {"a": 2})
    assert e.value is True and [o.skipped for o in e.operands] == [False, True, True]
    e = why("a > 1 OR b < 0", {"a": 0})
    assert e.value is None and [o.value for o in e.operands] == [False, None]


def test_in_with_null():
    assert why("x IN (1, 2, NULL)", {"x": 3}).value is None
    assert why("x IN (1, 2, NULL)", {"x": 1}).value is True
    e = why("x NOT IN (1, NULL)", {"x": 3})
    assert (e.text, e.value) == ("NOT x IN (1, NULL)", None)
    assert [(o.text, o.value, dict(o.reads)) for o in e.operands] == [("x IN (1, NULL)", None, {"x": 3})]
    # A non-constant item is an equality OR'ed with the constant set test.
    e = why("x IN (1, y)", {"x": 2, "y": 2})
    assert (e.text, e.value) == ("x IN (1) OR x = y", True)
    assert [(o.value, dict(o.reads)) for o in e.operands] == [(False, {"x": 2}), (True, {"x": 2, "y": 2})]


def test_case_evaluates_conditions_up_to_the_branch_taken():
    sql = "CASE WHEN a > 10 THEN 'big' WHEN a > 1 THEN UPPER(s) WHEN b THEN 'b' ELSE LOWER(s) END"
    e = why(sql, {"a": 5, "s": "x"})
    assert e.value == "X"
    assert [(o.text, o.value, o.skipped) for o in e.operands] == [
        ("a > 10", False, False), ("a > 1", True, False), ("UPPER(s)", "X", False), ("LOWER(s)", None, True)]
    e = why(sql, {"s": "X", "b": True})  # a NULL condition is not taken
    assert e.value == "b" and [o.value for o in e.operands[:2]] == [None, None]
    assert dict(e.reads) == {"b": True} and e.operands[2].skipped and e.operands[3].skipped


def test_callouts_and_event_functions_through_a_context():
    ctx = Visit(score=70)
    e = why("EXTERNALCALLOUT('score', customer, event.sku) > 50 AND EVENT_COUNT('login') >= 2 "
            "AND event.price > 100", {"customer": "c1"}, ctx)
    assert e.value is True and ctx.calls == [("score", ("c1", "TV-1"))]
    callout_test, count_test, price_test = e.operands
    (callout,) = callout_test.operands
    assert (callout.text, callout.value, dict(callout.reads)) == (
        "EXTERNALCALLOUT('score', customer, event.sku)", 70, {"customer": "c1", "event.sku": "TV-1"})
    assert [(o.text, o.value) for o in count_test.operands] == [("EVENT_COUNT('login')", 2)]
    assert dict(price_test.reads) == {"event.price": 499.0}
    e = why("DATEDIFF(NOW(), ts) = 1 AND EVENT_NAME() = 'add_to_cart'", {"ts": datetime(2024, 4, 30)}, Visit())
    assert e.value is True
    assert json.loads(json.dumps(e.to_dict()))["operands"][0]["operands"][0]["operands"][0] == {
        "expression": "NOW()", "value": "2024-05-01T12:00:00+00:00", "operands": [], "reads": {}}


def test_a_shared_subexpression_is_evaluated_once():
    ctx = Visit(score=5)
    e = why("EXTERNALCALLOUT('score', c) > 50 OR EXTERNALCALLOUT('score', c) < 10", {"c": "c1"}, ctx)
    assert e.value is True and ctx.calls == [("score", ("c1",))]
    assert e.operands[0].operands[0] is e.operands[1].operands[0]


def test_segments():
    segments = compile_segments({"adult": "age >= 18", "adult_fr": "age >= 18 AND country = 'FR'",
                                 "vip": "EXTERNALCALLOUT('score', customer) > 50", "unknown_age": "age IS NULL"})
    ctx, row = Visit(), {"age": 30, "country": "DE", "customer": "c1"}
    explained = explain_segments(segments, row, ctx)
    assert list(explained) == ["adult", "adult_fr", "vip", "unknown_age"]
    assert {name for name, e in explained.items() if e.value is True} == segments(row, Visit()) == {"adult", "vip"}
    assert explained["adult_fr"].operands[0] is explained["adult"]  # shared with the segment it contains
    assert ctx.calls == [("score", ("c1",))]
    assert str(explained["adult_fr"]) == ("age >= 18 AND country = 'FR' → FALSE\n"
                                          "  age >= 18 → TRUE  (age = 30)\n"
                                          "  country = 'FR' → FALSE  (country = 'DE')")


def _nodes(e):
    yield e
    for operand in e.operands:
        yield from _nodes(operand)


def _same(a, b):
    return a is b if isinstance(a, bool) or a is None or isinstance(b, bool) or b is None else a == b


def _agrees(explanation, row):
    """Every evaluated node's value is what its own text, compiled, gives on `row`; reads are the row's."""
    for node in _nodes(explanation):
        if node.skipped:
            continue
        expected = compile_expression(node.text, SCHEMA)(row)
        assert _same(node.value, expected), (node.text, row, node.value, expected)
        assert all(row.get(name) == value for name, value in node.reads.items()), (node.text, row)


@FAST
@given(st.one_of(bool_expr, int_expr), st.lists(rows, min_size=1, max_size=3))
def test_explanations_agree_with_the_compiled_evaluator(tree, samples):
    evaluator = compile_expression(to_sql(tree), SCHEMA)
    for row in samples:
        e = explain(evaluator, row)
        assert _same(e.value, evaluator(row)), (evaluator.sql, row)
        _agrees(e, row)


@FAST
@given(st.lists(bool_expr, min_size=1, max_size=5), rows, st.data())
def test_segment_explanations_agree_with_membership(trees, row, data):
    trees += [("and", data.draw(st.sampled_from(trees)), data.draw(st.sampled_from(trees)))]
    segments = compile_segments({f"seg{i}": to_sql(t) for i, t in enumerate(trees)}, SCHEMA)
    explained = explain_segments(segments, row)
    assert {name for name, e in explained.items() if e.value is True} == segments(row)
    for e in explained.values():
        _agrees(e, row)
