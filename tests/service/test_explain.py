"""Explain traces over a real channel: rules down to subexpressions, segments, and each offer step."""

from __future__ import annotations

from segflow.v1 import decision_service_pb2 as pb, trace_pb2

from segflow.rules.values import from_value
from tests.service.calls import event, offers, start


def test_no_trace_unless_asked(decisions):
    decisions.StartSession(start("quiet"))
    response = decisions.PostEvent(event("quiet", "login"))
    assert not response.HasField("trace")


def test_a_null_comparison_is_traced_down_to_the_attribute_read(decisions):
    decisions.StartSession(start("why"))
    request = event("why", "add_to_cart", sku="TV", price=10.0)
    request.explain = True
    trace = decisions.PostEvent(request).trace
    rules = {r.rule_id: r for r in trace.rules}
    assert set(rules) == {"cart-update", "big-cart-alert"}
    alert = rules["big-cart-alert"]
    assert not alert.matched and not alert.action_ids
    condition = alert.condition
    assert condition.expression == "cart_total >= 500 AND NOT vip"
    assert from_value(condition.value) is False
    comparison, negation = condition.operands
    assert comparison.expression == "cart_total >= 500" and from_value(comparison.reads["cart_total"]) == 10.0
    assert negation.skipped  # FALSE AND ... is decided: NOT vip is never evaluated
    assert rules["cart-update"].matched and len(rules["cart-update"].action_ids) == 4


def test_null_attributes_show_as_null_in_the_trace(decisions):
    decisions.StartSession(start("young"))  # age is unknown
    # Visitors have no age segment: identify the visitor, which runs the Customer flowcharts
    request = pb.SetAudienceRequest(session_id="young", explain=True)
    request.audience.level = "Customer"
    request.audience.id_fields["customer_id"].string_value = "c-1"
    segments = {(s.flowchart, s.segment): s for s in decisions.SetAudience(request).trace.segments}
    young = segments[("value", "young_adults")]
    assert young.change == trace_pb2.MEMBERSHIP_CHANGE_STAYED_OUT
    assert from_value(young.condition.value) is None  # NULL: age BETWEEN 18 AND 29 with age NULL
    assert "age" in young.condition.reads and from_value(young.condition.reads["age"]) is None
    assert segments[("value", "browsers")].change == trace_pb2.MEMBERSHIP_CHANGE_STAYED_IN


def test_each_offer_step_that_kept_or_dropped_a_candidate(decisions):
    decisions.StartSession(start("picky", last_category="electronics"))
    decisions.PostEvent(event("picky", "add_to_cart", sku="TV", price=600.0))
    request = offers("picky", ("home_banner", 1), ("cart_sidebar", 1))
    request.explain = True
    response = decisions.GetOffers(request)
    steps = {(o.interaction_point, o.offer_code, o.step, o.kept): o for o in response.trace.offers}
    tv_first = steps[("home_banner", "TV_BUNDLE", trace_pb2.OFFER_STEP_TOP_N, True)]
    assert tv_first.score == 30.0
    assert ("home_banner", "PAY_LATER", trace_pb2.OFFER_STEP_TOP_N, False) in steps  # only one asked for
    dropped = steps[("cart_sidebar", "TV_BUNDLE", trace_pb2.OFFER_STEP_DEDUPE, False)]
    assert "earlier interaction point" in dropped.reason
    assert [o.code for o in response.offer_lists[1].offers] == ["UPSELL_WARRANTY"]


def test_segments_of_another_audience_level_say_they_did_not_apply(decisions):
    decisions.StartSession(start("logged-in"))
    request = pb.SetAudienceRequest(session_id="logged-in", explain=True)
    request.audience.level = "Customer"
    request.audience.id_fields["customer_id"].string_value = "c-2"
    segments = decisions.SetAudience(request).trace.segments
    skipped = [s for s in segments if s.change == trace_pb2.MEMBERSHIP_CHANGE_NOT_APPLICABLE]
    assert {s.segment for s in skipped} >= {"browsers", "likely_buyers"}
    assert all("audience level Visitor; the session is Customer" in s.reason and not s.HasField("condition")
               for s in skipped)
    assert {s.segment for s in segments if s.change != trace_pb2.MEMBERSHIP_CHANGE_NOT_APPLICABLE} >= {"loyal"}
