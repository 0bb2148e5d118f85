"""Several channels served at once over a real channel: each its own ruleset, versions, rollbacks, simulations,
sessions and watched file; a call that does not say which channel, when there are several, is refused clearly."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from segflow.v1 import decision_service_pb2 as decision_pb, ruleset_service_pb2 as pb, session_pb2

from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.simulate import load_scenario
from tests.service.calls import event, offers, rpc_error, start
from tests.service.test_rulesets import wait_for

# A second channel: the example for an app, its big-cart rule renamed so a call shows which ruleset ran.
APP = (EXAMPLE_RULESET.replace("name: retail-web", "name: retail-app").replace("channel: web", "channel: app")
       .replace("id: big-cart-alert", "id: app-big-cart-alert").replace("home_banner", "app_home"))
WEB_V2 = EXAMPLE_RULESET.replace("id: big-cart-alert", "id: web-big-cart-alert-v2")
APP_BROKEN = APP.replace("if: cart_total >= 500 AND NOT vip", "if: cart_totl >= 500 AND NOT vip")


def deploy(admin, yaml: str) -> pb.RulesetVersion:
    return admin.DeployRuleset(pb.DeployRulesetRequest(source=pb.RulesetSource(yaml=yaml), author="tests")).version


def on(channel: str, session_id: str) -> decision_pb.StartSessionRequest:
    request = start(session_id)
    request.channel = channel
    return request


def big_cart(decisions, session_id: str) -> tuple[int, set[str]]:
    """(ruleset version, rule ids fired) of a big add_to_cart on a live session."""
    response = decisions.PostEvent(event(session_id, "add_to_cart", sku="TV", price=900.0))
    return response.decision.ruleset_version, {a.rule_id for a in response.actions}


@pytest.fixture
def two(service, admin):
    """The example on channel web (version 1) and APP on channel app (version 2)."""
    assert deploy(admin, APP).version == 2
    return service


def test_sessions_on_each_channel_evaluate_their_own_rules(two, decisions):
    web = decisions.StartSession(on("web", "w"))
    app = decisions.StartSession(on("app", "a"))
    assert (web.session.channel, web.session.ruleset_version) == ("web", 1)
    assert (app.session.channel, app.session.ruleset_version) == ("app", 2)
    version, fired = big_cart(decisions, "w")
    assert version == 1 and "big-cart-alert" in fired and "app-big-cart-alert" not in fired
    version, fired = big_cart(decisions, "a")
    assert version == 2 and "app-big-cart-alert" in fired and "big-cart-alert" not in fired
    assert decisions.GetOffers(offers("a", ("app_home", 1))).offer_lists[0].interaction_point == "app_home"
    _, fields, _ = rpc_error(decisions.GetOffers, offers("w", ("app_home", 1)), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "slots[0].interaction_point" in fields  # the web's ruleset has no such point


def test_a_call_that_names_no_channel_among_several_is_refused_with_the_channels(two, decisions, admin):
    message, fields, reason = rpc_error(decisions.StartSession, start("none"), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "CHANNEL_REQUIRED" and "'app', 'web'" in fields["channel"]
    _, fields, reason = rpc_error(decisions.StartSession, on("kiosk", "k"), code=grpc.StatusCode.NOT_FOUND)
    assert reason == "UNKNOWN_CHANNEL" and "'app', 'web'" in fields["channel"]
    _, _, reason = rpc_error(admin.GetRuleset, pb.GetRulesetRequest(), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "CHANNEL_REQUIRED"
    scenario = load_scenario("steps:\n  - start_session: {}\n")
    _, _, reason = rpc_error(admin.SimulateRuleset, pb.SimulateRulesetRequest(scenario=scenario),
                             code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "CHANNEL_REQUIRED"


def test_one_channel_alone_is_the_default_everywhere(service, decisions, admin):
    assert decisions.StartSession(start("only")).session.channel == "web"
    assert admin.GetRuleset(pb.GetRulesetRequest()).version.channel == "web"
    _, fields, reason = rpc_error(decisions.StartSession, on("app", "x"), code=grpc.StatusCode.NOT_FOUND)
    assert reason == "UNKNOWN_CHANNEL" and "serving 'web'" in fields["channel"]


def test_versions_get_and_list_per_channel(two, admin):
    assert admin.GetRuleset(pb.GetRulesetRequest(channel="app")).version.version == 2
    web = admin.GetRuleset(pb.GetRulesetRequest(channel="web"))
    assert (web.version.version, web.version.active, web.ruleset.channel) == (1, True, "web")
    listed = admin.ListRulesets(pb.ListRulesetsRequest()).versions
    assert [(v.version, v.channel, v.active) for v in listed] == [(2, "app", True), (1, "web", True)]
    assert [v.version for v in admin.ListRulesets(pb.ListRulesetsRequest(channel="web")).versions] == [1]
    _, fields, reason = rpc_error(admin.GetRuleset, pb.GetRulesetRequest(version=1, channel="app"),
                                  code=grpc.StatusCode.NOT_FOUND)
    assert reason == "VERSION_NOT_FOUND" and fields["version"] == "a version of channel 'web'"
    _, _, reason = rpc_error(admin.GetRuleset, pb.GetRulesetRequest(channel="kiosk"), code=grpc.StatusCode.NOT_FOUND)
    assert reason == "UNKNOWN_CHANNEL"


def test_deploy_and_rollback_of_one_channel_leave_the_other_and_its_sessions(two, decisions, admin):
    decisions.StartSession(on("app", "app-visit"))
    assert deploy(admin, WEB_V2).version == 3
    assert big_cart(decisions, "app-visit")[0] == 2  # the app's live session: still the app's version
    decisions.StartSession(on("web", "web-visit"))
    assert "web-big-cart-alert-v2" in big_cart(decisions, "web-visit")[1]

    rolled = admin.RollbackRuleset(pb.RollbackRulesetRequest(version=1, channel="web")).version
    assert (rolled.version, rolled.channel, rolled.active) == (4, "web", True)
    assert admin.GetRuleset(pb.GetRulesetRequest(channel="app")).version.version == 2
    version, fired = big_cart(decisions, "web-visit")
    assert version == 4 and "big-cart-alert" in fired
    assert big_cart(decisions, "app-visit")[0] == 2
    active = {v.channel: v.version for v in admin.ListRulesets(pb.ListRulesetsRequest()).versions if v.active}
    assert active == {"web": 4, "app": 2}

    _, fields, reason = rpc_error(admin.RollbackRuleset, pb.RollbackRulesetRequest(version=2, channel="web"),
                                  code=grpc.StatusCode.NOT_FOUND)
    assert reason == "VERSION_NOT_FOUND" and fields["version"] == "a version of channel 'app'"


def test_simulate_the_active_ruleset_of_a_named_channel(two, admin):
    scenario = load_scenario("""
