"""Ruleset attacks over a real channel: each is refused by ValidateRuleset and DeployRuleset with its diagnostics
(INVALID_ARGUMENT on deploy), within a deadline, and the running version keeps serving."""

from __future__ import annotations

import grpc
import pytest
from segflow.v1 import ruleset_pb2, ruleset_service_pb2 as pb

from segflow.rules.ruleset import MAX_LIST_ITEMS, MAX_OTHER_LIST_ITEMS, MAX_TRIGGER_DEPTH
from segflow.rules.ruleset_yaml import MAX_DEPTH
from segflow.rules.parse import MAX_CHARS
from segflow.server.examples import EXAMPLE_RULESET
from tests.service.calls import event, rpc_error, start
from tests.service.conftest import admin, channel, clock, config, decisions, service  # noqa: F401 (fixtures)

DEADLINE = 30.0  # seconds; an attack that is not refused by then has stalled the server
CONDITION = "if: cart_total >= 500 AND NOT vip"


def _alias_bomb(levels: int = 9) -> str:
    """~1 KB of YAML anchors in attribute defaults standing for 10**levels values (issue 11.2)."""
    defaults = ["&x0 [a, a, a, a, a, a, a, a, a, a]"]
    defaults += [f"&x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]" for i in range(1, levels)]
    attributes = "".join(f"  - {{name: pad{i}, type: list, default: {d}}}\n" for i, d in enumerate(defaults))
    return EXAMPLE_RULESET.replace("  - {name: viewed_categories, type: list, default: []}\n",
                                   attributes + f"  - {{name: viewed_categories, type: list, default: *x{levels - 1}}}\n", 1)


def _rules_message(count: int) -> ruleset_pb2.Ruleset:
    message = ruleset_pb2.Ruleset(name="many", channel="web")
    message.events.add(name="login")
    for i in range(count):
        message.rules.add(id=f"r{i}", on=["login"]).then_actions.add().resegment.SetInParent()
    return message


def _huge_default() -> ruleset_pb2.Ruleset:
    message = ruleset_pb2.Ruleset(name="huge", channel="web")
    values = message.attributes.add(name="tags", type=6).default_value.list_value.values
    for i in range(MAX_OTHER_LIST_ITEMS + 1):
        values.add(string_value=f"tag{i}")
    return message


def _huge_offer() -> ruleset_pb2.Ruleset:
    message = ruleset_pb2.Ruleset(name="huge", channel="web")
    attributes = message.offers.add(code="O1").attributes
    for i in range(MAX_OTHER_LIST_ITEMS + 1):
        attributes[f"k{i}"].int_value = i
    return message


def _condition(text: str) -> str:
    return EXAMPLE_RULESET.replace(CONDITION, f"if: {text}", 1)


# (attack, source, an error code it must be refused with)
ATTACKS = [
    ("alias_bomb", pb.RulesetSource(yaml=_alias_bomb()), "alias"),
    ("huge_list_default", pb.RulesetSource(ruleset=_huge_default()), "too_large"),
    ("huge_yaml_list_default", pb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "default: []", "default: [" + ", ".join(["x"] * (MAX_OTHER_LIST_ITEMS + 1)) + "]", 1)), "too_large"),
    ("huge_offer_attributes", pb.RulesetSource(ruleset=_huge_offer()), "too_large"),
    ("deep_yaml_nesting", pb.RulesetSource(yaml=EXAMPLE_RULESET + "\ndescription: " + "[" * (MAX_DEPTH * 20)
                                           + "]" * (MAX_DEPTH * 20) + "\n"), "too_deep"),
    ("deep_expression_nesting", pb.RulesetSource(yaml=_condition("'" + "(" * 500 + "vip" + ")" * 500 + "'")),
     "too_deep"),
    ("long_expression", pb.RulesetSource(yaml=_condition("'" + " OR ".join(["vip"] * (MAX_CHARS // 6)) + "'")),
     "too_large"),
    ("too_many_rules", pb.RulesetSource(ruleset=_rules_message(MAX_LIST_ITEMS["rules"] + 1)), "too_large"),
    ("nul_in_an_expression", pb.RulesetSource(yaml=_condition('"vip = (\'a\\0\' = \'a\')"')), "syntax"),
    ("nul_in_yaml", pb.RulesetSource(yaml=EXAMPLE_RULESET + "\ndescription: a\x00b\n"), "syntax"),
    ("int_past_int64", pb.RulesetSource(yaml=_condition("cart_items > 99999999999999999999")), "literal"),
    ("int_field_past_int32", pb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "max_trigger_depth: 4", "max_trigger_depth: 99999999999999999999", 1)), "type"),
    ("double_past_range", pb.RulesetSource(yaml=_condition("cart_total > 1e999")), "literal"),
    ("exponent_without_digits", pb.RulesetSource(yaml=_condition("cart_total > 1e")), "literal"),
    ("duration_1e30s", pb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "suppress_after_response: 30d", "suppress_after_response: 1e30s", 1)), "type"),
    ("duration_past_10000_years", pb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "suppress_after_response: 30d", "suppress_after_response: 99999999999999999999999d", 1)), "type"),
    ("trigger_depth_fan_out", pb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "max_trigger_depth: 4", f"max_trigger_depth: {MAX_TRIGGER_DEPTH * 64}", 1)), "invalid"),
    ("complex_yaml_key", pb.RulesetSource(yaml=EXAMPLE_RULESET + "\n? [a, b]\n: 1\n"), "type"),
    ("like_of_a_number", pb.RulesetSource(yaml=_condition("cart_items LIKE 'a%'")), "type"),
]


def _codes(errors) -> set[str]:
    return {e.code for e in errors}


@pytest.mark.parametrize("attack, source, code", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_a_ruleset_attack_is_refused_and_the_running_version_keeps_serving(decisions, admin, attack, source, code):
    before = admin.GetRuleset(pb.GetRulesetRequest()).version.version
    response = admin.ValidateRuleset(pb.ValidateRulesetRequest(source=source), timeout=DEADLINE)
    assert not response.valid and code in _codes(response.errors), [(e.code, e.message) for e in response.errors]
    assert all(e.message for e in response.errors)
    _, fields, reason = rpc_error(lambda: admin.DeployRuleset(pb.DeployRulesetRequest(source=source, author="fuzz"),
                                                              timeout=DEADLINE),
                                  code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "RULESET_INVALID" and fields
    assert admin.GetRuleset(pb.GetRulesetRequest()).version.version == before
    decisions.StartSession(start(f"after-{attack}"), timeout=DEADLINE)
    posted = decisions.PostEvent(event(f"after-{attack}", "add_to_cart", sku="A1", price=600.0), timeout=DEADLINE)
    assert posted.decision.ruleset_version == before
