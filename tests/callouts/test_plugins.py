"""In-process plugins: the interface, entry-point discovery, and the shipped propensity example."""

import threading
import time
from importlib.metadata import EntryPoint

import pytest

from segflow.server.callouts import ENTRY_POINT_GROUP, CalloutPlugin, CalloutRegistry, InstalledPlugins, PluginError
from segflow.server.callouts import plugin as plugin_module
from segflow.server.callouts.examples import PropensityPlugin
from segflow.server.callouts.plugin import check_plugin_class

from .helpers import Control, controlled_plugin, definition


def test_directly_registered_plugin_gets_config_args_and_audience_and_is_shut_down():
    control = Control()
    defs = [definition("tier", plugin="ctl", parameters={"region": "eu"})]
    with CalloutRegistry.from_definitions(defs, plugins={"ctl": controlled_plugin(control)}) as registry:
        assert control.config == {"region": "eu"}
        assert registry.arities() == {"tier": 1}
        assert registry.call_with_outcome("tier", ("gold",), audience="aud-1") == ("value:gold", "miss")
        assert control.audiences == ["aud-1"]
        assert control.shutdowns == 0
    assert control.shutdowns == 1


def test_propensity_through_the_registry():
    defs = [
        definition("propensity", plugin="propensity", arity=2, cache_ttl=0),
        definition("coin", plugin="propensity", arity=2, parameters={"intercept": "0", "cart_weight": "0"}),
    ]
    with CalloutRegistry.from_definitions(defs, plugins={"propensity": PropensityPlugin}) as registry:
        assert registry.call("propensity", (0.0, 0)) == 0.0474  # 1 / (1 + e**3)
        scores = [registry.call("propensity", (cart, 3)) for cart in (0, 50, 100, 400)]
        assert scores == sorted(scores) and scores[-1] > 0.99
        assert registry.call("propensity", (None, 3)) is None
        assert registry.call("coin", (1e9, 0)) == 0.5
        assert registry.call("propensity", (-1e6, 0)) == 0.0  # no overflow for extreme inputs


def test_bad_plugin_parameters_fail_the_build_and_shut_down_plugins_already_started():
    control = Control()
    defs = [
        definition("first", plugin="ctl"),
        definition("propensity", plugin="propensity", arity=2, parameters={"cart_weight": "heavy"}),
    ]
    with pytest.raises(ValueError, match="must be numbers"):
        plugins = {"propensity": PropensityPlugin, "ctl": controlled_plugin(control)}
        CalloutRegistry.from_definitions(defs, plugins=plugins)
    assert control.shutdowns == 1


def test_installed_plugins_load_entry_points_lazily(monkeypatch):
    points = [
        EntryPoint("propensity", "segflow.server.callouts.examples:PropensityPlugin", ENTRY_POINT_GROUP),
        EntryPoint("broken", "segflow.server.callouts.no_such_module:Plugin", ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(plugin_module, "entry_points", lambda group: [p for p in points if p.group == group])
    installed = InstalledPlugins()
    assert sorted(installed) == ["broken", "propensity"]
    assert installed["propensity"] is PropensityPlugin
    with pytest.raises(PluginError, match="no_such_module"):
        installed["broken"]
    with pytest.raises(KeyError):
        installed["missing"]


class _NoArity(CalloutPlugin):
    def get_value(self, audience, config, args):
        return None


class _BadArity(_NoArity):
    arity = "2"


class _BadBlocking(_NoArity):
    arity = 1
    blocking = "yes"


@pytest.mark.parametrize("cls", [object, _NoArity, _BadArity, _BadBlocking, PropensityPlugin.get_value])
def test_check_plugin_class_refuses_non_plugins(cls):
    with pytest.raises(PluginError):
        check_plugin_class(cls)


def test_check_plugin_class_returns_arity():
    assert check_plugin_class(PropensityPlugin) == 2


def test_a_plugin_that_does_not_block_runs_inline_on_the_calling_thread():
    control = Control()
    defs = [definition("tier", plugin="ctl", cache_ttl=60)]
    with CalloutRegistry.from_definitions(defs, plugins={"ctl": controlled_plugin(control, blocking=False)}) as registry:
        assert registry.call_with_outcome("tier", ("gold",)) == ("value:gold", "miss")
        assert registry.call_with_outcome("tier", ("gold",)) == ("value:gold", "hit")
        assert control.threads == [threading.current_thread().name]
        assert registry.stats()["tier"]["miss"] == 1 and registry.stats()["tier"]["hit"] == 1
    assert control.shutdowns == 1


def test_a_blocking_plugin_still_runs_on_its_own_pool():
    control = Control()
    defs = [definition("tier", plugin="ctl")]
    with CalloutRegistry.from_definitions(defs, plugins={"ctl": controlled_plugin(control, blocking=True)}) as registry:
        assert registry.call_with_outcome("tier", ("gold",)) == ("value:gold", "miss")
        assert [name.startswith("callout-tier") for name in control.threads] == [True]


def test_an_inline_call_that_overran_its_timeout_gets_the_default_and_counts_for_the_breaker():
    class Slow(CalloutPlugin):
        arity = 1

        def get_value(self, audience, config, args):
            time.sleep(0.05)
            return "late"

    defs = [definition("slow", plugin="slow", timeout=0.01, default="fallback", breaker_failures=2, cache_ttl=60)]
    with CalloutRegistry.from_definitions(defs, plugins={"slow": Slow}) as registry:
        assert registry.call_with_outcome("slow", ("a",)) == ("fallback", "timeout")
        assert registry.call_with_outcome("slow", ("a",)) == ("fallback", "timeout")  # a timeout is not cached
        assert registry.call_with_outcome("slow", ("a",)) == ("fallback", "breaker_open")


def test_an_inline_plugin_that_raises_gets_the_default_and_frees_its_slot():
    control = Control()
    control.fail = True
    defs = [definition("tier", plugin="ctl", default="fallback", max_concurrency=1)]
    with CalloutRegistry.from_definitions(defs, plugins={"ctl": controlled_plugin(control, blocking=False)}) as registry:
        assert registry.call_with_outcome("tier", ("a",)) == ("fallback", "error")
        control.fail = False
        assert registry.call_with_outcome("tier", ("b",)) == ("value:b", "miss")
