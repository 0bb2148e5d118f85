"""Actions are encoded by hand on the hot path (server.runtime.decision): each encoding parses to the message
the protobuf runtime builds from the same values, and fails as building it would."""

from __future__ import annotations

import enum
import math
from datetime import datetime, timedelta, timezone

import pytest
from segflow.v1 import action_pb2, decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb, value_pb2

from segflow.rules.values import to_value
from segflow.server.runtime.decision import field, new_id, value_body, value_field, varint
from tests.service.calls import event, start


class Level(enum.IntEnum):
    GOLD = 3


class Tag(str, enum.Enum):
    RED = "red"


VALUES = [None, "", "é\U0001F600", "x" * 300, 0, 1, 127, 128, 16_383, 16_384, 2**63 - 1, -1, -(2**63), 0.0, -0.0,
          1.5, math.inf, -math.inf, 1e308, True, False, datetime(2024, 5, 1, 12, 30, 1, 250, tzinfo=timezone.utc),
          datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
          [1, "a", None, [2.5]], (), ("t",), Level.GOLD, Tag.RED]


@pytest.mark.parametrize("py", VALUES, ids=repr)
def test_a_value_encodes_as_its_message(py):
    assert value_pb2.Value.FromString(value_body(py)) == to_value(py)


def test_a_nan_encodes_as_its_message():
    assert math.isnan(value_pb2.Value.FromString(value_body(math.nan)).double_value)


@pytest.mark.parametrize("py", [2**63, -(2**63) - 1, "a\udc80", datetime(2024, 1, 1), object()], ids=repr)
def test_a_value_that_has_no_message_fails_as_building_it_does(py):
    with pytest.raises(Exception) as built:
        to_value(py)
    with pytest.raises(built.type) as encoded:
        value_body(py)
    assert str(encoded.value) == str(built.value)


@pytest.mark.parametrize("n", [0, 127, 128, 4095, 4096, 2**35, 2**64 - 1])
def test_varints(n):
    assert value_pb2.Value.FromString(b"\x18" + varint(n)).int_value == (n if n < 2**63 else n - 2**64)


def test_ids_have_all_their_digits():
    assert all(len(new_id()) == 32 for _ in range(100))


EVERY_KIND = """
name: every-kind
channel: web
attributes:
  - {name: total, type: double, default: 0.0}
  - {name: note, type: string}
  - {name: count, type: int, default: 0}
events:
  - {name: buy, parameters: [{name: price, type: double}, {name: sku, type: string}]}
  - {name: chained}
rules:
  - id: every
    on: [buy]
    then:
      - expression: {expression: "total + event.price", assign_to: total}
      - expression: {expression: "'a' || event.sku"}
      - expression: {expression: "event.sku", assign_to: count}
      - log_data: {table: buys, columns: {sku: event.sku, price: event.price, none: note, big: "count + 200"}}
      - resegment: {}
      - resegment: {flowcharts: [spend]}
      - notify: {topic: desk, message: "'bought ' || event.sku", media_type: agent}
      - notify: {topic: quiet, message: "note"}
      - suppress_offer: {offer: TV, reason: bought}
      - journey_start: {journey: trip}
      - trigger_events: {events: [chained]}
  - id: chained
    on: [chained]
    then:
      - journey_continue: {journey: trip}
flowcharts:
  - {name: spend, audience_level: Visitor, segments: [{name: big, when: "total > 10"}]}
  - {name: other, audience_level: Visitor, segments: [{name: noted, when: "note IS NOT NULL"}]}
audience_levels: [{name: Visitor}]
journeys: [{name: trip}]
offers: [{code: TV, name: TV}]
"""


