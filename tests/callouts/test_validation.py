"""validate_definitions: every problem of the callout definitions, each at its path."""

import pytest

from segflow.server.callouts import CalloutRegistry, InvalidCallouts, Problem, validate_definitions
from segflow.server.callouts.examples import PropensityPlugin

from .helpers import definition

PLUGINS = {"propensity": PropensityPlugin, "not_a_plugin": dict}


def _problems(*defs):
    return validate_definitions(defs, PLUGINS)


def test_good_definitions_have_no_problems():
    assert _problems(
        definition("propensity", plugin="propensity", arity=2, timeout=0.05, cache_ttl=0, breaker_reset=5),
        definition("stock_level", target="localhost:50061"),
        definition("credit_score", target="dns:///scores.internal:443"),
    ) == []


def test_arity_mismatch_with_the_plugin_is_reported_at_arity():
    assert _problems(definition("p", plugin="propensity", arity=3)) == [
        Problem("callouts[0].arity", "callout 'p' declares 3 arguments but plugin 'propensity' takes 2")
    ]


@pytest.mark.parametrize(
    ("callout", "path", "message"),
    [
        (definition("p", plugin="propensty", arity=2), "callouts[1].plugin", "did you mean 'propensity'"),
        (definition("p", plugin="zzz", arity=2), "callouts[1].plugin", "installed: not_a_plugin, propensity"),
        (definition("p", plugin="not_a_plugin"), "callouts[1].plugin", "unusable"),
        (definition("p"), "callouts[1]", "either a plugin or a target"),
        (definition("p", target="no port"), "callouts[1].target", "not host:port"),
        (definition("p", target="host:99999"), "callouts[1].target", "not host:port"),
        (definition("", target="h:1"), "callouts[1].name", "needs a name"),
        (definition("ok", target="h:1"), "callouts[1].name", "defined twice"),
        (definition("p", target="h:1", arity=-1), "callouts[1].arity", "negative"),
        (definition("p", target="h:1", timeout=0), "callouts[1].timeout", "above 0s"),
        (definition("p", target="h:1", timeout=61), "callouts[1].timeout", "at most 60s"),
        (definition("p", target="h:1", cache_ttl=-1), "callouts[1].cache_ttl", "negative"),
        (definition("p", target="h:1", breaker_reset=0), "callouts[1].breaker_reset", "above 0s"),
        (definition("p", target="h:1", max_concurrency=-2), "callouts[1].max_concurrency", "negative"),
        (definition("p", target="h:1", breaker_failures=-1), "callouts[1].breaker_failures", "negative"),
    ],
)
def test_each_problem_is_reported_at_its_path(callout, path, message):
    problems = _problems(definition("ok", target="h:1"), callout)
    assert [p.path for p in problems] == [path]
    assert message in problems[0].message


def test_all_problems_are_collected_and_the_registry_refuses_them():
    defs = [definition("a", plugin="nope"), definition("b", target="h:1", timeout=0)]
    with pytest.raises(InvalidCallouts) as raised:
        CalloutRegistry.from_definitions(defs, plugins=PLUGINS)
    assert [p.path for p in raised.value.problems] == ["callouts[0].plugin", "callouts[1].timeout"]
