"""The pinned SQL cases in fixtures/sql_cases.yaml, evaluated by segflow and cross-checked against SQLite
(and PostgreSQL when psycopg and a server are available)."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from segflow.rules import compile_expression

CASES = yaml.safe_load((Path(__file__).parent / "fixtures" / "sql_cases.yaml").read_text())


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)  # PyYAML turns "...Z" into naive UTC datetimes
    return value


def _row(case) -> dict:
    return {name: _aware(value) for name, value in (case.get("row") or {}).items()}


def _id(case) -> str:
    return f"{case['sql']} | {case.get('row') or {}}"


def _same(actual, expected) -> bool:
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-12)
    return type(actual) is type(expected) and actual == expected


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_segflow_gives_the_pinned_value(case):
    evaluator = compile_expression(case["sql"])
    actual = evaluator(_row(case))
    assert _same(actual, _aware(case["expect"])), f"got {actual!r}\n{evaluator.source}"


SQLITE_CASES = [c for c in CASES if c.get("sqlite", True)]


def _sqlite(sql: str, row: dict, names) -> object:
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA case_sensitive_like = ON")  # segflow's LIKE is case-sensitive, as in PostgreSQL
    columns = sorted(names)
    if not columns:
        return connection.execute(f"SELECT {sql}").fetchone()[0]
    connection.execute(f"CREATE TABLE t ({', '.join(columns)})")
    connection.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(columns))})", [row.get(c) for c in columns])
    return connection.execute(f"SELECT {sql} FROM t").fetchone()[0]


def _sqlite_value(expected):
    return int(expected) if isinstance(expected, bool) else expected  # SQLite has no boolean type


@pytest.mark.parametrize("case", SQLITE_CASES, ids=_id)
def test_sqlite_agrees(case):
    names = compile_expression(case["sql"]).names
    actual = _sqlite(case["sql"], _row(case), names)
    expected = case["sqlite_expect"] if "divergence" in case else _sqlite_value(case["expect"])
    if isinstance(expected, float) or isinstance(actual, float):
        assert actual is not None and math.isclose(actual, expected, rel_tol=1e-12), actual
    else:
        assert actual == expected and type(actual) is type(expected), actual


def test_every_divergence_is_explained_and_pinned():
    for case in CASES:
        assert ("divergence" in case) == ("sqlite_expect" in case), case
        assert ("pg_divergence" in case) == ("pg_expect" in case), case


@pytest.fixture(scope="module")
def postgres():
    psycopg = pytest.importorskip("psycopg")
    try:
        connection = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=2,
                                     autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL not reachable: {error}")
    yield connection
    connection.close()


@pytest.mark.parametrize("case", [c for c in SQLITE_CASES if c.get("postgres", True)], ids=_id)
def test_postgres_agrees(case, postgres):
    row = _row(case)
    names = sorted(compile_expression(case["sql"]).names)
    if any(row.get(n) is None for n in names):
        pytest.skip("PostgreSQL needs a type for a NULL column; covered by SQLite")
    values = ", ".join(f"%s AS {n}" for n in names)
    sql = case["sql"].replace("%", "%%")  # psycopg placeholders use %
    query = f"SELECT {sql} FROM (SELECT {values}) AS t" if names else f"SELECT {sql}"
    actual = postgres.execute(query, [row[n] for n in names]).fetchone()[0]
    expected = case["pg_expect"] if "pg_divergence" in case else _aware(case["expect"])
    assert actual == expected or (isinstance(expected, float) and math.isclose(float(actual), expected)), actual
