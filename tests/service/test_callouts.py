"""EXTERNALCALLOUT through the running service: plugins, a remote CalloutService in another process,
timeouts with defaults, the cache, arity errors at validate time, and isolation from other sessions."""

from __future__ import annotations

import threading
import time

import pytest
from segflow.v1 import action_pb2, ruleset_service_pb2 as admin_pb

from tests.callouts.helpers import example_server
from tests.service.calls import event, start

RULESET = """
name: callouts
channel: web
audience_levels: [{name: Visitor}]
attributes: [{name: cart_total, type: double, default: 0.0}]
events:
  - {name: check_stock, parameters: [{name: sku, type: string, required: true}]}
  - {name: browse}
rules:
  - id: low-stock
    on: [check_stock]
    if: EXTERNALCALLOUT('stock_level', event.sku) < 5
    then: [{notify: {topic: stock, message: "'low stock of ' || event.sku"}}]
    else: [{notify: {topic: stock, message: "'plenty of ' || event.sku"}}]
  - id: browse
    on: [browse]
    then: [{expression: {expression: "cart_total + 1", assign_to: cart_total}}]
callouts:
  - {name: stock_level, arity: 1, target: "TARGET", timeout: 300ms, default: -1, cache_ttl: 60s}
"""


@pytest.fixture(scope="module")
def stock_server():
    yield from example_server()


@pytest.fixture(scope="module")
def slow_stock_server():
    yield from example_server("--delay-ms", "2000", "--slow", "stock_level")


def deploy(admin, target: str, ruleset: str = RULESET) -> None:
    source = admin_pb.RulesetSource(yaml=ruleset.replace("TARGET", target))
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=source, author="test"))


def notify_message(response) -> str:
    [action] = [a for a in response.actions if a.type == action_pb2.ACTION_TYPE_NOTIFY]
    return action.notify.message


def test_plugin_callout_places_visitors_in_a_segment(decisions):
    decisions.StartSession(start("buyer"))
    response = decisions.PostEvent(event("buyer", "add_to_cart", sku="TV", price=400.0))
    assert "likely_buyers" in response.segments_entered  # propensity(400, 0) = 0.9933


def test_remote_callout_in_another_process_and_its_cache(decisions, admin, service, stock_server):
    deploy(admin, stock_server)
    decisions.StartSession(start("stock"))
    first = decisions.PostEvent(event("stock", "check_stock", sku="TV-55"))
    second = decisions.PostEvent(event("stock", "check_stock", sku="TV-55"))
    assert notify_message(first) == notify_message(second)
    assert not first.advisories
    stats = service.registry.current().callouts.stats()["stock_level"]
    assert (stats["miss"], stats["hit"]) == (1, 1)  # the second call was not sent


def test_a_timeout_uses_the_default_and_says_so(decisions, admin, slow_stock_server):
    deploy(admin, slow_stock_server)
    decisions.StartSession(start("slow"))
    began = time.monotonic()
    response = decisions.PostEvent(event("slow", "check_stock", sku="TV-55"))
    assert time.monotonic() - began < 1.5  # bounded by the 300 ms timeout, not the 2 s answer
    assert notify_message(response) == "low stock of TV-55"  # default -1 < 5
    assert [a.code for a in response.advisories] == ["callout_timeout"]


def test_a_slow_callout_does_not_delay_another_sessions_events(decisions, admin, slow_stock_server):
    deploy(admin, slow_stock_server)
    decisions.StartSession(start("waits"))
    decisions.StartSession(start("other"))
    stop = threading.Event()

    def keep_calling_the_slow_callout():
        i = 0
        while not stop.is_set():
            i += 1
            decisions.PostEvent(event("waits", "check_stock", sku=f"SKU-{i}"))  # a new sku: never cached

    callers = [threading.Thread(target=keep_calling_the_slow_callout) for _ in range(4)]
    for caller in callers:
        caller.start()
    try:
        time.sleep(0.3)
        latencies = []
        for _ in range(20):
            began = time.monotonic()
            decisions.PostEvent(event("other", "browse"))
            latencies.append(time.monotonic() - began)
    finally:
        stop.set()
        for caller in callers:
            caller.join()
    # Each slow call holds its own session for its 300 ms timeout; the other session never waits for it.
    assert max(latencies) < 0.25, latencies


def test_arity_and_unknown_callouts_are_validate_errors(admin):
    bad = RULESET.replace("EXTERNALCALLOUT('stock_level', event.sku)", "EXTERNALCALLOUT('stock_level', event.sku, 2)")
    bad = bad.replace("target: \"TARGET\"", "plugin: propensty")
    response = admin.ValidateRuleset(admin_pb.ValidateRulesetRequest(source=admin_pb.RulesetSource(yaml=bad)))
    assert not response.valid
    by_code = {e.code: e for e in response.errors}
    arity = by_code["arity"]
    assert (arity.path, arity.line, arity.column, arity.expression_column) == ("rules[0].if", 12, 25, 17)
    plugin = by_code["callout"]
    assert plugin.path == "callouts[0].plugin" and plugin.line == 19
    assert "did you mean 'propensity'" in plugin.message


def test_explain_shows_each_callout_and_its_outcome(decisions, admin, stock_server):
    deploy(admin, stock_server)
    decisions.StartSession(start("traced"))
    for expected in ("miss", "hit"):
        request = event("traced", "check_stock", sku="TV-32")
        request.explain = True
        [call] = decisions.PostEvent(request).trace.callouts
        assert (call.name, call.arguments[0].string_value, call.outcome) == ("stock_level", "TV-32", expected)
        assert call.value.WhichOneof("kind") == "int_value"


def test_a_value_of_an_unexpected_type_fails_one_rule_not_the_call(decisions, admin, stock_server):
    # stock_level answers a number; comparing it with text fails at run time, in that rule only
    deploy(admin, stock_server, RULESET.replace("EXTERNALCALLOUT('stock_level', event.sku) < 5",
                                                "EXTERNALCALLOUT('stock_level', event.sku) < 'five'"))
    decisions.StartSession(start("typed"))
    response = decisions.PostEvent(event("typed", "check_stock", sku="TV-55"))
    assert not response.actions
    [advice] = response.advisories
    assert advice.code == "evaluation_error" and advice.rule_id == "low-stock"
    assert decisions.PostEvent(event("typed", "browse")).actions  # the session carries on


def test_a_failing_action_is_errored_and_a_failing_flowchart_keeps_its_memberships(decisions, admin, stock_server):
    failing = "CASE WHEN EXTERNALCALLOUT('stock_level', 'X') < 'five' THEN 'low' ELSE 'ok' END"
    ruleset = RULESET.replace("then: [{expression: {expression: \"cart_total + 1\", assign_to: cart_total}}]",
                              f"then: [{{notify: {{topic: t, message: \"{failing}\"}}}}, {{resegment: {{}}}}]")
    ruleset += """flowcharts:
  - name: f
    audience_level: Visitor
    segments:
      - {name: everyone, when: "TRUE"}
      - {name: broken, when: "EXTERNALCALLOUT('stock_level', 'X') < 'five'"}
"""
    deploy(admin, stock_server, ruleset)
    started = decisions.StartSession(start("partial"))
    assert started.segments_entered == [] and started.advisories[0].code == "evaluation_error"
    response = decisions.PostEvent(event("partial", "browse"))
    notify, resegment = response.actions
    assert notify.state == action_pb2.ACTION_STATE_ERRORED and notify.error_code == "evaluation_error"
    assert resegment.state == action_pb2.ACTION_STATE_FIRED  # the rule went on after the failed action
