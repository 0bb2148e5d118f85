"""Context functions: event statistics, the current event, segments, the clock and callouts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from segflow.rules import EvalContext, compile_expression

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class Session(EvalContext):
    event_name = "add_to_cart"
    event_sequence = 7
    event_params = {"sku": "TV-1", "price": 499.0}

    def event_count(self, name):
        return {"login": 2, "add_to_cart": 3}.get(name, 0)

    def event_first_time(self, name):
        return NOW - timedelta(days=3) if name == "login" else None

    def event_last_time(self, name):
        return NOW - timedelta(minutes=5) if name == "login" else None

    def event_last_data(self, name, param):
        return {"sku": "TV-1"}.get(param) if name == "add_to_cart" else None

    def in_segment(self, name):
        return name == "gold"

    def now(self):
        return NOW

    def callout(self, name, args):
        return sum(args) if name == "sum" else None


def value(sql, row=None, ctx=Session()):
    return compile_expression(sql)(row or {}, ctx)


def test_event_statistics():
    assert value("EVENT_COUNT('login') = 2") is True
    assert value("EVENT_COUNT('checkout')") == 0
    assert value("DATEDIFF(NOW(), EVENT_FIRST_TIME('login'))") == 3
    assert value("SECONDS_DIFF(NOW(), EVENT_LAST_TIME('login')) < 600") is True
    assert value("EVENT_LAST_TIME('checkout') IS NULL") is True
    assert value("EVENT_LAST_DATA('add_to_cart', 'sku') = 'TV-1'") is True


def test_current_event():
    assert value("EVENT_NAME() = 'add_to_cart' AND EVENT_SEQUENCE() = 7") is True
    assert value("event.price > 100 AND event.sku LIKE 'TV-%'") is True
    assert value("event.missing IS NULL") is True


def test_segments_and_callouts():
    assert value("IN_SEGMENT('gold') AND NOT IN_SEGMENT('silver')") is True
    assert value("EXTERNALCALLOUT('sum', x, 2)", {"x": 3}) == 5
    assert value("EXTERNALCALLOUT('unknown') IS NULL") is True


def test_standalone_defaults_without_a_context():
    assert compile_expression("EVENT_COUNT('login') = 0 AND NOT IN_SEGMENT('gold')")({}) is True
    assert compile_expression("event.sku IS NULL AND EVENT_NAME() IS NULL")({}) is True
    assert compile_expression("NOW()")({}).tzinfo is not None


def test_referenced_names_for_validation_and_indexing():
    ev = compile_expression("EVENT_COUNT('login') > 0 AND IN_SEGMENT('gold') AND EXTERNALCALLOUT('f', a) "
                            "AND event.p = EVENT_LAST_DATA('view', 'p') AND b > 1")
    assert ev.event_names == {"login", "view"} and ev.segment_names == {"gold"} and ev.callouts == {"f"}
    assert ev.names == {"a", "b"} and ev.event_params == {"p"}
