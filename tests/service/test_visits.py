"""Visits over a real channel against the example ruleset: every action type, offers, journeys, sessions."""

from __future__ import annotations

import threading

import grpc
from segflow.v1 import action_pb2, decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb, session_pb2

from tests.service.calls import attributes, event, offers, rpc_error, start, values

A = action_pb2


def types(response) -> list[int]:
    return [a.type for a in response.actions]


def get(decisions, session_id):
    return decisions.GetSession(pb.GetSessionRequest(session_id=session_id)).session


def test_every_action_carries_ids_rule_version_and_state(decisions):
    decisions.StartSession(start("ids"))
    response = decisions.PostEvent(event("ids", "add_to_cart", sku="X", price=10.0))
    assert types(response) == [A.ACTION_TYPE_JOURNEY_START, A.ACTION_TYPE_USER_EXPRESSION,
                               A.ACTION_TYPE_USER_EXPRESSION, A.ACTION_TYPE_LOG_DATA, A.ACTION_TYPE_RESEGMENT]
    assert len({a.action_id for a in response.actions}) == len(response.actions)
    for action in response.actions:
        assert action.ruleset_version == 1 and action.decision_id == response.decision.decision_id
        assert action.session_id == "ids" and action.event_name == "add_to_cart"
    assert response.actions[0].rule_id == "journey:cart_recovery"
    assert response.actions[1].rule_id == "cart-update"
    assert response.actions[0].state == A.ACTION_STATE_JOURNEY_STARTED
    assert all(a.state == A.ACTION_STATE_FIRED for a in response.actions[1:])
    # a second start of an active journey changes nothing and says so
    again = decisions.PostEvent(event("ids", "add_to_cart", sku="Y", price=1.0))
    assert A.ACTION_TYPE_JOURNEY_START not in types(again)
    assert [a.code for a in again.advisories] == ["journey_already_active"]


def test_user_expression_assigns_and_null_parameters_fall_back(decisions):
    decisions.StartSession(start("expr"))
    decisions.PostEvent(event("expr", "add_to_cart", sku="A", price=5.0))  # quantity is NULL: COALESCE -> 1
    decisions.PostEvent(event("expr", "add_to_cart", sku="B", price=2.5, quantity=4))
    values_now = attributes(get(decisions, "expr"))
    assert (values_now["cart_total"], values_now["cart_items"]) == (15.0, 5)


def test_condition_on_missing_attribute_is_null_and_runs_else(decisions):
    decisions.StartSession(start("null"))
    # login without loyalty_tier: `event.loyalty_tier IS NOT NULL` is FALSE -> else (resegment only)
    response = decisions.PostEvent(event("null", "login"))
    assert types(response) == [A.ACTION_TYPE_RESEGMENT]
    assert "loyalty_tier" not in attributes(get(decisions, "null"))  # missing: NULL to expressions
    # `cart_total >= 500 AND NOT vip`: vip is FALSE by default, so a big cart alerts
    response = decisions.PostEvent(event("null", "add_to_cart", sku="TV", price=900.0))
    assert A.ACTION_TYPE_NOTIFY in types(response)


def test_log_data_and_notify_and_trigger_events(decisions):
    decisions.StartSession(start("chain"))
    response = decisions.PostEvent(event("chain", "add_to_cart", sku="TV", price=600.0))
    notify = next(a for a in response.actions if a.type == A.ACTION_TYPE_NOTIFY)
    assert notify.notify.topic == "sales-desk" and notify.media_type == "agent"
    log = next(a for a in response.actions if a.type == A.ACTION_TYPE_LOG_DATA)
    assert log.log_data.table == "cart_adds" and log.log_data.columns["sku"].string_value == "TV"
    trigger = next(a for a in response.actions if a.type == A.ACTION_TYPE_TRIGGER_EVENTS)
    assert list(trigger.trigger_events.events) == ["cart_abandon_check"]
    # the chained event ran its rule: cart_items > 0 and no checkout -> journey continue
    continued = [a for a in response.actions if a.type == A.ACTION_TYPE_JOURNEY_CONTINUE]
    assert continued and continued[0].event_name == "cart_abandon_check"
    journeys = get(decisions, "chain").journeys
    assert [(j.journey, j.step, j.status) for j in journeys] == [
        ("cart_recovery", 2, session_pb2.JOURNEY_STATUS_ACTIVE)]


