"""The schema's documentation matches its tables, and records refuse naive times."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

import pytest

from segflow.server.history import schema
from segflow.server.history.records import DataRecord, JourneyRecord
from tests.history.conftest import T0, contact, summary


def documented_columns() -> dict[str, set[str]]:
    """Column names per table in the module docstring: each table's Markdown rows follow a "`name`:" line."""
    columns: dict[str, set[str]] = {}
    current = ""
    for line in schema.__doc__.splitlines():
        if heading := re.match(r"`(\w+)`:|Columns shared", line):
            current = heading.group(1) or "shared"
        elif row := re.match(r"\| (\w+) \|", line):
            columns.setdefault(current, set()).add(row.group(1))
    return {table: names - {"column"} for table, names in columns.items()}


@pytest.mark.parametrize("table", schema.TABLES, ids=lambda table: table.name)
def test_every_column_is_documented(table):
    documented = documented_columns()
    columns = documented[table.name]
    if table in (schema.CONTACTS, schema.RESPONSES, schema.DATA_ROWS, schema.JOURNEY_STEPS):
        columns |= documented["shared"]
    assert columns == set(table.column_names)


class NoOffset(tzinfo):
    """A tzinfo that knows no offset: its times are naive for every purpose."""

    def utcoffset(self, dt):
        return None


def test_records_refuse_naive_times():
    with pytest.raises(ValueError, match="time must be a timezone-aware datetime"):
        contact(time=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="time must be a timezone-aware datetime"):
        contact(time=datetime(2025, 1, 1, tzinfo=NoOffset()))
    assert contact(time=datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5)))).time.utcoffset()
    with pytest.raises(ValueError, match="started_at must be a timezone-aware datetime"):
        summary(ended_at=datetime(2025, 1, 1))


def test_a_summary_happens_when_the_session_ends():
    assert summary(ended_at=T0 + timedelta(hours=2)).time == T0 + timedelta(hours=2)


def test_records_in_field_order_are_the_same_records_by_name():
    """The hot path builds records positionally (keys, time, action id, its own fields; trace_id by name)."""
    by_name = DataRecord(session_id="s", customer_id="c", decision_id="d", ruleset_version=3, time=T0,
                                action_id="a", trace_id="t", table="orders", columns={"total": 5.0})
    assert DataRecord("s", "c", "d", 3, T0, "a", "orders", {"total": 5.0}, trace_id="t") == by_name
    journey = JourneyRecord("s", "c", "d", 3, T0, "a", "cart_recovery", "continue", 2, "page_view")
    assert (journey.journey, journey.transition, journey.step, journey.event_name, journey.trace_id) == (
        "cart_recovery", "continue", 2, "page_view", "")
    with pytest.raises(TypeError):
        DataRecord("s", "c", "d", 3, T0, "a", "orders", {}, "t")  # trace_id goes by name only
