"""Whole rulesets: YAML read with positions, every reference checked, all errors at once, warnings apart."""

from __future__ import annotations

import pytest

from segflow.rules import CompileError
from segflow.rules.ruleset import load_and_compile, ruleset_digest
from segflow.rules.ruleset_yaml import load_ruleset_yaml

BASE = """\
name: t
channel: web
audience_levels: [{name: Visitor}]
attributes:
  - {name: cart_total, type: double, default: 0.0}
  - {name: tags, type: list, default: [a, b]}
  - {name: seen, type: timestamp, default: 2026-01-01T00:00:00Z}
events:
  - {name: add_to_cart, parameters: [{name: price, type: double, required: true}]}
  - {name: click, interaction: true}
flowcharts:
  - name: value
    segments:
      - {name: big, when: cart_total >= 500}
interaction_points: [{name: banner}]
offers: [{code: O1, attributes: {discount: 10, label: ten}}]
treatment_rules: [{id: t1, segment: big, interaction_point: banner, offer: O1, score: "1"}]
journeys: [{name: j, start_on: [add_to_cart], continue_on: [click]}]
rules:
"""


def compile_with(rules: str, base: str = BASE):
    return load_and_compile(base + rules)


def errors_of(rules: str, base: str = BASE) -> list:
    with pytest.raises(CompileError) as caught:
        compile_with(rules, base)
    return caught.value.errors


def test_friendly_yaml_becomes_typed_values():
    loaded = load_ruleset_yaml(BASE + "  - {id: r, on: add_to_cart, then: [{resegment: {}}]}\n")
    assert not loaded.errors
    ruleset = loaded.ruleset
    assert ruleset.attributes[1].default_value.list_value.values[1].string_value == "b"
    assert ruleset.attributes[2].default_value.timestamp_value.seconds == 1767225600
    assert ruleset.offers[0].attributes["discount"].int_value == 10
    assert list(ruleset.rules[0].on) == ["add_to_cart"]  # a single name where a list is expected
    assert loaded.positions["rules[0]"] == (20, 5)


def test_every_error_comes_at_once_with_its_position_and_a_suggestion():
    errors = errors_of("""\
  - id: r1
    on: [add_to_cat]
    if: cart_totl > 1
    then:
      - expression: {expression: "1", assign_to: cart_totals}
      - log_data: {table: "bad table", columns: {x: "1"}}
  - id: r1
    on: [add_to_cart]
    then: [{journey_stop: {journey: jj}}]
""")
    found = {(e.code, e.path): e for e in errors}
    assert found[("unknown_name", "rules[0].on[0]")].suggestion == "add_to_cart"
    assert found[("unknown_name", "rules[0].on[0]")].line == 21
    condition = found[("unknown_name", "rules[0].if")]
    assert (condition.line, condition.column, condition.suggestion) == (22, 9, "cart_total")
    assert found[("unknown_name", "rules[0].then[0].expression.assign_to")].suggestion == "cart_total"
    assert ("invalid", "rules[0].then[1].log_data.table") in found
    assert ("duplicate", "rules[1].id") in found
    assert found[("unknown_name", "rules[1].then[0].journey_stop.journey")].suggestion == "j"


def test_yaml_mistakes_are_reported_with_suggestions():
    loaded = load_ruleset_yaml("name: t\nchanel: web\nrules: [{id: r, then: [{resegment: {}, notify: {topic: x}}]}]\n"
                               "attributes: [{name: a, type: integr}]\n")
    messages = {e.path: e for e in loaded.errors}
    assert messages["chanel"].suggestion == "channel" and messages["chanel"].line == 2
    assert messages["rules[0].then[0].notify"].code == "oneof"
    assert messages["attributes[0].type"].suggestion == "int"


def test_defaults_must_fit_their_declared_type():
    base = BASE.replace('{name: cart_total, type: double, default: 0.0}', '{name: cart_total, type: double, default: "0"}')
    [error] = errors_of("  - {id: r, on: [add_to_cart], then: [{resegment: {}}]}\n", base)
    assert error.path == "attributes[0].default" and "a str value, not double" in error.message


def test_interaction_events_may_only_continue_journeys():
    base = BASE.replace("continue_on: [click]", "start_on: [click]").replace("start_on: [add_to_cart], ", "")
    [error] = errors_of("  - {id: r, on: [add_to_cart], then: [{resegment: {}}]}\n", base)
    assert error.code == "interaction_trigger" and error.path == "journeys[0].start_on[0]"


