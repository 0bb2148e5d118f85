"""LIKE runs in linear time, agrees with SQLite's case-sensitive LIKE, and refuses non-text cleanly."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segflow.rules import Attribute, CompileError, Schema, compile_expression
from segflow.rules.errors import EvaluationError
from segflow.rules.runtime import like_matcher, like_plan, like_regex

TEXT = Schema(attributes={"s": Attribute("string"), "p": Attribute("string"), "n": Attribute("int")})
BOMB = "%a%a%a%a%a%a%a%a%b"  # a backtracking regex tries ~len(s)**8 ways before saying no


@pytest.fixture(scope="module")
def sqlite():
    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA case_sensitive_like = ON")
    yield db
    db.close()


def _sqlite_like(db, value: str, pattern: str, escape: str | None) -> bool:
    if escape is None:
        return bool(db.execute("SELECT ? LIKE ?", (value, pattern)).fetchone()[0])
    return bool(db.execute("SELECT ? LIKE ? ESCAPE ?", (value, pattern, escape)).fetchone()[0])


def _ends_with_escape(pattern: str, escape: str | None) -> bool:
    if escape is None:
        return False
    run = len(pattern) - len(pattern.rstrip(escape))
    return run % 2 == 1


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.text("ab%_!\n", max_size=8), st.text("ab!\n", max_size=8), st.sampled_from([None, "!"]))
def test_like_agrees_with_sqlite_case_sensitive_like(sqlite, pattern, value, escape):
    if _ends_with_escape(pattern, escape):
        return
    expected = _sqlite_like(sqlite, value, pattern, escape)
    escape_sql = "" if escape is None else f" ESCAPE '{escape}'"
    constant = compile_expression(f"s LIKE '{pattern}'{escape_sql}", TEXT)
    runtime = compile_expression(f"s LIKE p{escape_sql}", TEXT)
    assert constant({"s": value}) is expected
    assert runtime({"s": value, "p": pattern}) is expected


@pytest.mark.parametrize("size", [2_000, 50_000])
def test_like_backtracking_bomb_is_answered_in_one_pass(size):
    """Issue 11.1: `%a%a%a%a%a%b` against many 'a' held the GIL for seconds in a backtracking regex."""
    subject = "a" * size
    constant = compile_expression(f"s LIKE '{BOMB}'", TEXT)
    runtime = compile_expression("s LIKE p", TEXT)
    assert constant({"s": subject}) is False
    assert runtime({"s": subject, "p": BOMB}) is False
    assert runtime({"s": subject + "b", "p": BOMB}) is True
    assert runtime({"s": subject, "p": "%a_a%a_" + "_" * 40 + "%b%"}) is False


@pytest.mark.parametrize("pattern", [BOMB, "%a_%_a%" * 6 + "b", "_%" * 30 + "x", "%" + "ab%" * 50 + "c", "a%.*(%)"])
def test_like_regex_places_each_piece_once(pattern):
    """The bound behind linear time: each piece between % is placed once, leftmost, in an atomic group that is
    never re-entered; only the last `.*` backtracks."""
    regex = like_regex(like_plan(pattern, None)[1])
    assert regex.count(".*") - regex.count("(?>.*?") <= 1
    assert like_matcher(like_plan(pattern, None)[1])("a" * 50_000) is None


@pytest.mark.parametrize("pattern, kind", [("abc", "exact"), ("ab%", "prefix"), ("%ab", "suffix"),
                                           ("%ab%", "contains"), ("%%", "contains"), ("a_c", "match"),
                                           ("a%b", "match")])
def test_common_constant_patterns_keep_their_fast_paths(pattern, kind):
    assert like_plan(pattern, None)[0] == kind


def test_like_of_a_number_is_a_compile_error_with_a_schema():
    with pytest.raises(CompileError) as caught:
        compile_expression("n LIKE 'a%'", TEXT)
    assert caught.value.errors[0].code == "type"


def test_s_like_5_is_a_compile_error_not_a_type_error():
    """Issue 11.7: `s LIKE 5` against a schema raised TypeError from planning the pattern."""
    with pytest.raises(CompileError) as caught:
        compile_expression("s LIKE 5", TEXT)
    assert caught.value.errors[0].code == "type"
    assert (caught.value.errors[0].expr_line, caught.value.errors[0].expr_column) == (1, 8)


@pytest.mark.parametrize("value", [5, 2.5, True, ["a"]])
def test_like_on_a_non_string_at_run_time_is_an_evaluation_error_not_not_implemented(value):
    """Issue 11.7: LIKE on a number returned NotImplemented (truthy) instead of failing the rule."""
    for text in ("x LIKE 'abc'", "x LIKE 'a%'", "x LIKE 'a_%b'", "x LIKE p", "'a' LIKE x"):
        evaluator = compile_expression(text)
        with pytest.raises(EvaluationError, match="LIKE compares text"):
            evaluator({"x": value, "p": "a%"})
        with pytest.raises(EvaluationError):
            evaluator.test({"x": value, "p": "a%"})


def test_a_run_time_pattern_ending_in_its_escape_is_an_evaluation_error():
    evaluator = compile_expression("s LIKE p ESCAPE '!'", TEXT)
    with pytest.raises(EvaluationError, match="escape"):
        evaluator({"s": "a", "p": "a!"})


# A LIKE prefix is tested as a range of strings, `p <= s < p'` with p' the prefix with its last character the
# next code point; these pin it to str.startswith on text around that boundary (and where there is no next
# character, to the method itself).
_EDGE_CHARS = "a`bz{\x7f\x80\uffff\U0010ffff\ud7ff\ue000"


@settings(max_examples=600, derandomize=True, deadline=None)
@given(st.text(_EDGE_CHARS, min_size=1, max_size=3), st.one_of(st.none(), st.text(_EDGE_CHARS, max_size=5)))
def test_like_prefix_agrees_with_startswith(prefix, value):
    like = compile_expression(f"s LIKE '{prefix}%'", TEXT)
    not_like = compile_expression(f"s NOT LIKE '{prefix}%'", TEXT)
    expected = None if value is None else value.startswith(prefix)
    assert like({"s": value}) is expected
    assert not_like({"s": value}) is (None if value is None else not expected)
    assert like.test({"s": value}) is (expected is True)


def test_like_prefix_ending_in_the_last_code_point_has_no_range():
    evaluator = compile_expression("s LIKE 'a\U0010ffff%'", TEXT)
    assert "startswith" in evaluator.source
    assert evaluator({"s": "a\U0010ffff"}) is True and evaluator({"s": "b"}) is False
