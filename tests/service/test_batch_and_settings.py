"""ExecuteBatch, strict events, offer dates and scores, over a real channel."""

from __future__ import annotations

import grpc
from segflow.v1 import decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb

from tests.service.calls import event, offers, rpc_error, start, values


def deploy(admin, yaml: str) -> None:
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=yaml)))


def test_execute_batch_runs_each_command_in_order_with_its_own_result(decisions):
    commands = [
        pb.BatchCommand(start_session=start("")),  # the batch's session id fills in
        pb.BatchCommand(post_event=event("", "add_to_cart", sku="A", price=30.0)),
        pb.BatchCommand(post_event=event("", "add_to_cart", sku="B", price="free")),  # a bad one
        pb.BatchCommand(get_offers=offers("", ("home_banner", 1))),
        pb.BatchCommand(get_session=pb.GetSessionRequest()),
        pb.BatchCommand(end_session=pb.EndSessionRequest()),
    ]
    results = decisions.ExecuteBatch(pb.ExecuteBatchRequest(session_id="batch", commands=commands)).results
    assert [r.WhichOneof("result") for r in results] == [
        "start_session", "post_event", "error", "get_offers", "get_session", "end_session"]
    assert results[2].error.code == "INVALID_ARGUMENT" and "price" in results[2].error.message
    assert [o.code for o in results[3].get_offers.offer_lists[0].offers] == ["FREESHIP"]
    assert results[4].get_session.session.event_sequence == 1


def test_execute_batch_can_stop_at_the_first_error(decisions):
    commands = [pb.BatchCommand(get_session=pb.GetSessionRequest()),  # no such session yet
                pb.BatchCommand(start_session=start(""))]
    request = pb.ExecuteBatchRequest(session_id="stopper", commands=commands, stop_on_error=True)
    [result] = decisions.ExecuteBatch(request).results
    assert result.error.code == "NOT_FOUND"
    rpc_error(decisions.GetSession, pb.GetSessionRequest(session_id="stopper"), code=grpc.StatusCode.NOT_FOUND)


STRICT = """
name: strict
channel: web
settings: {strict_events: true}
audience_levels: [{name: Visitor}]
attributes: [{name: age, type: int}]
events: [{name: login}]
rules: [{id: r, on: [login], then: [{resegment: {}}]}]
flowcharts:
  - {name: f, audience_level: Visitor, segments: [{name: adults, when: age >= 18}, {name: all, when: "TRUE"}]}
interaction_points: [{name: banner}]
offers:
  - {code: LATER, effective_at: "2026-03-02T00:00:00Z"}
  - {code: NOW, expires_at: "2026-03-01T13:00:00Z"}
  - {code: AGED}
treatment_rules:
  - {id: t-later, segment: all, interaction_point: banner, offer: LATER, score: "3"}
  - {id: t-now, segment: all, interaction_point: banner, offer: NOW, score: "2"}
  - {id: t-aged, segment: all, interaction_point: banner, offer: AGED, score: "age"}
"""


def test_strict_events_refuse_an_undefined_event_with_a_suggestion(decisions, admin):
    deploy(admin, STRICT)
    decisions.StartSession(start("strict"))
    _, fields, reason = rpc_error(decisions.PostEvent, event("strict", "logn"), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "UNKNOWN_EVENT" and "did you mean 'login'" in fields["event.name"]


def test_offer_dates_follow_the_clock_and_a_null_score_drops_the_candidate(decisions, admin, clock):
    deploy(admin, STRICT)  # the clock starts at 2026-03-01T12:00Z
    decisions.StartSession(start("dated"))
    codes = lambda: [o.code for o in decisions.GetOffers(offers("dated", ("banner", 5))).offer_lists[0].offers]
    assert codes() == ["NOW"]  # LATER not yet effective; AGED scores NULL (age unknown)
    decisions.SetAudience(pb.SetAudienceRequest(session_id="dated", parameters=values(age=30)))
    assert codes() == ["AGED", "NOW"]  # scores 30, 2
    clock.advance(days=1)  # the session expired meanwhile: the visitor comes back
    decisions.StartSession(start("dated", age=30))
    assert codes() == ["AGED", "LATER"]  # NOW expired at 13:00, LATER effective since midnight
