"""A restart serves the active ruleset version from the compiled cache under --data-dir: no YAML read, nothing
compiled, the same decisions over a real channel."""

from __future__ import annotations

import builtins

import grpc
from segflow.v1 import decision_service_pb2_grpc, ruleset_service_pb2 as pb, ruleset_service_pb2_grpc

from segflow.rules import clear_cache
from segflow.rules import check as check_module
from segflow.rules import compile as compile_module
from segflow.server import rulesets as rulesets_module
from segflow.server.callouts import plugin as plugin_module
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from tests.service.calls import event, rpc_error, start

# The example with its big-cart rule renamed: another version to make active.
RENAMED = EXAMPLE_RULESET.replace("id: big-cart-alert", "id: big-cart-alert-v2")


def served_decision(config: Config, clock, session_id: str) -> tuple:
    """Start a server (as a new process would: nothing compiled in memory), post a big add_to_cart, stop."""
    clear_cache()
    service = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
            decisions.StartSession(start(session_id))
            response = decisions.PostEvent(event(session_id, "add_to_cart", sku="TV", price=900.0))
        return (response.decision.ruleset_version, sorted(a.rule_id for a in response.actions),
                sorted(response.segments_entered))
    finally:
        service.stop(grace=1)


def test_a_restart_serves_the_active_version_without_reading_or_compiling_it(tmp_path, clock, monkeypatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE_RULESET)
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=rules, grace_seconds=1)
    first = served_decision(config, clock, "before")
    assert list((tmp_path / "data" / "compiled").iterdir())

    work = []
    real_parse, real_yaml = check_module.parse, rulesets_module.load_ruleset_yaml
    monkeypatch.setattr(check_module, "parse", lambda *args: work.append("parse") or real_parse(*args))
    monkeypatch.setattr(compile_module, "compile", lambda *args, **kwargs: work.append("compile")
                        or builtins.compile(*args, **kwargs), raising=False)
    monkeypatch.setattr(rulesets_module, "load_ruleset_yaml", lambda *args: work.append("yaml") or real_yaml(*args))
    again = served_decision(config, clock, "after")
    assert again == first and again[1]  # the same version deciding the same, rules fired
    assert work == []


def test_regression_a_cold_start_reads_the_ruleset_file_once(tmp_path, clock, monkeypatch):
    """serve --ruleset read (and parsed) a file's YAML three times before compiling it: for its channel, for
    load_file and again for the deploy (~2.4 s each at 10,000 rules)."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE_RULESET)
    reads = []
    real_yaml = rulesets_module.load_ruleset_yaml
    monkeypatch.setattr(rulesets_module, "load_ruleset_yaml", lambda *args: reads.append(1) or real_yaml(*args))
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=rules, grace_seconds=1)
    decided = served_decision(config, clock, "cold")
    assert decided[0] == 1 and decided[1]  # deployed as version 1, deciding
    assert len(reads) == 1


def test_regression_a_deploy_from_the_compiled_cache_locates_a_missing_plugin(tmp_path, clock, monkeypatch):
    """A text found in the compiled cache is not read again, so a plugin uninstalled since it compiled was
    reported without its line and column; it is located as on a cold deploy."""
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", grace_seconds=1)
    service = create_service(config, clock)  # serves the example, which compiles it into the cache
    cold_text = EXAMPLE_RULESET + "# never compiled\n"
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)
            admin.DeployRuleset(pb.DeployRulesetRequest(source=pb.RulesetSource(yaml=RENAMED)))
            monkeypatch.setattr(plugin_module, "entry_points", lambda group: [])  # propensity uninstalled
            clear_cache()
            refusals = [rpc_error(admin.DeployRuleset, pb.DeployRulesetRequest(source=pb.RulesetSource(yaml=text)),
                                  code=grpc.StatusCode.INVALID_ARGUMENT)[1] for text in (EXAMPLE_RULESET, cold_text)]
    finally:
        service.stop(grace=1)
    cached, cold = refusals
    assert service.registry.cache.stats["hits"] >= 1
    assert "line 246, column 13" in cached["callouts[0].plugin"]  # `plugin: propensity` in the example
    assert cached == cold