steps:
  - start_session: {}
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 900.0}}}
    expect: {rules_fired: [app-big-cart-alert]}
""")
    assert admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario, channel="app")).passed
    assert not admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario, channel="web")).passed


def test_resuming_a_session_on_another_channel_is_refused(two, decisions):
    decisions.StartSession(on("web", "mine"))
    resume = on("app", "mine")
    resume.rely_on_existing_session = True
    _, _, reason = rpc_error(decisions.StartSession, resume, code=grpc.StatusCode.FAILED_PRECONDITION)
    assert reason == "SESSION_CHANNEL_MISMATCH"
    assert decisions.GetSession(decision_pb.GetSessionRequest(session_id="mine")).session.channel == "web"
    assert decisions.StartSession(on("app", "mine")).session.channel == "app"  # restarted on the app


def test_profiles_are_read_with_the_named_or_first_fitting_channel(two, decisions):
    audience = session_pb2.Audience(level="Customer")
    request = decision_pb.GetProfileRequest(audience=audience, channel="kiosk")
    _, _, reason = rpc_error(decisions.GetProfile, request, code=grpc.StatusCode.NOT_FOUND)
    assert reason == "UNKNOWN_CHANNEL"
    _, fields, _ = rpc_error(decisions.GetProfile, decision_pb.GetProfileRequest(audience=audience),
                             code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "audience.id_fields" in fields  # read with a channel's levels, not refused as ambiguous


# -- several files, each watched on its own ------------------------------------------------------

@pytest.fixture
def files(tmp_path):
    web, app = tmp_path / "web.yaml", tmp_path / "app.yaml"
    web.write_text(EXAMPLE_RULESET)
    app.write_text(APP)
    return web, app


def test_serve_several_files_each_watched_on_its_own(tmp_path, files, clock, caplog, monkeypatch):
    from segflow.server import watch

    web, app = files
    original = watch.RulesetWatcher.__init__
    monkeypatch.setattr(watch.RulesetWatcher, "__init__",
                        lambda self, *args, **kwargs: original(self, *args, **{**kwargs, "interval": 0.02}))
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=(web, app), watch=True,
                    grace_seconds=1)
    service = create_service(config, clock)
    try:
        versions = lambda: {c: a.version for c, a in service.registry.served().items()}  # noqa: E731
        assert versions() == {"web": 1, "app": 2}
        app.write_text(APP_BROKEN)
        assert wait_for(lambda: "does not compile" in caplog.text)
        assert f"{app}:" in caplog.text and versions() == {"web": 1, "app": 2}
        web.write_text(WEB_V2)
        assert wait_for(lambda: versions() == {"web": 3, "app": 2})
        app.write_text(WEB_V2.replace("id: web-big-cart-alert-v2", "id: stray"))  # app.yaml now says channel web
        assert wait_for(lambda: "names channel 'web', not 'app'" in caplog.text)
        assert versions() == {"web": 3, "app": 2}
        app.write_text(APP.replace("id: app-big-cart-alert", "id: app-big-cart-alert-v2"))
        assert wait_for(lambda: versions() == {"web": 3, "app": 4})
    finally:
        service.stop(grace=1)


def test_a_restart_with_several_files_serves_each_channel_and_undoes_no_rollback(tmp_path, files, clock):
    web, _ = files
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=files, watch=True, grace_seconds=1)

    def served_after_start(then=lambda service: None) -> dict[str, int]:
        service = create_service(config, clock)
        try:
            time.sleep(0.1)  # the watchers' first polls
            then(service)
            return {c: a.version for c, a in service.registry.served().items()}
        finally:
            service.stop(grace=1)

    assert served_after_start() == {"web": 1, "app": 2}
    web.write_text(WEB_V2)
    rolled_back = served_after_start(lambda service: service.registry.rollback(1, "ops", "web"))
    assert rolled_back == {"web": 4, "app": 2}  # the changed file was version 3, then web went back to 1
    assert served_after_start() == {"web": 4, "app": 2}  # web.yaml is version 3: neither loaded nor watched in


def test_two_files_for_one_channel_are_refused_at_start(tmp_path, files, clock):
    web, _ = files
    again = tmp_path / "again.yaml"
    again.write_text(WEB_V2)
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=(web, again), grace_seconds=1)
    with pytest.raises(ValueError, match="both serve channel 'web'"):
        create_service(config, clock)


def test_serve_takes_several_ruleset_files_from_flags_variable_and_config_file(tmp_path):
    import argparse
    import os

    from segflow.server import config as settings

    parser = argparse.ArgumentParser()
    settings.add_arguments(parser)
    assert settings.load(parser.parse_args(["--ruleset", "a.yaml", "b.yaml", "--ruleset", "c.yaml"]),
                         environ={}).ruleset == (Path("a.yaml"), Path("b.yaml"), Path("c.yaml"))
    assert settings.load(parser.parse_args([]), environ={"SEGFLOW_RULESET": f"a.yaml{os.pathsep}b.yaml"}
                         ).ruleset == (Path("a.yaml"), Path("b.yaml"))
    file = tmp_path / "segflow.yaml"
    file.write_text("ruleset: [a.yaml, b.yaml]\n")
    assert settings.load(parser.parse_args(["--config", str(file)]), environ={}).ruleset == (
        Path("a.yaml"), Path("b.yaml"))
    assert settings.load(parser.parse_args([]), environ={}).ruleset == ()
    assert Config(ruleset=Path("one.yaml")).ruleset == (Path("one.yaml"),)  # one file, as Config took it before


def test_metrics_have_a_version_series_per_channel(two):
    from prometheus_client import CollectorRegistry

    from segflow.server.metrics import ServiceCollector

    registry = CollectorRegistry()
    registry.register(ServiceCollector(two))
    assert registry.get_sample_value("segflow_rulesets_served") == 2
    assert registry.get_sample_value("segflow_ruleset_version", {"channel": "web"}) == 1
    assert registry.get_sample_value("segflow_ruleset_version", {"channel": "app"}) == 2
    assert registry.get_sample_value("segflow_callout_breaker_state", {"channel": "app", "callout": "propensity"}) == 0


# -- the lifecycle commands name the channel ----------------------------------------------------

def test_lifecycle_commands_take_a_channel(two, tmp_path, capsys):
    from segflow.server.cli import main

    target = ["--target", f"127.0.0.1:{two.port}"]
    app_v2 = tmp_path / "app-v2.yaml"
    app_v2.write_text(APP.replace("id: app-big-cart-alert", "id: app-big-cart-alert-v2"))
    assert main(["deploy", str(app_v2), "--channel", "web", *target]) == 1
    assert "is for channel 'app', not 'web'" in capsys.readouterr().err
    assert main(["deploy", str(app_v2), "--channel", "app", *target]) == 0
    assert "deployed as version 3 of channel 'app'" in capsys.readouterr().out

    assert main(["versions", "--channel", "app", *target]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row[:9].split() for row in rows] == [["*", "3"], ["2"]]
    assert main(["show", *target]) == 1
    assert "INVALID_ARGUMENT: channel: name the channel (serving 'app', 'web')" in capsys.readouterr().err
    assert main(["show", "--channel", "web", *target]) == 0
    assert capsys.readouterr().out.startswith("# version 1 of channel 'web' (active)")
    assert main(["show", "1", "--channel", "app", *target]) == 1
    assert "no ruleset version 1 of channel 'app'" in capsys.readouterr().err

    assert main(["diff", "2", "active", "--channel", "app", *target]) == 1
    assert "app-big-cart-alert-v2" in capsys.readouterr().out
    assert main(["diff", "active", "1", "--channel", "web", *target]) == 0
    capsys.readouterr()
    assert main(["rollback", "2", "--channel", "web", *target]) == 1
    assert "NOT_FOUND: no ruleset version 2 of channel 'web'" in capsys.readouterr().err
    assert main(["rollback", "2", "--channel", "app", *target]) == 0
    assert "rolled back: version 4 is active" in capsys.readouterr().out
    assert {c: a.version for c, a in two.registry.served().items()} == {"web": 1, "app": 4}