def test_offers_contact_acceptance_rejection_and_suppression(decisions):
    decisions.StartSession(start("offers"))
    decisions.PostEvent(event("offers", "add_to_cart", sku="A", price=20.0))  # shoppers
    response = decisions.GetOffers(offers("offers", ("home_banner", 3)))
    [home] = response.offer_lists
    assert [o.code for o in home.offers] == ["FREESHIP"]
    offer = home.offers[0]
    assert offer.treatment_code and offer.score == 20.0 and offer.segment == "shoppers"

    contact = decisions.PostEvent(event("offers", "offer_shown", treatment_code=offer.treatment_code))
    [logged] = contact.actions
    assert logged.type == A.ACTION_TYPE_LOG_CONTACT and logged.state == A.ACTION_STATE_OFFERED
    accepted = decisions.PostEvent(event("offers", "offer_click", treatment_code=offer.treatment_code))
    assert accepted.actions[0].state == A.ACTION_STATE_ACCEPTED
    assert accepted.actions[0].action_id == logged.action_id  # one action id through its lifecycle

    rejected = decisions.PostEvent(event("offers", "offer_dismiss"))  # no code: the offers last recommended
    assert rejected.actions[0].state == A.ACTION_STATE_REJECTED
    assert rejected.actions[0].offer_response.from_last_recommended
    again = decisions.GetOffers(offers("offers", ("home_banner", 3)))
    assert [o.code for o in again.offer_lists[0].offers] == []  # rejected offers are suppressed


def test_unknown_treatment_code_is_an_errored_action(decisions):
    decisions.StartSession(start("bad-code"))
    response = decisions.PostEvent(event("bad-code", "offer_click", treatment_code="nope"))
    assert response.actions[0].state == A.ACTION_STATE_ERRORED
    assert response.actions[0].error_code == "unknown_treatment"


def test_presentation_cap_suppresses_an_offer(decisions):
    decisions.StartSession(start("cap", last_category="electronics"))
    for _ in range(2):  # TV_BUNDLE may be presented twice
        listed = decisions.GetOffers(offers("cap", ("home_banner", 1)))
        [tv] = listed.offer_lists[0].offers
        assert tv.code == "TV_BUNDLE"
        decisions.PostEvent(event("cap", "offer_shown", treatment_code=tv.treatment_code))
    listed = decisions.GetOffers(offers("cap", ("home_banner", 1)))
    assert [o.code for o in listed.offer_lists[0].offers] == ["WELCOME10"]


def test_dedupe_across_interaction_points_and_allowing_duplicates(decisions):
    decisions.StartSession(start("dedupe", last_category="electronics"))
    decisions.PostEvent(event("dedupe", "add_to_cart", sku="A", price=600.0))  # big_spenders too
    both = offers("dedupe", ("home_banner", 2), ("cart_sidebar", 2))
    lists = decisions.GetOffers(both).offer_lists
    assert [o.code for o in lists[0].offers] == ["TV_BUNDLE", "PAY_LATER"]  # PAY_LATER: the propensity callout
    assert [o.code for o in lists[1].offers] == ["UPSELL_WARRANTY"]  # TV_BUNDLE already recommended
    both = offers("dedupe", ("home_banner", 2), ("cart_sidebar", 2), allow_duplicates=True)
    lists = decisions.GetOffers(both).offer_lists
    assert [o.code for o in lists[1].offers] == ["UPSELL_WARRANTY", "TV_BUNDLE"]
    treatment_codes = [o.treatment_code for lst in lists for o in lst.offers]
    assert len(set(treatment_codes)) == len(treatment_codes)


def test_explicit_suppression_by_a_rule(decisions):
    decisions.StartSession(start("suppress"))
    decisions.PostEvent(event("suppress", "add_to_cart", sku="A", price=700.0))
    assert "UPSELL_WARRANTY" in [o.code for o in decisions.GetOffers(
        offers("suppress", ("checkout_upsell", 1))).offer_lists[0].offers]
    response = decisions.PostEvent(event("suppress", "chat_message", text="I want a refund"))
    assert types(response) == [A.ACTION_TYPE_NOTIFY, A.ACTION_TYPE_SUPPRESS_OFFER]
    assert decisions.GetOffers(offers("suppress", ("checkout_upsell", 1))).offer_lists[0].offers == []


def test_idempotent_retry_returns_the_first_result_and_fires_nothing_twice(decisions):
    decisions.StartSession(start("retry"))
    first = decisions.PostEvent(event("retry", "add_to_cart", event_id="e-1", sku="A", price=10.0))
    again = decisions.PostEvent(event("retry", "add_to_cart", event_id="e-1", sku="A", price=10.0))
    assert again.duplicate and not first.duplicate
    assert [a.action_id for a in again.actions] == [a.action_id for a in first.actions]
    session = get(decisions, "retry")
    assert attributes(session)["cart_total"] == 10.0 and session.event_sequence == 1


