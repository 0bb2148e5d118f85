"""Scenario features for rule authors: callout mocks, a fixed clock, several visits, every expectation kind
passing and failing with a readable message, and the coverage report."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime, timezone

import pytest
from segflow.rules.ruleset import load_and_compile
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.rulesets import start_callouts
from segflow.server.simulate import ScenarioError, load_scenario, merge_coverage, simulate

START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

# The example ruleset with its propensity callout served by a remote server that is down.
DOWN_CALLOUT = EXAMPLE_RULESET.replace("plugin: propensity", "target: 127.0.0.1:1")


@pytest.fixture(scope="module")
def compiled():
    return load_and_compile(EXAMPLE_RULESET)


def run(compiled, text: str):
    return simulate(compiled, load_scenario(text), clock=lambda: START)


def failures(result) -> list[str]:
    return [f for step in result.steps for f in step.failures]


def test_a_mocked_callout_is_never_called_and_says_so_in_the_trace():
    compiled = load_and_compile(DOWN_CALLOUT)
    result = run(compiled, """
name: mocked
mocks: {propensity: 0.9}
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
    expect: {segments: [likely_buyers]}
  - name: a step's mock overrides the scenario's, per argument
    mocks: {propensity: {value: 0.9, cases: [{arguments: [700.0, 1], value: 0.1}]}}
    post_event: {event: {name: page_view, parameters: {category: tv}}}
    expect: {not_segments: [likely_buyers]}
""")
    assert result.passed, failures(result)
    calls = [c for step in result.steps for c in step.trace.callouts]
    assert calls and {c.outcome for c in calls} == {"mock"}
    assert not [a for step in result.steps for a in step.result.post_event.advisories if a.code.startswith("callout")]


def test_an_unmocked_down_callout_uses_its_default_and_a_mock_of_an_unknown_callout_fails():
    compiled = load_and_compile(DOWN_CALLOUT)
    with closing(start_callouts(compiled.ruleset)) as callouts:
        result = simulate(compiled, load_scenario("""
name: not mocked
steps:
  - start_session: {}
    mocks: {propensty: 0.5}
    expect: {advisories: [callout_error]}
"""), clock=lambda: START, callouts=callouts)
    assert failures(result) == ["the ruleset has no callout 'propensty'; did you mean 'propensity'?"]


def test_attribute_expectations(compiled):
    passing = run(compiled, """
name: attributes
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
    expect: {attributes: {cart_total: 700.0, cart_items: 1, age: null}}
""")
    assert passing.passed, failures(passing)
    failing = run(compiled, """
name: attributes
steps:
  - start_session: {}
    expect: {attributes: {cart_total: 5.0, age: 3, cart_totl: 1}}
""")
    assert failures(failing) == ["the ruleset has no attribute 'cart_totl'; did you mean 'cart_total'?",
                                 "attributes: age is NULL, expected 3",
                                 "attributes: cart_total is 0.0, expected 5.0"]


def test_action_expectations_match_type_state_rule_and_a_subset_of_details(compiled):
    passing = run(compiled, """
name: actions
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
    expect:
      actions:
        - {type: notify, state: fired, rule_id: big-cart-alert, details: {topic: sales-desk}}
        - {type: journey_start, rule_id: "journey:cart_recovery", details: {journey: cart_recovery, step: 1}}
        - {type: log_data, details: {table: cart_adds, columns: {sku: TV, quantity: 1}}}
  - get_offers: {slots: [{interaction_point: checkout_upsell, count: 1}]}
    expect: {actions: [{type: offer, details: {offer_codes: [UPSELL_WARRANTY]}}]}
""")
    assert passing.passed, failures(passing)
    failing = run(compiled, """
name: actions
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
    expect: {actions: [{type: notify, details: {topic: sales-desk}}, {rule_id: big-cart-alrt}]}
""")
    [unknown_rule, no_notify, no_rule] = failures(failing)
    assert unknown_rule == "the ruleset has no rule 'big-cart-alrt'; did you mean 'big-cart-alert'?"
    assert no_notify.startswith("actions: none matched notify {'topic': 'sales-desk'} (fired: ")
    assert "user_expression fired by cart-update {'expression': " in no_notify
    assert no_rule.startswith("actions: none matched any by big-cart-alrt (fired: ")


def test_advisory_expectations(compiled):
    passing = run(compiled, """
name: advisories
steps:
  - start_session
  - post_event: {event: {name: no_such_event}}
    expect: {advisories: [unknown_event]}
""")
    assert passing.passed, failures(passing)
    failing = run(compiled, """
name: advisories
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
    expect: {advisories: [trigger_depth]}
