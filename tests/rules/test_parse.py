"""Function calls reach the checker as written, whichever sqlglot build (pure or sqlglotc) parses them."""

from __future__ import annotations

import pytest
from sqlglot import exp

from segflow.rules import compile_expression
from segflow.rules.errors import ErrorSink
from segflow.rules.parse import parse


@pytest.mark.parametrize("text, name", [
    ("TRIM(s)", "TRIM"), ("substring(s, 1, 2)", "substring"), ("COALESCE(x, 1)", "COALESCE"),
    ("CEIL(x)", "CEIL"), ("LEFT(s, 1)", "LEFT"), ("CURRENT_DATE()", "CURRENT_DATE"),
])
def test_known_function_names_stay_anonymous_calls_as_written(text, name):
    tree = parse(text, ErrorSink(text, "", None))
    assert type(tree) is exp.Anonymous and tree.name == name


def test_current_date_without_parentheses_is_a_name():
    tree = parse("CURRENT_DATE", ErrorSink("CURRENT_DATE", "", None))
    assert type(tree) is exp.Column and tree.name == "CURRENT_DATE"


def test_cast_extract_case_and_if_keep_their_syntax():
    evaluator = compile_expression("CAST(x AS INT) + EXTRACT(YEAR FROM TIMESTAMP '2024-05-01T00:00:00+00:00')"
                                   " + CASE WHEN IF(CAST(x AS INT) > 1, TRUE, FALSE) THEN 1 ELSE 0 END")
    assert evaluator({"x": "2"}) == 2 + 2024 + 1


def test_a_syntax_error_after_a_known_function_points_at_its_text():
    sink = ErrorSink("TRIM(s", "", None)
    assert parse("TRIM(s", sink) is None
    assert sink.errors and 1 <= sink.errors[0].expr_column <= len("TRIM(s")