def test_de_anonymization_by_event_and_set_audience(decisions):
    decisions.StartSession(start("anon"))
    assert get(decisions, "anon").anonymous
    identified = session_pb2.Audience(level="Customer", id_fields=values(customer_id="c-42"))
    request = event("anon", "login", loyalty_tier="gold")
    request.event.audience.CopyFrom(identified)
    response = decisions.PostEvent(request)
    assert "loyal" in response.segments_entered
    session = get(decisions, "anon")
    assert not session.anonymous and session.customer_id == "customer_id=c-42"
    assert session.audience.level == "Customer"

    decisions.StartSession(start("anon-2"))
    changed = decisions.SetAudience(pb.SetAudienceRequest(
        session_id="anon-2", audience=identified, parameters=values(age=21)))
    assert changed.session.customer_id == "customer_id=c-42"
    assert "young_adults" in changed.segments_entered


def test_journey_state_belongs_to_the_customer_once_identified(decisions):
    identified = session_pb2.Audience(level="Customer", id_fields=values(customer_id="c-7"))
    decisions.StartSession(pb.StartSessionRequest(session_id="j-1", audience=identified))
    decisions.PostEvent(event("j-1", "add_to_cart", sku="A", price=1.0))
    decisions.StartSession(pb.StartSessionRequest(session_id="j-2", audience=identified))
    [journey] = get(decisions, "j-2").journeys
    assert journey.journey == "cart_recovery" and journey.status == session_pb2.JOURNEY_STATUS_ACTIVE
    response = decisions.PostEvent(event("j-2", "checkout", order_total=1.0))
    assert A.ACTION_TYPE_JOURNEY_STOP in types(response)
    assert get(decisions, "j-1").journeys[0].status == session_pb2.JOURNEY_STATUS_STOPPED


def test_rely_on_existing_session_versus_restart(decisions):
    decisions.StartSession(start("reuse"))
    decisions.PostEvent(event("reuse", "add_to_cart", sku="A", price=1.0))
    reused = decisions.StartSession(pb.StartSessionRequest(session_id="reuse", rely_on_existing_session=True))
    assert reused.resumed and reused.session.event_sequence == 1
    restarted = decisions.StartSession(pb.StartSessionRequest(session_id="reuse"))
    assert not restarted.resumed and restarted.session.event_sequence == 0


def test_sessions_expire_after_the_idle_timeout_renewed_by_every_call(decisions, clock, service):
    decisions.StartSession(start("idle"))
    clock.advance(minutes=29)
    decisions.PostEvent(event("idle", "login"))  # renews
    clock.advance(minutes=29)
    assert get(decisions, "idle").event_sequence == 1  # still live: 29 minutes since the last call
    clock.advance(minutes=31)
    assert service.store.expire_idle() == 1
    assert get(decisions, "idle").state == session_pb2.SESSION_STATE_EXPIRED  # gone, and GetSession says why
    rpc_error(decisions.PostEvent, event("idle", "login"), code=grpc.StatusCode.NOT_FOUND)


def test_concurrent_events_on_one_session_are_serialised(decisions):
    decisions.StartSession(start("busy"))
    errors = []

    def post(worker: int) -> None:
        try:
            for i in range(20):
                decisions.PostEvent(event("busy", "add_to_cart", event_id=f"{worker}-{i}", sku="A", price=1.0))
        except grpc.RpcError as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    session = get(decisions, "busy")
    assert session.event_sequence == 120
    assert attributes(session)["cart_items"] == 120 and attributes(session)["cart_total"] == 120.0


def test_event_cycles_are_cut_at_the_depth_limit(decisions, admin):
    cycle = """
name: cycle
channel: web
audience_levels: [{name: Visitor}]
attributes: [{name: hops, type: int, default: 0}]
events: [{name: ping}, {name: pong}]
settings: {max_trigger_depth: 5}
rules:
  - {id: ping-pong, on: [ping], then: [{expression: {expression: hops + 1, assign_to: hops}}, {trigger_events: {events: [pong]}}]}
  - {id: pong-ping, on: [pong], then: [{trigger_events: {events: [ping]}}]}
"""
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=cycle)))
    decisions.StartSession(start("loop"))
    response = decisions.PostEvent(event("loop", "ping"))
    assert [a.code for a in response.advisories] == ["trigger_depth"]
    assert attributes(get(decisions, "loop"))["hops"] == 3  # ping at depths 0, 2, 4