def test_treatment_rules_must_name_known_segments_points_and_offers():
    base = BASE.replace("segment: big, interaction_point: banner, offer: O1", "segment: bigg, interaction_point: x, offer: O2")
    errors = errors_of("  - {id: r, on: [add_to_cart], then: [{resegment: {}}]}\n", base)
    assert {e.path for e in errors} == {"treatment_rules[0].segment", "treatment_rules[0].interaction_point",
                                       "treatment_rules[0].offer"}


def test_warnings_are_apart_from_errors():
    compiled = compile_with("""\
  - {id: never, on: [add_to_cart], if: "1 = 2", then: [{resegment: {}}]}
  - {id: off, on: [add_to_cart], disabled: true, then: [{resegment: {}}]}
""", BASE.replace("segments:\n      - {name: big, when: cart_total >= 500}",
                  "segments:\n      - {name: big, when: cart_total >= 500}\n      - {name: lonely, when: 'TRUE'}"))
    warnings = {(w.code, w.path) for w in compiled.warnings}
    assert warnings == {("unreachable_rule", "rules[0].if"), ("unreachable_rule", "rules[1]"),
                        ("unused_segment", "flowcharts[0].segments[1]")}


def test_rules_run_in_priority_then_file_order_and_only_for_their_events():
    compiled = compile_with("""\
  - {id: second, on: [add_to_cart], priority: 5, then: [{resegment: {}}]}
  - {id: first, on: [add_to_cart], priority: 1, then: [{resegment: {}}]}
  - {id: also-second, on: [add_to_cart], priority: 5, then: [{resegment: {}}]}
  - {id: clicks, on: [click], then: [{resegment: {}}]}
""")
    assert [rule_id for rule_id, _ in compiled.rules_for("add_to_cart")] == ["first", "second", "also-second"]
    assert [rule_id for rule_id, _ in compiled.rules_for("click")] == ["clicks"]
    assert compiled.rules_for("nothing") == ()


def test_triggered_events_may_have_rules_without_being_declared():
    compiled = compile_with("""\
  - {id: a, on: [add_to_cart], then: [{trigger_events: {events: [internal_check]}}]}
  - {id: b, on: [internal_check], if: event.anything IS NULL, then: [{resegment: {}}]}
""")
    assert [rule_id for rule_id, _ in compiled.rules_for("internal_check")] == ["b"]


def test_the_digest_depends_on_content_not_on_spelling():
    rules = "  - {id: r, on: [add_to_cart], then: [{resegment: {}}]}\n"
    respelt = "  - id: r\n    on: add_to_cart\n    then:\n      - resegment: {}\n"
    assert compile_with(rules).digest == compile_with(respelt).digest
    assert compile_with(rules).digest != compile_with(rules.replace("id: r", "id: s")).digest
    assert compile_with(rules).digest == ruleset_digest(compile_with(rules).ruleset)


def test_regression_a_non_boolean_if_is_refused_like_a_segment_when():
    [error] = errors_of("""\
  - id: r
    on: [add_to_cart]
    if: cart_total
    then: [{resegment: {}}]
""")
    assert error.path == "rules[0].if" and "must be a boolean" in error.message and (error.line, error.column) == (22, 9)


def test_regression_a_non_boolean_treatment_eligibility_is_refused():
    base = BASE.replace('score: "1"}', 'score: "1", eligibility: "cart_total + 1"}')
    [error] = errors_of("  - {id: r, on: [add_to_cart], then: [{resegment: {}}]}\n", base)
    assert error.path == "treatment_rules[0].eligibility" and "condition" in error.message


def test_response_type_is_an_expression_and_a_bare_word_is_still_its_text():
    compiled = compile_with("""\
  - id: r
    on: [add_to_cart]
    then:
      - log_acceptance: {response_type: "CASE WHEN event.price > 100 THEN 'big' ELSE 'small' END"}
      - log_rejection: {response_type: dismiss}
""")
    [accept, reject] = compiled.rules_for("add_to_cart")[0][1].then
    assert accept.expressions["response_type"].sql.startswith("CASE WHEN")
    assert reject.expressions["response_type"].sql == "'dismiss'"
    [warning] = [w for w in compiled.warnings if w.code == "deprecated"]
    assert warning.path == "rules[0].then[1].log_rejection.response_type" and "'dismiss'" in warning.message


def test_response_type_naming_nothing_known_in_an_expression_is_an_error():
    [error] = errors_of("""\
  - id: r
    on: [add_to_cart]
    then: [{log_acceptance: {response_type: "event.kind || 'x'"}}]
""")
    assert error.path == "rules[0].then[0].log_acceptance.response_type" and error.code == "unknown_name"