def test_every_kind_of_action_arrives_as_the_message_of_its_fields(decisions, admin):
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=EVERY_KIND)))
    decisions.StartSession(start("s-1"))
    response = decisions.PostEvent(event("s-1", "buy", price=12.5, sku="TV-55"))
    A = action_pb2
    decision = response.decision.decision_id
    expected = [
        (A.ACTION_TYPE_USER_EXPRESSION, A.ACTION_STATE_FIRED, "buy", dict(user_expression=dict(
            expression="total + event.price", value=dict(double_value=12.5), assigned_attribute="total"))),
        (A.ACTION_TYPE_USER_EXPRESSION, A.ACTION_STATE_FIRED, "buy", dict(user_expression=dict(
            expression="'a' || event.sku", value=dict(string_value="aTV-55")))),
        (A.ACTION_TYPE_USER_EXPRESSION, A.ACTION_STATE_ERRORED, "buy", dict(
            error_code="type", error_message="cannot assign a str value to 'count' (int)", user_expression=dict(
                expression="event.sku", value=dict(string_value="TV-55"), assigned_attribute="count"))),
        (A.ACTION_TYPE_LOG_DATA, A.ACTION_STATE_FIRED, "buy", dict(log_data=dict(table="buys", columns=dict(
            sku=dict(string_value="TV-55"), price=dict(double_value=12.5), none=dict(null_value=0),
            big=dict(int_value=200))))),
        (A.ACTION_TYPE_RESEGMENT, A.ACTION_STATE_FIRED, "buy", dict(resegment=dict(
            flowcharts=["spend", "other"], segments_entered=["big"]))),
        (A.ACTION_TYPE_RESEGMENT, A.ACTION_STATE_FIRED, "buy", dict(resegment=dict(flowcharts=["spend"]))),
        (A.ACTION_TYPE_NOTIFY, A.ACTION_STATE_FIRED, "buy", dict(media_type="agent", notify=dict(
            topic="desk", message="bought TV-55"))),
        (A.ACTION_TYPE_NOTIFY, A.ACTION_STATE_FIRED, "buy", dict(notify=dict(topic="quiet"))),
        (A.ACTION_TYPE_SUPPRESS_OFFER, A.ACTION_STATE_FIRED, "buy", dict(suppress_offer=dict(
            offer_code="TV", reason="bought"))),
        (A.ACTION_TYPE_JOURNEY_START, A.ACTION_STATE_JOURNEY_STARTED, "buy", dict(journey=dict(
            journey="trip", step=1))),
        (A.ACTION_TYPE_TRIGGER_EVENTS, A.ACTION_STATE_FIRED, "buy", dict(trigger_events=dict(
            events=["chained"], depth=1))),
        (A.ACTION_TYPE_JOURNEY_CONTINUE, A.ACTION_STATE_JOURNEY_CONTINUED, "chained", dict(journey=dict(
            journey="trip", step=2))),
    ]
    assert len(response.actions) == len(expected)
    for action, (type_, state, event_name, fields) in zip(response.actions, expected):
        rule_id = "chained" if event_name == "chained" else "every"
        want = A.Action(action_id=action.action_id, type=type_, rule_id=rule_id, state=state,
                        ruleset_version=response.decision.ruleset_version,
                        session_id="s-1", anonymous=True, event_name=event_name, time=action.time,
                        decision_id=decision, **fields)
        assert action == want
        assert action.HasField(action.WhichOneof("details"))
    assert len({a.action_id for a in response.actions}) == len(expected)


@pytest.mark.parametrize("py", VALUES + ["y" * 127, "y" * 128, "y" * 129, "\u00e9" * 64, 0, 127, 128, -5],
                         ids=repr)
def test_a_value_field_is_the_field_of_its_encoding(py):
    assert value_field(b"\x12", py) == field(b"\x12", value_body(py))


@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explained"])
def test_an_encoded_response_is_its_message_with_every_action(service, explain):
    """PostEvent's EncodedResponse keeps the actions not parsed yet as their encodings behind the message (an
    explained call's rules parse theirs in as they fire): its bytes parse to the message with all of them."""
    service.engine.start_session(start("encoded"))
    request = event("encoded", "add_to_cart", sku="TV", price=700.0)
    request.explain = explain
    response = service.engine.post_event(request, encoded=True)
    wire = pb.PostEventResponse.FromString(response.SerializeToString())
    message = response.parsed()
    assert wire == message
    ids = [a.action_id for a in message.actions]
    assert len(set(ids)) == len(ids) >= 6
    if explain:  # the trace read the rules' actions as they fired (a journey trigger's belongs to no rule)
        traced = [i for rule in message.trace.rules for i in rule.action_ids]
        assert len(traced) >= 5 and set(traced) <= set(ids)


def test_a_retry_over_the_wire_answers_the_first_response(decisions):
    """The first response of an event id is remembered from the encoded response the servicer sends."""
    decisions.StartSession(start("retried"))
    first = decisions.PostEvent(event("retried", "add_to_cart", event_id="e-1", sku="TV", price=700.0))
    again = decisions.PostEvent(event("retried", "add_to_cart", event_id="e-1", sku="TV", price=700.0))
    assert again.duplicate and not first.duplicate
    again.duplicate = False
    assert again == first and len(first.actions) >= 6
