"""Compile errors come back all at once, each with code, path, positions, caret and suggestion."""

from __future__ import annotations

import pytest

from segflow.rules import Attribute, CompileError, RuleError, Schema, compile_expression, compile_segments

SCHEMA = Schema(attributes={"cart_total": Attribute("double"), "country": Attribute("string", nullable=False),
                            "tags": Attribute("list")},
                event_params={"sku": Attribute("string")}, segments={"gold", "silver"}, events={"login", "add_to_cart"},
                callouts={"score": 2})


def errors_of(sql, schema=SCHEMA, **kwargs) -> list[RuleError]:
    with pytest.raises(CompileError) as caught:
        compile_expression(sql, schema, **kwargs)
    return caught.value.errors


def test_all_errors_are_collected_in_text_order_with_positions():
    sql = "cart_totl > 3 AND\n  country = 1 AND IN_SEGMENT('gld') AND fooo(2)"
    errors = errors_of(sql, path="rules[3].if", origin=(40, 9))
    assert [(e.code, e.expr_line, e.expr_column) for e in errors] == [
        ("unknown_name", 1, 1), ("type", 2, 3), ("unknown_name", 2, 30), ("unknown_name", 2, 41)]
    first, _, segment, _ = errors
    assert first.suggestion == "cart_total" and segment.suggestion == "gold"
    assert first.path == "rules[3].if" and (first.line, first.column) == (40, 9)
    assert (errors[1].line, errors[1].column) == (41, 11)  # continuation lines keep the block's indent
    assert errors[1].caret == "    country = 1 AND IN_SEGMENT('gld') AND fooo(2)\n    ^"
    assert str(first).startswith("rules[3].if (line 40, column 9): unknown_name: unknown attribute 'cart_totl'; "
                                 "did you mean 'cart_total'?\n  cart_totl")


def test_without_origin_file_positions_are_none():
    error = errors_of("x = ")[0]
    assert (error.line, error.column, error.code) == (None, None, "syntax")
    assert "expression line 1" in str(error)


@pytest.mark.parametrize("sql, code, fragment", [
    ("event.skux = 'a'", "unknown_name", "did you mean 'sku'"),
    ("evnt.sku = 'a'", "unknown_name", "did you mean 'event'"),
    ("EVENT_COUNT('logn') > 0", "unknown_name", "did you mean 'login'"),
    ("EXTERNALCALLOUT('scor', 1, 2) = 1", "unknown_name", "did you mean 'score'"),
    ("EXTERNALCALLOUT('score', 1) = 1", "arity", "takes 2 arguments, got 1"),
    ("EVENT_COUNT(country) > 0", "literal", "must be a string literal"),
    ("ABS(1, 2) = 1", "arity", "ABS takes 1 argument, got 2"),
    ("SUBSTR(country) = 'a'", "arity", "SUBSTR takes 2 to 3 arguments"),
    ("UPPER(cart_total) = 'A'", "type", "must be a string"),
    ("cart_total LIKE 'a%'", "type", "must be a string"),
    ("tags > tags", "type", "only be compared with = and <>"),
    ("country IN (1, 2)", "type", "IN list value"),
    ("CASE WHEN cart_total > 1 THEN 'a' ELSE 2 END = 'a'", "type", "different types"),
    ("cart_total ILIKE 'a'", "unsupported", "ILIKE"),
    ("EXTRACT(WEEKS FROM NOW()) = 1", "unsupported", "EXTRACT(WEEKS"),
    ("country LIKE 'a!' ESCAPE '!'", "literal", "ends with its escape character"),
    ("TIMESTAMP 'yesterday' < NOW()", "literal", "not an ISO 8601 timestamp"),
    ("x IN ()", "syntax", ""),
    ("cart_total > 'a", "syntax", "unterminated"),
])
def test_error_codes_and_messages(sql, code, fragment):
    errors = errors_of(sql)
    assert errors[0].code == code, errors
    assert fragment in str(errors[0])


def test_segment_conditions_must_be_boolean_and_report_per_segment_path():
    with pytest.raises(CompileError) as caught:
        compile_segments({"big": "cart_total + 1", "ok": "cart_total > 1", "bad": "cart_totl > 1"}, SCHEMA,
                         paths={"big": "flowcharts[0].segments[0].if"}, origins={"bad": (7, 12)})
    errors = caught.value.errors
    assert [(e.path, e.code) for e in errors] == [("bad", "unknown_name"), ("flowcharts[0].segments[0].if", "type")]
    assert (errors[0].line, errors[0].column) == (7, 12)


def test_caret_excerpt_is_bounded_on_long_lines():
    sql = " AND ".join(f"cart_total > {i}" for i in range(100)) + " AND nope = 1"
    caret = errors_of(sql)[0].caret
    excerpt, marker = caret.split("\n")
    assert len(excerpt) <= 82 and marker.strip() == "^"
    assert excerpt[len(marker) - 1:].startswith("nope")
