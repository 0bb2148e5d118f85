"""The caller's trace id on what a call leaves behind: its actions (in the response and to subscribers) and its
history rows; and history records spilled or journaled before trace ids still replay."""

from __future__ import annotations

import base64
import pickle
import sqlite3
import time

from segflow.v1 import decision_service_pb2 as pb

from segflow.server.history import JourneyRecord
from tests.service.calls import event, offers, start
from tests.service.conftest import clock, config, service, channel, decisions  # noqa: F401 (fixtures)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACED = (("traceparent", f"00-{TRACE}-00f067aa0ba902b7-01"),)


def test_actions_to_subscribers_and_history_rows_carry_the_calls_trace_id(service, decisions):
    decisions.StartSession(start("traced"))
    stream = decisions.SubscribeActions(pb.SubscribeActionsRequest(filter=pb.ActionFilter(session_id="traced")),
                                        timeout=30)
    deadline = time.monotonic() + 10
    while service.bus.stats()["subscribers"] < 1:
        assert time.monotonic() < deadline, "the subscription did not register"
        time.sleep(0.01)
    added = decisions.PostEvent(event("traced", "add_to_cart", sku="TV", price=650.0), metadata=TRACED)
    # GetOffers publishes its OFFER actions to subscribers only (not in its response), traced too.
    code = decisions.GetOffers(offers("traced", ("checkout_upsell", 1)), metadata=TRACED).offer_lists[0].offers[0] \
        .treatment_code
    shown = decisions.PostEvent(event("traced", "offer_shown", treatment_code=code), metadata=TRACED)
    untraced = decisions.PostEvent(event("traced", "add_to_cart", sku="Radio", price=20.0))
    assert added.actions and {a.trace_id for a in (*added.actions, *shown.actions)} == {TRACE}
    assert untraced.actions and {a.trace_id for a in untraced.actions} == {""}
    sent = {a.action_id for a in (*added.actions, *shown.actions, *untraced.actions)}
    received = {}
    while not sent <= received.keys():
        action = next(stream).action
        received.setdefault(action.action_id, set()).add(action.trace_id)
    stream.cancel()
    assert {a.action_id: {a.trace_id} for a in untraced.actions}.items() <= received.items()
    assert {a.action_id: {TRACE} for a in added.actions}.items() <= received.items()
    assert set().union(*received.values()) == {TRACE, ""}

    assert service.history.flush(timeout=5)
    with sqlite3.connect(service.config.history.removeprefix("sqlite:///")) as history:
        for table in ("contacts", "data_rows", "journey_steps"):
            rows = history.execute(f"SELECT trace_id FROM {table} WHERE session_id = 'traced'").fetchall()
            assert (TRACE,) in rows, table
        assert ("",) in history.execute("SELECT trace_id FROM data_rows WHERE session_id = 'traced'").fetchall()


# A JourneyRecord pickled by segflow before records had a trace id, as a spill or journal file holds it.
BEFORE_TRACE_IDS = (
    "gAWV0QAAAAAAAACMHnNlZ2Zsb3cuc2VydmVyLmhpc3RvcnkucmVjb3Jkc5SMDUpvdXJuZXlSZWNvcmSUk5QpgZRdlCiMA3MtMZSMAJSMA2Qt"
    "MZRLA4wIZGF0ZXRpbWWUjAhkYXRldGltZZSTlEMKB+oMAQoAAAAAAJRoCIwIdGltZXpvbmWUk5RoCIwJdGltZWRlbHRhlJOUSwBLAEsAh5RS"
    "lIWUUpSGlFKUjANhLTGUjA1jYXJ0X3JlY292ZXJ5lIwFc3RhcnSUSwGMC2FkZF90b19jYXJ0lGViLg==")


def test_a_record_pickled_before_trace_ids_replays_with_an_empty_one():
    record = pickle.loads(base64.b64decode(BEFORE_TRACE_IDS))
    assert isinstance(record, JourneyRecord) and record.trace_id == ""
    assert (record.action_id, record.journey, record.transition, record.step, record.event_name) == (
        "a-1", "cart_recovery", "start", 1, "add_to_cart")
    assert pickle.loads(pickle.dumps(record)) == record
