"""A call is a transaction on its session: an error inside an evaluation fails one action, whatever its type,
and a call that fails for any other reason leaves the session (and journeys) as it was, so a retry is safe."""

from __future__ import annotations

import grpc
from segflow.v1 import action_pb2, decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb

from segflow.server.runtime import engine
from tests.service.calls import event, rpc_error, start

RULESET = """
name: atomic
channel: web
audience_levels: [{name: Visitor}, {name: Customer, id_fields: [customer_id]}]
attributes:
  - {name: cart_total, type: double, default: 100.0}
  - {name: label, type: string}
events: [{name: shout}, {name: visit}]
rules:
  - id: shout
    on: [shout]
    then:
      - {expression: {expression: "UPPER(EXTERNALCALLOUT('propensity', cart_total, 0))", assign_to: label}}
      - {expression: {expression: "cart_total + 1", assign_to: cart_total}}
  - id: visit
    on: [visit]
    then: [{expression: {expression: "cart_total + 1", assign_to: cart_total}}, {journey_start: {journey: tour}}]
journeys: [{name: tour, start_on: [], continue_on: [visit]}]
callouts: [{name: propensity, arity: 2, plugin: propensity, default: 0.0}]
"""


def deploy(admin) -> None:
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=RULESET)))


def tour_step(session) -> int:
    [tour] = [j for j in session.journeys if j.journey == "tour"]
    return tour.step


def session_of(decisions, session_id: str):
    return decisions.GetSession(pb.GetSessionRequest(session_id=session_id)).session


def test_upper_on_a_callouts_number_fails_one_action_and_a_retry_counts_once(decisions, admin):
    deploy(admin)
    decisions.StartSession(start("v"))
    first = decisions.PostEvent(event("v", "shout", event_id="e-1"))
    failed, assigned = [a for a in first.actions if a.type == action_pb2.ACTION_TYPE_USER_EXPRESSION]
    assert failed.state == action_pb2.ACTION_STATE_ERRORED and "upper" in failed.error_message and "float" in failed.error_message
    assert assigned.state == action_pb2.ACTION_STATE_FIRED  # the rule went on
    again = decisions.PostEvent(event("v", "shout", event_id="e-1"))
    assert again.duplicate and again.event_sequence == first.event_sequence == 1
    session = session_of(decisions, "v")
    assert session.event_sequence == 1 and session.attributes["cart_total"].double_value == 101.0


def test_a_call_that_fails_half_way_changes_nothing_and_its_retry_counts_once(decisions, admin, monkeypatch):
    deploy(admin)
    decisions.StartSession(start("v", customer="c-1"))  # the customer's journeys are shared: undone too
    decisions.PostEvent(event("v", "visit"))  # the journey starts, cart_total 101
    real = engine.EventProcessor.process

    def process_then_fail(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("a bug after the session changed")

    monkeypatch.setattr(engine.EventProcessor, "process", process_then_fail)
    rpc_error(decisions.PostEvent, event("v", "visit", event_id="e-2"), code=grpc.StatusCode.INTERNAL)
    session = session_of(decisions, "v")
    assert session.event_sequence == 1 and session.attributes["cart_total"].double_value == 101.0
    assert tour_step(session) == 1
    monkeypatch.undo()
    retried = decisions.PostEvent(event("v", "visit", event_id="e-2"))
    assert not retried.duplicate and retried.event_sequence == 2
    session = session_of(decisions, "v")
    assert session.attributes["cart_total"].double_value == 102.0 and tour_step(session) == 2


REMEMBERED = """
name: remembered
channel: web
audience_levels: [{name: Visitor}, {name: Customer, id_fields: [customer_id]}]
attributes:
  - {name: visits_today, type: int, default: 0}
  - {name: last_visit_total, type: double, scope: profile}
events: [{name: visit, parameters: [{name: total, type: double}]}]
rules:
  - id: count
    on: [visit]
    then:
      - {expression: {expression: "EVENT_COUNT('visit', INTERVAL '1' DAY)", assign_to: visits_today}}
      - {expression: {expression: "event.total", assign_to: last_visit_total}}
"""


def test_a_call_that_fails_half_way_leaves_the_customers_counters_and_profile_as_they_were(
        decisions, admin, monkeypatch):
    """The memory is not copied before a call but records what the call changes: undone when it fails."""
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=REMEMBERED)))
    decisions.StartSession(start("r", customer="c-9"))
    decisions.PostEvent(event("r", "visit", total=10.0))
    counted = session_of(decisions, "r").attributes["visits_today"].int_value
    real = engine.EventProcessor.process

    def process_then_fail(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise RuntimeError("a bug after the memory changed")

    monkeypatch.setattr(engine.EventProcessor, "process", process_then_fail)
    for _ in range(3):
        rpc_error(decisions.PostEvent, event("r", "visit", total=99.0), code=grpc.StatusCode.INTERNAL)
    monkeypatch.undo()
    decisions.PostEvent(event("r", "visit", total=20.0))
    session = session_of(decisions, "r")
    assert session.attributes["visits_today"].int_value == counted + 1
    assert session.attributes["last_visit_total"].double_value == 20.0


def test_a_start_session_that_fails_keeps_the_session_it_would_replace(decisions, admin, monkeypatch):
    deploy(admin)
    decisions.StartSession(start("v"))
    decisions.PostEvent(event("v", "visit"))
    monkeypatch.setattr(engine, "resegment", lambda *args: (_ for _ in ()).throw(RuntimeError("a bug")))
    rpc_error(decisions.StartSession, start("v"), code=grpc.StatusCode.INTERNAL)
    assert session_of(decisions, "v").event_sequence == 1


OVERFLOW = """
name: overflow
channel: web
audience_levels: [{name: Visitor}]
attributes:
  - {name: big, type: int, default: 9223372036854775807}
  - {name: cart_total, type: double, default: 100.0}
events: [{name: grow}]
rules:
  - id: grow
    on: [grow]
    then:
      - {expression: {expression: "big + 1", assign_to: big}}
      - {expression: {expression: "cart_total + 1", assign_to: cart_total}}
"""


def test_an_expression_beyond_int64_fails_its_action_and_assigns_nothing(decisions, admin):
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=OVERFLOW)))
    decisions.StartSession(start("o"))
    response = decisions.PostEvent(event("o", "grow"))
    failed, assigned = [a for a in response.actions if a.type == action_pb2.ACTION_TYPE_USER_EXPRESSION]
    assert failed.state == action_pb2.ACTION_STATE_ERRORED and "out of range" in failed.error_message.lower()
    assert assigned.state == action_pb2.ACTION_STATE_FIRED  # the rule went on
    session = session_of(decisions, "o")
    assert session.attributes["big"].int_value == 2**63 - 1 and session.attributes["cart_total"].double_value == 101.0
