"""Hostile rulesets end in diagnostics at their path, line and column, never in a Python exception or a stall."""

from __future__ import annotations

import gc

import pytest
import yaml
from segflow.v1 import ruleset_pb2

from segflow.rules import CompileError, compile_expression
from segflow.rules import ruleset as ruleset_module
from segflow.rules import ruleset_yaml
from segflow.rules.errors import EvaluationError, ValueTooLarge
from segflow.rules.ruleset import MAX_TRIGGER_DEPTH, compile_ruleset, load_and_compile
from segflow.rules.runtime import MAX_VALUE_SIZE

BASE = """\
name: t
channel: web
attributes:
  - {name: n, type: int}
  - {name: s, type: string}
events:
  - {name: login}
rules:
  - id: r1
    on: login
    if: $CONDITION
    then: [{resegment: {}}]
settings: {max_trigger_depth: $DEPTH}
offers: [{code: o$OFFER}]
"""


def ruleset(condition: str = "n > 1", depth: str = "4", offer: str = "") -> str:
    return BASE.replace("$CONDITION", condition).replace("$DEPTH", depth).replace("$OFFER", offer)


def errors_of(text: str) -> list:
    with pytest.raises(CompileError) as caught:
        load_and_compile(text)
    return caught.value.errors


def first(text: str) -> tuple:
    error = errors_of(text)[0]
    return error.code, error.line, error.column


