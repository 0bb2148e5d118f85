"""unparse.sql: the checked IR printed back as SQL, rewrites visible, parsing back to the same IR text."""

from __future__ import annotations

import pytest

from segflow.rules import Attribute, Schema, compile_expression
from segflow.rules.unparse import sql

CASES = [
    ("x NOT LIKE 'a%' AND y NOT IN (2, 1, NULL)", "NOT x LIKE 'a%' AND NOT y IN (1, 2, NULL)"),
    ("z NOT BETWEEN 1 AND 2", "NOT z BETWEEN 1 AND 2"),
    ("x BETWEEN lo AND hi", "x >= lo AND x <= hi"),
    ("CASE a WHEN 1 THEN 2 ELSE 3 END", "CASE WHEN a = 1 THEN 2 ELSE 3 END"),
    ("NULLIF(a, 3)", "CASE WHEN a = 3 THEN NULL ELSE a END"),
    ("a - -3 * (b + c) > -(d - 1)", "a - -3 * (b + c) > -(d - 1)"),
    ("(a - b) - (c - d)", "a - b - (c - d)"),
    ("NOT (a OR b) AND (c OR d)", "NOT (a OR b) AND (c OR d)"),
    ("(a > 1) = (b > 2)", "(a > 1) = (b > 2)"),
    ("s || 't' = 'it''s'", "s || 't' = 'it''s'"),
    ("s LIKE p ESCAPE '#'", "s LIKE p ESCAPE '#'"),  # untyped or run-time pattern: the _like helper
    ("YEAR(ts) = 2024 AND EXTRACT(DOW FROM ts) = 1 AND EXTRACT(EPOCH FROM ts) > 0",
     "YEAR(ts) = 2024 AND EXTRACT(DOW FROM ts) = 1 AND EXTRACT(EPOCH FROM ts) > 0"),
    ("CAST(x AS BIGINT) > 1 AND SUBSTRING(s, 1, 2) = 'a' AND CARDINALITY(l) > 0",
     "CAST(x AS INT) > 1 AND SUBSTR(s, 1, 2) = 'a' AND SIZE(l) > 0"),
    ("ts > TIMESTAMP '2024-01-01'", "ts > TIMESTAMP '2024-01-01T00:00:00+00:00'"),
    ("EXTERNALCALLOUT('score', c, event.sku, 3) > 50 AND EVENT_NAME() = 'x'",
     "EXTERNALCALLOUT('score', c, event.sku, 3) > 50 AND EVENT_NAME() = 'x'"),
    ("a IS NOT FALSE AND COALESCE(a, b) IS NULL", "NOT a IS FALSE AND COALESCE(a, b) IS NULL"),
    ('"two words" > 1.5e20', '"two words" > 1.5e+20'),
]


@pytest.mark.parametrize("given, expected", CASES)
def test_text_of_the_checked_ir(given, expected):
    text = sql(compile_expression(given).root)
    assert text == expected
    assert sql(compile_expression(text).root) == text


# A constant pattern on a string is planned at compile time (prefix, suffix, ..., match); printed back from
# the plan, with literal % and _ quoted by '!'.
PATTERNS = [
    ("q LIKE 'a_b%c'", "q LIKE 'a_b%c'"),
    ("q LIKE 'a.b*c%'", "q LIKE 'a.b*c%'"),
    ("q LIKE '%(x)[y]?'", "q LIKE '%(x)[y]?'"),
    ("q LIKE '%50!%%' ESCAPE '!'", "q LIKE '%50!%%' ESCAPE '!'"),
    ("q LIKE '#_x' ESCAPE '#'", "q LIKE '!_x' ESCAPE '!'"),
    ("q LIKE 'a#%_!' ESCAPE '#'", "q LIKE 'a!%_!!' ESCAPE '!'"),
    ("q NOT LIKE '%%'", "NOT q LIKE '%%'"),
    ("q LIKE ''", "q LIKE ''"),
]
TEXT = Schema(attributes={"q": Attribute("string")})


@pytest.mark.parametrize("given, expected", PATTERNS)
def test_planned_like_patterns(given, expected):
    text = sql(compile_expression(given, TEXT).root)
    assert text == expected
    for value in ["a_b%c", "axbyzc", "a.b*c", "%50%", "_x", "a%_!", "a%x!", "", "(x)[y]?"]:
        assert compile_expression(text, TEXT)({"q": value}) is compile_expression(given, TEXT)({"q": value})