""")
    assert failures(failing) == ["advisories: no trigger_depth (got: none)"]


def test_journey_expectations(compiled):
    passing = run(compiled, """
name: journeys
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
  - post_event: {event: {name: page_view, parameters: {category: tv}}}
    expect: {journeys: [{journey: cart_recovery, status: active, step: 2}]}
  - post_event: {event: {name: checkout}}
    expect: {journeys: [{journey: cart_recovery, status: stopped}]}
""")
    assert passing.passed, failures(passing)
    failing = run(compiled, """
name: journeys
steps:
  - start_session: {}
    expect: {journeys: [{journey: vip_welcome, status: active}, {journey: cart_recvery}]}
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
    expect: {journeys: [{journey: cart_recovery, status: stopped, step: 3}]}
""")
    assert failures(failing) == ["the ruleset has no journey 'cart_recvery'; did you mean 'cart_recovery'?",
                                 "journeys: vip_welcome was never started",
                                 "journeys: cart_recovery is active, expected stopped",
                                 "journeys: cart_recovery is at step 1, expected 3"]


def test_error_expectations(compiled):
    passing = run(compiled, """
name: errors
steps:
  - post_event: {event: {name: login}}
    expect: {error: {code: NOT_FOUND, reason: SESSION_NOT_FOUND}}
""")
    assert passing.passed, failures(passing)
    failing = run(compiled, """
name: errors
steps:
  - start_session: {}
    expect: {error: {code: NOT_FOUND}}
  - post_event: {event: {name: add_to_cart}}
    expect: {error: {code: INVALID_ARGUMENT, reason: UNKNOWN_EVENT}}
""")
    [succeeded, wrong] = failures(failing)
    assert succeeded == "error: expected NOT_FOUND, the step succeeded"
    assert wrong.startswith("error: expected INVALID_ARGUMENT (UNKNOWN_EVENT), got INVALID_ARGUMENT (")


def test_the_clock_is_fixed_set_by_at_and_moved_by_advance(compiled):
    result = run(compiled, """
name: clock
steps:
  - start_session: {}
    at: 2026-12-01T10:00:00Z
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
    advance: 10m
  - name: past the idle timeout the session has expired
    advance: 31m
    post_event: {event: {name: checkout}}
    expect: {error: {code: NOT_FOUND, reason: SESSION_NOT_FOUND}}
""")
    assert result.passed, failures(result)
    started = result.steps[0].result.start_session.session.started_at.ToDatetime(tzinfo=timezone.utc)
    assert started == datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    action = result.steps[1].result.post_event.actions[0]
    assert action.time.ToDatetime(tzinfo=timezone.utc) == datetime(2026, 12, 1, 10, 10, tzinfo=timezone.utc)


def test_a_bad_duration_is_a_scenario_error():
    with pytest.raises(ScenarioError, match=r"steps\[0\]: 'soon' is not a duration"):
        load_scenario("name: x\nsteps:\n  - start_session: {}\n    advance: soon\n")


def test_several_visits_of_one_customer(compiled):
    result = run(compiled, """
name: two visits
steps:
  - start_session: {audience: {level: Customer, id_fields: {customer_id: C-7}}}
  - post_event: {event: {name: login, parameters: {loyalty_tier: gold}}}
    expect: {segments: [loyal], attributes: {loyalty_tier: gold}}
  - end_session
  - name: the next visit starts a fresh session for the same customer
    advance: 1d
    start_session: {audience: {level: Customer, id_fields: {customer_id: C-7}}}
    expect: {attributes: {cart_total: 0.0}}
  - get_session: {}
    expect: {journeys: [{journey: vip_welcome, status: active}]}
""")
    assert result.passed, failures(result)
    assert not result.steps[3].result.start_session.resumed


def test_coverage_names_what_no_scenario_exercised(compiled):
    small = run(compiled, """
name: small
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: A, price: 7.0}}}
  - get_offers: {slots: [{interaction_point: home_banner, count: 1}]}
""")
    coverage = small.coverage
    assert "cart-update" not in coverage.rules_not_matched and "big-cart-alert" in coverage.rules_not_matched
    assert "shoppers" not in coverage.segments_never_entered and "loyal" in coverage.segments_never_entered
    assert "t-freeship-home" not in coverage.treatments_never_offered
    assert "t-warranty" in coverage.treatments_never_offered
    big = run(compiled, """
name: big
steps:
  - start_session
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
  - get_offers: {slots: [{interaction_point: checkout_upsell, count: 1}]}
""")
    merged = merge_coverage([coverage, big.coverage])
    assert "big-cart-alert" not in merged.rules_not_matched and "t-warranty" not in merged.treatments_never_offered
    assert "loyal" in merged.segments_never_entered
