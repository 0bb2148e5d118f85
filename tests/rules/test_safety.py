"""User text never becomes Python: hostile names, strings and sizes compile to safe lookups or to errors."""

from __future__ import annotations

import pytest

from segflow.rules import CompileError, compile_expression, compile_segments
from segflow.rules.compile import verify
from segflow.rules.parse import MAX_CHARS, MAX_NESTING


@pytest.mark.parametrize("name", ["__class__", "__import__", "__builtins__", "row", "ctx", "attr", "b", "m0", "_U"])
def test_any_attribute_name_is_only_a_dictionary_key(name):
    evaluator = compile_expression(f'"{name}" = 1')
    assert evaluator({name: 1}) is True
    assert evaluator({}) is None
    assert f"row.get({name!r})" in evaluator.source


@pytest.mark.parametrize("text", ["'); import os; ('", "\\'; __import__('os')", '"""', "\n", "{x}", "\\x00"])
def test_string_literals_are_data(text):
    literal = "'" + text.replace("'", "''") + "'"
    evaluator = compile_expression(f"s = {literal}")
    assert evaluator({"s": text}) is True
    assert evaluator({"s": "other"}) is False


def test_event_parameter_names_are_data():
    assert "'__globals__'" in compile_expression('event."__globals__" IS NULL').source


def test_generated_code_has_no_builtins():
    evaluator = compile_expression("x = 1")
    assert evaluator.evaluate.__globals__["__builtins__"] == {}


@pytest.mark.parametrize("body", [
    "__import__('os')", "row.__class__", "open('x')", "(lambda: 1)", "[x for x in row]", "row[0]", "b'bytes'",
    "row.get('x').__globals__", "row.setdefault('x', 1)",
])
def test_the_whitelist_refuses_anything_the_generator_does_not_emit(body):
    with pytest.raises(ValueError):
        verify(compile(f"def _evaluate(row, ctx=None):\n    return {body}\n", "test", "exec"))


@pytest.mark.parametrize("module", ["import os", "def f(): pass", "def _evaluate(row):\n    import os"])
def test_the_whitelist_refuses_other_module_contents(module):
    with pytest.raises(ValueError):
        verify(compile(module, "test", "exec"))


def test_the_whitelist_accepts_what_the_generator_emits():
    verify(compile(compile_segments({"a": "x > 1 AND s LIKE 'a%'", "b": "x IN (1, 2)"}).source, "test", "exec"))


@pytest.mark.parametrize("sql, code", [
    ("x = 99999999999999999999", "literal"),
    ("x = 9" + "9" * 5000, "literal"),
    ("x = 1e999", "literal"),
    ("(" * (MAX_NESTING + 1) + "x" + ")" * (MAX_NESTING + 1) + " = 1", "too_deep"),
    ("NOT " * 400 + "x", "too_deep"),
    ("x" + " + x" * 200 + " = 1", "too_deep"),
    ("x = 'a'" + " OR x = 'a'" * 3000, "too_large"),
    # Each NULLIF uses its inner NULLIF twice; behind an AND that sharing is lazy and would repeat code.
    ("y > 1 AND " + "NULLIF(" * 30 + "x" + ", y)" * 30 + " = 1", "too_deep"),
    ("SELECT 1", "unsupported"),
    ("x IN (SELECT 1)", "unsupported"),
    ("x = ?", "unsupported"),
    ("a.b.c = 1", "unsupported"),
    ("x[1] = 1", "unsupported"),
])
def test_hostile_shapes_are_compile_errors_not_crashes(sql, code):
    with pytest.raises(CompileError) as caught:
        compile_expression(sql)
    assert [e.code for e in caught.value.errors] == [code]


def test_deepest_allowed_nesting_compiles_and_runs():
    depth = MAX_NESTING - 1
    sql = "NOT " * 10 + "(" * depth + "x + 1" + ")" * depth + " > 1"
    assert compile_expression(sql)({"x": 1}) is True
    case = "CASE WHEN x > 0 THEN " * 15 + "1" + " ELSE 0 END" * 15 + " = 1"
    assert compile_segments({"deep": case}).bits({"x": 1}) == 1


def test_nested_sharing_compiles_in_linear_size_when_unconditional():
    evaluator = compile_expression("NULLIF(" * 30 + "x" + ", y)" * 30 + " = 1")
    assert len(evaluator.source) < 10_000
    assert evaluator({"x": 1, "y": 2}) is True and evaluator({"x": 2, "y": 2}) is None


def test_long_but_flat_conditions_compile():
    sql = " AND ".join(f"a{i} = {i}" for i in range(400))
    assert len(sql) < MAX_CHARS
    evaluator = compile_expression(sql)
    assert evaluator({f"a{i}": i for i in range(400)}) is True
