"""Fixtures for history tests: both back ends behind one interface, records, and sinks that misbehave on cue."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence

import pytest

from segflow.server.history import ContactRecord, DataRecord, JourneyRecord, ResponseRecord, SessionSummary, open_sink
from segflow.server.history.sinks import SQLSink

POSTGRES_DSN = os.environ.get("SEGFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class Target:
    """A history database under test: open sinks on it, and read it back without going through the sink."""

    url: str
    read: Callable[[str], list[tuple]]
    # Turns a stored timestamp / JSON / boolean into Python, as the driver returns it for this back end.
    as_time: Callable[[Any], datetime]
    as_json: Callable[[Any], Any]

    def open(self) -> SQLSink:
        return open_sink(self.url)


def _sqlite_target(tmp_path) -> Target:
    path = tmp_path / "data" / "history.db"

    def read(sql: str) -> list[tuple]:
        with sqlite3.connect(path) as connection:
            return connection.execute(sql).fetchall()

    return Target(f"sqlite:///{path}", read, datetime.fromisoformat, json.loads)


@pytest.fixture
def sqlite_target(tmp_path) -> Target:
    return _sqlite_target(tmp_path)


@pytest.fixture
def postgres_target() -> Iterator[Target]:
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_DSN} (set SEGFLOW_TEST_POSTGRES): {error}")
    schema = f"segflow_test_{uuid.uuid4().hex[:12]}"

    def read(sql: str) -> list[tuple]:
        admin.execute(f"SET search_path TO {schema}")
        return admin.execute(sql).fetchall()

    try:
        yield Target(f"{POSTGRES_DSN}?schema={schema}", read, lambda value: value, lambda value: value)
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request) -> Target:
    return request.getfixturevalue(f"{request.param}_target")


def keys(session: str = "s1", customer: str = "") -> dict[str, Any]:
    return {"session_id": session, "customer_id": customer, "decision_id": "d1", "ruleset_version": 3}


def contact(n: int = 0, *, session: str = "s1", customer: str = "", time: datetime = T0) -> ContactRecord:
    return ContactRecord(
        **keys(session, customer),
        time=time,
        action_id=f"a{n}",
        offer_code=f"OFFER{n}",
        treatment_code=f"T{n}",
        interaction_point="home",
        treatment_rule_id="r1",
        segment="shoppers",
        score=0.5 + n,
    )


def response(*, session: str = "s1", customer: str = "", accepted: bool = True) -> ResponseRecord:
    return ResponseRecord(
        **keys(session, customer),
        time=T0,
        action_id="a-resp",
        offer_code="OFFER0",
        treatment_code="T0",
        response_type="click",
        accepted=accepted,
    )


def data_row(columns: dict[str, Any], *, session: str = "s1", customer: str = "") -> DataRecord:
    return DataRecord(**keys(session, customer), time=T0, action_id="a-data", table="cart_adds", columns=columns)


def journey(*, session: str = "s1", customer: str = "") -> JourneyRecord:
    return JourneyRecord(
        **keys(session, customer),
        time=T0,
        action_id="a-j",
        journey="onboarding",
        transition="start",
        step=1,
        event_name="login",
    )


def summary(*, session: str = "s1", customer: str = "", ended_at: datetime = T0) -> SessionSummary:
    return SessionSummary(
        **keys(session, customer),
        channel="web",
        audience_level="Visitor" if not customer else "Customer",
        anonymous=not customer,
        started_at=ended_at - timedelta(minutes=5),
        ended_at=ended_at,
        end_reason="expired",
        event_count=4,
        segments=["shoppers", "new"],
        attributes={"cart_total": 12.5, "vip": False},
    )


class RecordingSink:
    """An in-memory sink that keeps every batch; optional failures and a gate that blocks writes."""

    def __init__(self, *, failures: int = 0) -> None:
        self.batches: list[list[Any]] = []
        self.calls = 0
        self.failures = failures
        self.entered = threading.Event()  # Set once a write has started.
        self.gate = threading.Event()  # Writes wait while it is clear.
        self.gate.set()
        self.closed = False

    def write_batch(self, records: Sequence[Any]) -> None:
        self.entered.set()
        self.gate.wait()
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        self.batches.append(list(records))

    def purge_anonymous(self, older_than: datetime) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    @property
    def records(self) -> list[Any]:
        return [record for batch in self.batches for record in batch]