# (finding, ruleset text, (code, line, column) of the first error): each once raised a Python exception.
HOSTILE = [
    ("exponent_without_digits_1e", ruleset("1e > 1"), ("literal", 11, 9)),
    ("nul_in_a_string_literal", ruleset('"s = \'a\\0b\'"'), ("syntax", 11, 16)),
    ("nul_in_a_name", ruleset('"s\\0 = 1"'), ("syntax", 11, 11)),
    ("minus_of_text", ruleset("-'text' > 1"), ("type", 11, 10)),
    ("like_a_number", ruleset("s LIKE 5"), ("type", 11, 16)),
    ("double_where_an_int_is_required", ruleset("SUBSTR(s, 1.5) = 'a'"), ("type", 11, 19)),
    ("int_field_past_int32", ruleset(depth="99999999999999999999999"), ("type", 13, 31)),
    ("max_trigger_depth_above_the_cap", ruleset(depth=str(MAX_TRIGGER_DEPTH + 1)), ("invalid", 13, 31)),
    ("negative_max_trigger_depth", ruleset(depth="-1"), ("invalid", 13, 31)),
    ("complex_yaml_key", ruleset() + "? [a, b]\n: 1\n", ("type", 15, 3)),
    ("complex_yaml_key_in_a_map", ruleset(offer=", attributes: {? [x] : 1}"), ("type", 14, 35)),
    ("duration_past_10000_years", ruleset(offer=", suppress_after_response: 99999999999999999999d"),
     ("type", 14, 45)),
    ("duration_1e30s", ruleset(offer=", suppress_after_response: 1e30s"), ("type", 14, 45)),
    ("yaml_alias", ruleset() + "description: &d text\nname: *d\n", ("alias", 15, 14)),
    ("yaml_alias_bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                        "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", ("alias", 1, 4)),
    ("nul_in_yaml", ruleset() + "description: a\x00b\n", ("syntax", 15, 15)),
    ("surrogate_escape_in_yaml", ruleset() + 'description: "a\\ud800"\n', ("syntax", 15, 14)),
    ("yaml_nesting", "name: " + "[" * 200 + "]" * 200 + "\n", ("too_deep", 1, 70)),
]


@pytest.mark.parametrize("finding, text, expected", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_ruleset_is_a_diagnostic(finding, text, expected):
    assert first(text) == expected


def test_yaml_past_the_node_budget_is_refused(monkeypatch):
    monkeypatch.setattr(ruleset_yaml, "MAX_NODES", 1_000)
    code, line, _ = first("description: [" + ", ".join(["x"] * 2_000) + "]\n")
    assert (code, line) == ("too_large", 1)


def test_ruleset_text_past_the_size_limit_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(ruleset_yaml, "MAX_SOURCE_CHARS", 1_000)
    assert first(ruleset() + "#" * 1_000 + "\n")[0] == "too_large"


def test_a_huge_list_default_is_refused():
    message = ruleset_pb2.Ruleset(name="t", channel="web")
    attribute = message.attributes.add(name="tags", type=6)
    attribute.default_value.list_value.SetInParent()
    for i in range(ruleset_module.MAX_OTHER_LIST_ITEMS + 1):
        attribute.default_value.list_value.values.add(int_value=i)
    with pytest.raises(CompileError) as caught:
        compile_ruleset(message)
    assert [(e.code, e.path) for e in caught.value.errors] == [
        ("too_large", "attributes[0].default.list_value.values")]


def test_too_many_rules_are_refused_before_compiling(monkeypatch):
    monkeypatch.setitem(ruleset_module.MAX_LIST_ITEMS, "rules", 10)
    message = ruleset_pb2.Ruleset(name="t", channel="web")
    for i in range(11):
        message.rules.add(id=f"r{i}", on=["x"], condition="1 +")  # never compiled: refused first
    with pytest.raises(CompileError) as caught:
        compile_ruleset(message)
    assert [(e.code, e.path) for e in caught.value.errors] == [("too_large", "rules")]


def test_a_ruleset_message_past_the_byte_limit_is_refused(monkeypatch):
    monkeypatch.setattr(ruleset_module, "MAX_RULESET_BYTES", 100)
    message = ruleset_pb2.Ruleset(name="t", channel="web", description="x" * 200)
    with pytest.raises(CompileError) as caught:
        compile_ruleset(message)
    assert caught.value.errors[0].code == "too_large"


def test_compiling_past_the_budget_stops_with_a_named_error():
    with pytest.raises(CompileError) as caught:
        compile_ruleset(load_and_compile(ruleset()).ruleset, budget=-1.0)
    assert [(e.code, e.path) for e in caught.value.errors] == [("compile_budget", "rules[0].if")]


def test_generated_code_past_the_ruleset_limit_is_refused(monkeypatch):
    monkeypatch.setattr(ruleset_module, "MAX_GENERATED_CHARS", 10)
    errors = errors_of(ruleset())
    assert [(e.code, e.path) for e in errors] == [("too_large", "rules[0].if")]


def test_timestamps_past_year_9999_in_a_message_are_diagnostics():
    message = load_and_compile(ruleset()).ruleset
    message.offers[0].expires_at.seconds = 2**62
    with pytest.raises(CompileError) as caught:
        compile_ruleset(message)
    assert [(e.code, e.path) for e in caught.value.errors] == [("invalid", "offers[0].expires_at")]


def test_a_nul_in_a_segment_name_of_a_message_is_no_value_error():
    """Found by the ruleset fuzzer: the name reached compile()'s filename, which refuses NUL."""
    message = load_and_compile(ruleset()).ruleset
    message.audience_levels.add(name="Visitor")
    message.flowcharts.add(name="f").segments.add(name="a\x00b", condition="n > 1")
    assert compile_ruleset(message).flowcharts


# -- values an expression builds at run time are bounded -------------------------------------------------
def test_nested_replace_cannot_build_an_unbounded_text():
    evaluator = compile_expression("REPLACE(REPLACE(REPLACE(REPLACE(s, 'a', s), 'a', s), 'a', s), 'a', s) = ''")
    assert evaluator({"s": "a" * 10}) is False
    with pytest.raises(ValueTooLarge):
        evaluator({"s": "a" * 100})


def test_concatenation_past_the_value_limit_is_an_evaluation_error():
    evaluator = compile_expression("s || s || s || s")
    assert len(evaluator({"s": "x" * (MAX_VALUE_SIZE // 4)})) == MAX_VALUE_SIZE
    with pytest.raises(ValueTooLarge):
        evaluator({"s": "x" * (MAX_VALUE_SIZE // 3)})


@pytest.mark.parametrize("value", [[1], "text", True])
def test_list_times_a_huge_int_is_an_evaluation_error_not_a_memory_bomb(value):
    """Issue 11.9: `list * 2**62` on a value only known at run time (a callout's, a schemaless attribute)."""
    for text in ("x * 4611686018427387904", "4611686018427387904 * x > 1", "-x", "x + x", "x / 2"):
        with pytest.raises(EvaluationError, match="arithmetic needs numbers"):
            compile_expression(text)({"x": value})


def test_regression_reading_a_ruleset_keeps_none_of_its_yaml_nodes():
    """One module-wide YAML constructor remembered every number and boolean node it had read, for ever."""
    def nodes() -> int:
        gc.collect()
        return sum(isinstance(o, yaml.Node) for o in gc.get_objects())
    before = nodes()
    load_and_compile(ruleset())
    assert nodes() == before
