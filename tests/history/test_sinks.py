"""The SQL sink on SQLite and PostgreSQL: rows as written, whole-batch transactions, purging, URLs."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from segflow.server.history import SQLiteSink, open_sink
from segflow.server.history.backends import PostgresBackend, SQLiteBackend, backend_for_url
from tests.history.conftest import T0, contact, data_row, journey, response, summary


def test_every_record_type_lands_in_its_table(target):
    sink = target.open()
    later = T0 + timedelta(hours=1)
    sink.write_batch(
        [
            contact(1),
            response(accepted=False),
            data_row({"sku": "A1", "qty": 2, "price": 9.5, "gift": True, "note": None, "at": later, "tags": [1, "x"]}),
            journey(),
            summary(customer="c9"),
        ]
    )
    sink.close()

    (row,) = target.read("SELECT time, session_id, offer_code, treatment_code, segment, score FROM contacts")
    assert (target.as_time(row[0]), *row[1:]) == (T0, "s1", "OFFER1", "T1", "shoppers", 1.5)
    assert [bool(accepted) for (accepted,) in target.read("SELECT accepted FROM responses")] == [False]
    ((table, data),) = target.read("SELECT table_name, data FROM data_rows")
    assert table == "cart_adds"
    assert target.as_json(data) == {
        "sku": "A1", "qty": 2, "price": 9.5, "gift": True, "note": None, "at": later.isoformat(), "tags": [1, "x"]
    }
    assert target.read("SELECT journey, transition, step, event_name FROM journey_steps") == [
        ("onboarding", "start", 1, "login")
    ]
    ((customer, anonymous, ended, segments, attributes),) = target.read(
        "SELECT customer_id, anonymous, ended_at, segments, attributes FROM session_summaries"
    )
    assert (customer, bool(anonymous), target.as_time(ended)) == ("c9", False, T0)
    assert target.as_json(segments) == ["shoppers", "new"]
    assert target.as_json(attributes) == {"cart_total": 12.5, "vip": False}


def test_times_are_stored_as_utc(target):
    sink = target.open()
    paris = timezone(timedelta(hours=1))
    sink.write_batch([contact(time=datetime(2025, 3, 1, 13, 0, tzinfo=paris))])
    sink.close()
    ((stored,),) = target.read("SELECT time FROM contacts")
    assert target.as_time(stored) == T0
    assert target.as_time(stored).utcoffset() == timedelta(0)


def test_a_batch_is_one_transaction(target):
    sink = target.open()
    too_big = dataclasses.replace(journey(), step=2**63)  # Fails in the database, after the contacts went in.
    with pytest.raises(Exception):
        sink.write_batch([contact(1), contact(2), too_big])
    sink.write_batch([contact(3)])
    sink.close()
    assert target.read("SELECT offer_code FROM contacts") == [("OFFER3",)]


def test_purge_removes_old_anonymous_sessions_and_their_anonymous_rows(target):
    sink = target.open()
    now = T0 + timedelta(days=100)
    old, recent = now - timedelta(days=61), now - timedelta(days=59)
    sink.write_batch(
        [
            summary(session="old-anon", ended_at=old),
            contact(session="old-anon"),
            response(session="old-anon"),
            data_row({"x": 1}, session="old-anon"),
            journey(session="old-anon"),
            # A customer's rows are never purged with anonymous ones, even under a reused session id.
            contact(session="old-anon", customer="c7"),
            summary(session="recent-anon", ended_at=recent),
            contact(session="recent-anon"),
            summary(session="old-known", customer="c1", ended_at=old),
            contact(session="old-known", customer="c1"),
            # Logged while anonymous, in a session that ended known: not an anonymous session, so kept.
            contact(session="old-known"),
        ]
    )
    assert sink.purge_anonymous(now - timedelta(days=60)) == 1
    assert sink.purge_anonymous(now - timedelta(days=60)) == 0
    sink.close()

    assert sorted(target.read("SELECT session_id FROM session_summaries")) == [("old-known",), ("recent-anon",)]
    assert sorted(target.read("SELECT session_id, customer_id FROM contacts")) == [
        ("old-anon", "c7"),
        ("old-known", ""),
        ("old-known", "c1"),
        ("recent-anon", ""),
    ]
    for table in ("responses", "data_rows", "journey_steps"):
        assert target.read(f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_reopening_keeps_rows_and_schema(target):
    sink = target.open()
    sink.write_batch([contact(1)])
    sink.close()
    sink = target.open()
    sink.write_batch([contact(2)])
    sink.close()
    assert target.read("SELECT COUNT(*) FROM contacts") == [(2,)]


def test_sqlite_file_is_in_wal_mode_under_a_created_directory(tmp_path):
    path = tmp_path / "deep" / "er" / "history.db"
    SQLiteSink(path).close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_in_memory_sqlite_works_and_closing_twice_is_harmless():
    sink = open_sink("sqlite://:memory:")
    sink.write_batch([contact(1), summary()])
    assert sink.purge_anonymous(T0 + timedelta(seconds=1)) == 1
    sink.close()
    sink.close()
    with pytest.raises(RuntimeError, match="closed"):
        sink.write_batch([contact(2)])


def test_urls_name_their_back_end():
    relative = backend_for_url("sqlite:///data/history.db")
    absolute = backend_for_url("sqlite:////var/lib/segflow/history.db")
    assert isinstance(relative, SQLiteBackend) and relative.path == "data/history.db"
    assert isinstance(absolute, SQLiteBackend) and absolute.path == "/var/lib/segflow/history.db"
    postgres = backend_for_url("postgresql://u@db:5432/app?schema=hist&sslmode=require")
    assert isinstance(postgres, PostgresBackend)
    assert (postgres.dsn, postgres.schema) == ("postgresql://u@db:5432/app?sslmode=require", "hist")
    assert backend_for_url("postgres://u@db/app").schema == "segflow"
    with pytest.raises(ValueError, match="unsupported history URL scheme"):
        backend_for_url("mysql://db/app")
    with pytest.raises(ValueError, match="needs a path"):
        backend_for_url("sqlite://history.db")
    with pytest.raises(ValueError, match="plain identifier"):
        backend_for_url("postgresql://u@db/app?schema=a;drop")
