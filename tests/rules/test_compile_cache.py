"""Compiled code is cached by the digest of its normalized source: an unchanged rule is never recompiled."""

from __future__ import annotations

import builtins

import pytest

from segflow.rules import compile as compile_module
from segflow.rules import cache_info, clear_cache, compile_expression, compile_segments
from segflow.rules.errors import EvaluationError


@pytest.fixture
def python_compiles(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[1])
        return builtins.compile(*args, **kwargs)

    clear_cache()
    monkeypatch.setattr(compile_module, "compile", counting, raising=False)
    return calls


def test_same_normalized_source_compiles_once(python_compiles):
    first = compile_expression("x > 1 AND s LIKE 'a%'")
    second = compile_expression("x>1   and s like 'a%'  -- same rule, other spelling")
    # The value function, with the normalized SQL as its filename; the TRUE test waits for its first call.
    assert python_compiles == ["x > 1 AND s LIKE 'a%'"]
    assert first.digest == second.digest
    assert cache_info()[:3] == (1, 1, 1)
    assert first.test({"x": 2, "s": "ab"}) is True and second.test({"x": 2, "s": "b"}) is False
    assert python_compiles == ["x > 1 AND s LIKE 'a%'"] * 2 and cache_info()[:3] == (2, 2, 2)
    assert second({"x": 2, "s": "ab"}) is True


def test_an_unchanged_rule_is_not_even_parsed_again(python_compiles):
    assert compile_expression("x > 1") is compile_expression("x > 1")
    assert compile_segments({"a": "x > 1"}) is compile_segments({"a": "x > 1"})
    assert len(python_compiles) == 2


def test_different_rules_compile_separately(python_compiles):
    compile_expression("x > 1")
    compile_expression("x > 2")
    assert len(python_compiles) == 2 and cache_info().misses == 2


def test_segments_cache_too(python_compiles):
    conditions = {"a": "x > 1", "b": "y = 'z'"}
    assert compile_segments(conditions).digest == compile_segments(dict(conditions)).digest
    assert len(python_compiles) == 1


def test_cache_is_bounded():
    assert cache_info().maxsize == compile_module.CACHE_SIZE


def test_a_traceback_names_the_expression():
    evaluator = compile_expression("x + 1 > 2")
    with pytest.raises(EvaluationError) as caught:
        evaluator({"x": "text"})  # schemaless: a wrongly typed value is a run-time error
    assert caught.traceback[-1].path == "x + 1 > 2" or any(e.path == "x + 1 > 2" for e in caught.traceback)
