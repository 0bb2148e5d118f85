"""Memory in the ruleset: windowed functions, patterns, audience ids and per-customer caps are checked at
their path, with every error at once."""

from __future__ import annotations

import pytest

from segflow.rules import CompileError
from segflow.rules.ruleset import load_and_compile
from segflow.rules.unparse import sql
from tests.service.memory_ruleset import MEMORY_RULESET


def errors(text: str) -> dict[str, str]:
    with pytest.raises(CompileError) as caught:
        load_and_compile(text)
    return {e.path: e.message for e in caught.value.errors}


def test_the_memory_ruleset_compiles_with_what_it_remembers():
    compiled = load_and_compile(MEMORY_RULESET)
    assert compiled.profile_attributes == ("favourite", "tier", "seen_at", "member_since", "spent")
    assert compiled.remembered_events == {"purchase", "view"}  # windowed functions and patterns name them
    assert set(compiled.patterns) == {"regular", "browser_and_buyer", "quick_buyer", "big_fan"}
    assert compiled.offer_memory["CAPPED"].per_days == 7
    assert compiled.offer_memory["ONCE"].suppress_seconds == 30 * 86400
    chart = compiled.flowcharts_for("Customer")[0].segments
    assert "EVENT_COUNT('purchase', INTERVAL '30' DAY) >= 2" in [sql(root) for root in chart.roots]
    assert "EVENT_SUM('purchase', 'amount', INTERVAL '1' WEEK) > 100" in [sql(root) for root in chart.roots]


def test_windows_in_minutes_and_hours_compile_and_read_back_in_their_largest_unit():
    text = MEMORY_RULESET.replace("INTERVAL '30' DAY) >= 2", "INTERVAL '90' MINUTE) >= 2").replace(
        "INTERVAL '1' WEEK", "INTERVAL '120' MINUTE").replace("count: 3, window: 30d", "count: 3, window: 6h")
    compiled = load_and_compile(text)
    assert compiled.patterns["regular"].window_seconds == 6 * 3600
    chart = compiled.flowcharts_for("Customer")[0].segments
    texts = [sql(root) for root in chart.roots]
    assert "EVENT_COUNT('purchase', INTERVAL '90' MINUTE) >= 2" in texts
    assert "EVENT_SUM('purchase', 'amount', INTERVAL '2' HOUR) > 100" in texts


@pytest.mark.parametrize("condition, message", [
    ("EVENT_COUNT('purchase', INTERVAL '30' SECOND) > 0", "a window is INTERVAL 'n' MINUTE, HOUR, DAY or WEEK"),
    ("EVENT_COUNT('purchase', INTERVAL '0' MINUTE) > 0", "1 minute to 400 days"),
    ("EVENT_COUNT('purchase', INTERVAL '401' DAY) > 0", "1 minute to 400 days"),
    ("EVENT_SUM('purchase', 'amount') > 0", "EVENT_SUM needs a window"),
    ("PATTERN_MET('regulr')", "unknown pattern 'regulr'"),
    ("audience.customer_ud = 'x'", "unknown audience id field 'customer_ud'"),
])
def test_bad_memory_expressions_are_refused_at_their_path(condition, message):
    text = MEMORY_RULESET.replace('if: "TRUE"', "").replace(
        "  - id: join\n    on: [join]\n", f"  - id: join\n    on: [join]\n    if: \"{condition}\"\n")
    found = errors(text)
    assert message in found["rules[1].if"]


def test_bad_patterns_and_caps_are_refused_at_their_path():
    text = MEMORY_RULESET.replace("count: 3, window: 30d", "count: 0, window: 90s").replace(
        "per: 7d", "per: 12h").replace("kind: all_of, events: [{event: view}, {event: purchase}], window: 7d",
                                       "kind: all_of, events: [{event: viewed}], window: 7d, "
                                       "starts_at: '2026-01-01T00:00:00Z'").replace(
        'on: ["pattern:regular"]', 'on: ["pattern:regulars"]')
    found = errors(text)
    assert "count above 0" in found["patterns[0].count"]
    assert "whole minutes" in found["patterns[0].window"]
    assert "unknown event 'viewed'" in found["patterns[1].events[0].event"]
    assert "either a rolling window" in found["patterns[1]"]
    assert "whole days" in found["offers[0].per"]
    assert "unknown event 'pattern:regulars'" in found["rules[4].on[0]"]


def test_only_the_patterns_a_rule_or_journey_listens_to_are_checked_around_their_events():
    compiled = load_and_compile(MEMORY_RULESET)
    fired = {event: [p.name for p in patterns] for event, patterns in compiled.fired_patterns_by_event.items()}
    assert fired == {"purchase": ["regular", "quick_buyer"]}  # browser_and_buyer and big_fan fire nothing
    assert set(compiled.patterns_by_event) == {"view", "purchase"}
    journey = MEMORY_RULESET.replace("\nflowcharts:\n", '\njourneys: [{name: fans, start_on: ["pattern:big_fan"]}]'
                                                     "\nflowcharts:\n")
    fired = {event: [p.name for p in patterns]
             for event, patterns in load_and_compile(journey).fired_patterns_by_event.items()}
    assert fired == {"purchase": ["regular", "quick_buyer", "big_fan"], "view": ["big_fan"]}
