"""The ruleset lifecycle over a real channel: validate, deploy under load, rollback, list, simulate and watch."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import grpc
import pytest
from segflow.v1 import decision_service_pb2 as decision_pb, ruleset_service_pb2 as pb

from segflow.rules import cache_info
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.simulate import SCENARIO_SESSION, load_scenario
from segflow.server.watch import RulesetWatcher
from tests.service.calls import event, rpc_error, start

SCENARIOS = Path(__file__).parent.parent / "scenarios"
EXAMPLE_SCENARIO = Path(__file__).parent.parent.parent / "server" / "examples" / "retail_web.scenario.yaml"
# The example with its big-cart rule renamed: a changed ruleset whose effect a call can see.
RENAMED = EXAMPLE_RULESET.replace("id: big-cart-alert", "id: big-cart-alert-v2")
BROKEN = (EXAMPLE_RULESET.replace("if: cart_total >= 500 AND NOT vip", "if: cart_totl >= 500 AND NOT vip")
          .replace('when: "cart_items = 0"}', 'when: "cart_items = = 0"}'))


def source(yaml: str) -> pb.RulesetSource:
    return pb.RulesetSource(yaml=yaml)


def deploy(admin, yaml: str, comment: str = "") -> pb.DeployRulesetResponse:
    return admin.DeployRuleset(pb.DeployRulesetRequest(source=source(yaml), author="tests", comment=comment))


def position(text: str, needle: str) -> tuple[int, int]:
    """1-based (line, column) of the first `needle` in `text`."""
    before = text[:text.index(needle)]
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def big_cart_rules(decisions, session_id: str) -> tuple[int, set[str]]:
    """(ruleset version, rule ids that fired) of a big add_to_cart in a fresh session."""
    decisions.StartSession(start(session_id))
    response = decisions.PostEvent(event(session_id, "add_to_cart", sku="TV", price=900.0))
    return response.decision.ruleset_version, {a.rule_id for a in response.actions}


# -- validate -------------------------------------------------------------------------------------

def test_validate_returns_every_error_with_position_caret_and_suggestion(admin):
    response = admin.ValidateRuleset(pb.ValidateRulesetRequest(source=source(BROKEN)))
    assert not response.valid and not response.warnings
    by_path = {e.path: e for e in response.errors}
    assert set(by_path) == {"rules[2].if", "flowcharts[0].segments[0].when", "flowcharts[1].segments[0].when"}
    typo = by_path["rules[2].if"]
    assert (typo.line, typo.column) == position(BROKEN, "cart_totl >= 500")
    assert (typo.code, typo.suggestion, typo.severity) == ("unknown_name", "cart_total", pb.SEVERITY_ERROR)
    assert typo.caret == "  cart_totl >= 500 AND NOT vip\n  ^"
    syntax = by_path["flowcharts[0].segments[0].when"]
    assert (syntax.line, syntax.column) == (position(BROKEN, "cart_items = = 0")[0],
                                            position(BROKEN, "= 0\"}")[1])
    assert (syntax.code, syntax.expression_line, syntax.expression_column) == ("syntax", 1, 14)
    assert syntax.caret.splitlines()[1].index("^") == syntax.caret.splitlines()[0].index("= 0")


def test_validate_reports_yaml_and_expression_errors_together(admin):
    both = BROKEN.replace("name: retail-web", "name: retail-web\nchanel: web", 1)
    response = admin.ValidateRuleset(pb.ValidateRulesetRequest(source=source(both)))
    paths = {e.path for e in response.errors}
    assert {"chanel", "rules[2].if"} <= paths
    assert {e.suggestion for e in response.errors if e.path == "chanel"} == {"channel"}


def test_validate_reports_warnings_apart_from_errors(admin):
    text = (EXAMPLE_RULESET.replace("events:\n", "events:\n  - name: never_posted\n", 1)
            .replace("    segments:\n", '    segments:\n      - {name: nobody, when: "cart_items < 0"}\n', 1))
    response = admin.ValidateRuleset(pb.ValidateRulesetRequest(source=source(text)))
    assert response.valid and not response.errors
    assert {(w.code, w.path) for w in response.warnings} == {
        ("unused_event", "events[0]"), ("unused_segment", "flowcharts[0].segments[0]")}
    assert all(w.severity == pb.SEVERITY_WARNING and w.line > 0 for w in response.warnings)
    assert {w.line for w in response.warnings} == {position(text, "never_posted")[0], position(text, "nobody")[0]}


def test_validate_without_a_source_is_invalid_argument(admin):
    _, fields, _ = rpc_error(admin.ValidateRuleset, pb.ValidateRulesetRequest(), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "source" in fields


# -- deploy ---------------------------------------------------------------------------------------

def test_a_bad_deploy_under_concurrent_load_changes_nothing(decisions, admin):
    """Threads post events throughout a refused and an accepted deploy: every call succeeds, versions only grow."""
    seen: dict[int, list[int]] = {n: [] for n in range(6)}
    errors: list[Exception] = []
    stop = threading.Event()

    def visit(n: int) -> None:
        session_id = f"load-{n}"
        try:
            decisions.StartSession(start(session_id))
            while not stop.is_set():
                response = decisions.PostEvent(event(session_id, "page_view", category="toys"))
                seen[n].append(response.decision.ruleset_version)
        except Exception as exc:  # any failed call fails the test below
            errors.append(exc)

    def calls_made() -> int:
        return min(len(versions) for versions in seen.values())

    def wait_for_more_calls(count: int = 20) -> None:
        target = calls_made() + count
        deadline = time.monotonic() + 10
        while calls_made() < target and time.monotonic() < deadline and not errors:
            time.sleep(0.005)

    threads = [threading.Thread(target=visit, args=(n,)) for n in seen]
    for thread in threads:
        thread.start()
    try:
        wait_for_more_calls()
        _, fields, reason = rpc_error(deploy, admin, BROKEN, code=grpc.StatusCode.INVALID_ARGUMENT)
        assert reason == "RULESET_INVALID" and "rules[2].if" in fields
        before_good = calls_made()
        wait_for_more_calls()
        assert all(set(versions[:before_good]) == {1} for versions in seen.values())
        assert deploy(admin, RENAMED).version.version == 2
        wait_for_more_calls()
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert not errors
    for versions in seen.values():
        assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == 2
    assert [v.version for v in admin.ListRulesets(pb.ListRulesetsRequest()).versions] == [2, 1]


def test_in_flight_calls_finish_on_the_version_they_started_with(service, decisions, admin, monkeypatch):
    registry = service.engine.rulesets
    taken, deployed = threading.Event(), threading.Event()

    class Spy:
        def current(self, channel=""):
            version = registry.current(channel)
            taken.set()
            assert deployed.wait(5)  # the call has its version: a deploy now must not change it
            return version

        def served(self):
            return registry.served()

    decisions.StartSession(start("flight"))
    monkeypatch.setattr(service.engine, "rulesets", Spy())
    pending = decisions.PostEvent.future(event("flight", "add_to_cart", sku="TV", price=900.0))
    assert taken.wait(5)
    assert deploy(admin, RENAMED).version.version == 2
    deployed.set()
    response = pending.result(timeout=5)
    assert response.decision.ruleset_version == 1
    assert {a.ruleset_version for a in response.actions} == {1}
    assert "big-cart-alert" in {a.rule_id for a in response.actions}
    monkeypatch.setattr(service.engine, "rulesets", registry)
    version, fired = big_cart_rules(decisions, "after")
    assert version == 2 and "big-cart-alert-v2" in fired and "big-cart-alert" not in fired


def test_regression_a_call_waiting_for_its_session_runs_the_version_deployed_meanwhile(service, decisions, admin):
    """The version is taken under the session's lock: a call queued behind another one never runs a version
    that was replaced while it waited."""
    decisions.StartSession(start("queued"))
    with service.store.locked("queued"):  # another call holds the session
        pending = decisions.PostEvent.future(event("queued", "add_to_cart", sku="TV", price=900.0))
        assert deploy(admin, RENAMED).version.version == 2
    response = pending.result(timeout=5)
    assert response.decision.ruleset_version == 2
    assert "big-cart-alert-v2" in {a.rule_id for a in response.actions}


def test_deploying_an_unchanged_ruleset_recompiles_nothing(admin):
    before = cache_info()
    same = deploy(admin, EXAMPLE_RULESET)
    reformatted = deploy(admin, "# only a comment differs\n" + EXAMPLE_RULESET)
    assert (same.unchanged, same.version.version) == (True, 1)
    assert (reformatted.unchanged, reformatted.version.version) == (True, 1)
    assert cache_info().misses == before.misses
    # a new version whose expressions are all known compiles none of them again
    described = deploy(admin, EXAMPLE_RULESET.replace("description: Browse", "description: Now browse"))
    assert (described.unchanged, described.version.version) == (False, 2)
    assert cache_info().misses == before.misses


def test_rollback_redeploys_an_earlier_version_as_a_new_one(decisions, admin):
    deploy(admin, RENAMED)
    assert big_cart_rules(decisions, "v2")[1] >= {"big-cart-alert-v2"}
    rolled = admin.RollbackRuleset(pb.RollbackRulesetRequest(version=1, author="ops"))
    assert (rolled.version.version, rolled.version.author) == (3, "ops")
    assert rolled.version.comment == "rollback to version 1"
    version, fired = big_cart_rules(decisions, "v3")
    assert version == 3 and "big-cart-alert" in fired
    first = admin.GetRuleset(pb.GetRulesetRequest(version=1))
    active = admin.GetRuleset(pb.GetRulesetRequest())
    assert active.version.version == 3 and active.version.active and not first.version.active
    assert (active.ruleset, active.version.digest) == (first.ruleset, first.version.digest)
    rpc_error(admin.RollbackRuleset, pb.RollbackRulesetRequest(version=9), code=grpc.StatusCode.NOT_FOUND)
    rpc_error(admin.RollbackRuleset, pb.RollbackRulesetRequest(), code=grpc.StatusCode.INVALID_ARGUMENT)


def test_get_and_list_rulesets_page_newest_first(admin):
    for n in range(2, 6):
        deploy(admin, EXAMPLE_RULESET.replace("description: Browse", f"description: ({n}) Browse"), f"v{n}")
    pages, token = [], ""
    while True:
        page = admin.ListRulesets(pb.ListRulesetsRequest(page_size=2, page_token=token))
        pages.append([(v.version, v.active) for v in page.versions])
        token = page.next_page_token
        if not token:
            break
    assert pages == [[(5, True), (4, False)], [(3, False), (2, False)], [(1, False)]]
    fourth = admin.GetRuleset(pb.GetRulesetRequest(version=4))
    assert (fourth.version.comment, fourth.version.author, fourth.ruleset.description[:3]) == ("v4", "tests", "(4)")
    assert fourth.version.deployed_at.seconds > 0 and len(fourth.version.digest) == 64
    rpc_error(admin.GetRuleset, pb.GetRulesetRequest(version=42), code=grpc.StatusCode.NOT_FOUND)
    rpc_error(admin.ListRulesets, pb.ListRulesetsRequest(page_token="x"), code=grpc.StatusCode.INVALID_ARGUMENT)
    rpc_error(admin.ListRulesets, pb.ListRulesetsRequest(page_size=-1), code=grpc.StatusCode.INVALID_ARGUMENT)


# -- simulate -------------------------------------------------------------------------------------

def test_simulate_the_active_ruleset_touches_no_real_session_or_history(service, decisions, admin):
    service.history.flush(5)
    submitted = service.history.stats()["submitted"]
    scenario = load_scenario(EXAMPLE_SCENARIO.read_text())
    response = admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario))
    assert response.passed, [list(s.failures) for s in response.steps]
    assert len(response.steps) == len(scenario.steps)
    assert [o.code for o in response.steps[6].offers] == ["UPSELL_WARRANTY"]
    assert response.steps[5].result.post_event.decision.ruleset_version == 0
    rpc_error(decisions.GetSession, decision_pb.GetSessionRequest(session_id=SCENARIO_SESSION),
              code=grpc.StatusCode.NOT_FOUND)
    assert service.history.stats()["submitted"] == submitted
    assert [v.version for v in admin.ListRulesets(pb.ListRulesetsRequest()).versions] == [1]


def test_simulate_a_given_source_reports_each_failing_step(admin):
    scenario = load_scenario((SCENARIOS / "big_cart.scenario.yaml").read_text())
    assert admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario)).passed
    response = admin.SimulateRuleset(pb.SimulateRulesetRequest(source=source(RENAMED), scenario=scenario))
    assert not response.passed
    assert [list(step.failures) for step in response.steps] == [
        [], ["the ruleset has no rule 'big-cart-alert'; did you mean 'big-cart-alert-v2'?"], []]


def test_simulate_reports_a_failed_command_and_unmet_expectations(admin):
    scenario = load_scenario((SCENARIOS / "failing.scenario.yaml").read_text())
    response = admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario))
    assert not response.passed
    assert [list(step.failures) for step in response.steps] == [
        ["post_event failed: NOT_FOUND: no live session 'scenario' (never started, ended or expired)"],
        [],
        ["segments: not in big_spenders (in: shoppers)", "not_segments: in shoppers",
         "rules_fired: big-cart-alert did not fire (fired: cart-update, journey:cart_recovery)"],
        ["offers: expected UPSELL_WARRANTY, got FREESHIP"],
        ["segments: no live session 'scenario' to check (ended, or never started)",
         "rules_fired: journey:cart_recovery did not fire (fired: none)",
         "offers: only a get_offers step recommends offers, this step is end_session"],
    ]
    small_cart = response.steps[2].trace  # every deciding step is explained
    assert {rule.rule_id: rule.matched for rule in small_cart.rules} == {"cart-update": True,
                                                                       "big-cart-alert": False}
    assert not response.steps[4].HasField("trace")  # end_session decides nothing


def test_simulate_refuses_a_bad_source_or_an_empty_scenario(admin):
    scenario = load_scenario((SCENARIOS / "big_cart.scenario.yaml").read_text())
    request = pb.SimulateRulesetRequest(source=source(BROKEN), scenario=scenario)
    _, fields, _ = rpc_error(admin.SimulateRuleset, request, code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "rules[2].if" in fields
    rpc_error(admin.SimulateRuleset, pb.SimulateRulesetRequest(), code=grpc.StatusCode.INVALID_ARGUMENT)


# -- watch ----------------------------------------------------------------------------------------

def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def watched(service, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE_RULESET)
    watcher = RulesetWatcher(path, service.registry, interval=0.02).start()
    yield path
    watcher.stop()


def test_watch_reloads_a_changed_file_and_ignores_a_broken_one(service, decisions, admin, watched, caplog):
    versions = lambda: [v.version for v in admin.ListRulesets(pb.ListRulesetsRequest()).versions]  # noqa: E731
    time.sleep(0.1)  # several polls of the file the server already serves: nothing is deployed
    assert versions() == [1]
    watched.write_text(RENAMED)
    assert wait_for(lambda: versions() == [2, 1])
    latest = admin.GetRuleset(pb.GetRulesetRequest()).version
    assert (latest.author, latest.comment) == ("segflow serve --watch", f"reloaded from {watched}")
    version, fired = big_cart_rules(decisions, "reloaded")
    assert version == 2 and "big-cart-alert-v2" in fired

    watched.write_text(BROKEN)
    assert wait_for(lambda: "does not compile" in caplog.text)
    assert all(path in caplog.text for path in ("rules[2].if", "flowcharts[0].segments[0].when",
                                                "flowcharts[1].segments[0].when"))
    assert re.search(rf"{re.escape(str(watched))}:\d+:\d+: error: rules\[2\]\.if: unknown_name", caplog.text)
    assert versions() == [2, 1] and big_cart_rules(decisions, "still-2")[0] == 2

    watched.write_text(EXAMPLE_RULESET)  # fixed: back to the first content, as a new version
    assert wait_for(lambda: versions() == [3, 2, 1])
    assert big_cart_rules(decisions, "fixed")[0] == 3


def test_regression_watch_does_not_read_a_file_while_it_is_being_written(service, admin, tmp_path, caplog):
    """The flake in test_watch_reloads_a_changed_file_and_ignores_a_broken_one: a poll between write_text's
    truncation and its write read an empty file and logged it as a ruleset that does not compile."""
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE_RULESET)
    watcher = RulesetWatcher(path, service.registry, loaded=EXAMPLE_RULESET.encode())
    path.write_text("")  # truncated, the new content not written yet
    assert watcher.poll() is False
    path.write_text(RENAMED)
    assert watcher.poll() is False  # changed since the last poll: still being written, perhaps
    assert watcher.poll() is True  # held still for a poll: read and deployed
    assert "does not compile" not in caplog.text
    assert [v.version for v in admin.ListRulesets(pb.ListRulesetsRequest()).versions] == [2, 1]


def test_regression_a_restart_with_the_ruleset_file_does_not_undo_a_rollback(tmp_path, clock, caplog):
    from segflow.server.app import create_service
    from segflow.server.config import Config

    rules = tmp_path / "rules.yaml"
    rules.write_text(EXAMPLE_RULESET)
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "data", ruleset=(rules,), grace_seconds=1)

    def versions_after_start() -> tuple[int, list[int]]:
        service = create_service(config, clock)
        try:
            return service.registry.current().version, [v.version for v in service.versions.list(10)]
        finally:
            service.stop(grace=1)

    assert versions_after_start() == (1, [1])
    assert versions_after_start() == (1, [1])  # the same file again: nothing deployed
    rules.write_text(RENAMED)
    assert versions_after_start() == (2, [2, 1])  # a changed file is deployed
    service = create_service(config, clock)
    try:
        service.registry.rollback(1, "ops")  # version 3, the ruleset of version 1
    finally:
        service.stop(grace=1)
    with caplog.at_level("INFO", logger="segflow.server.app"):
        assert versions_after_start() == (3, [3, 2, 1])  # the file (version 2) does not undo the rollback
    assert "the file is version 2, but version 3 is active" in caplog.text


def test_simulate_over_the_channel_with_mocks_a_clock_expectations_and_coverage(admin):
    scenario = load_scenario("""
name: mocked over gRPC
mocks: {propensity: 0.95}
steps:
  - start_session: {}
    at: 2026-12-01T10:00:00Z
    expect: {segments: [likely_buyers], attributes: {cart_total: 0.0}}
  - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
    advance: 5m
    expect: {actions: [{type: notify, rule_id: big-cart-alert}], journeys: [{journey: cart_recovery, step: 2}]}  # started, then continued by the chained check
  - post_event: {event: {name: login}, session_id: nobody}
    expect: {error: {code: NOT_FOUND, reason: SESSION_NOT_FOUND}}
""")
    response = admin.SimulateRuleset(pb.SimulateRulesetRequest(scenario=scenario))
    assert response.passed, [list(s.failures) for s in response.steps]
    assert {c.outcome for c in response.steps[0].trace.callouts} == {"mock"}
    assert response.steps[1].result.post_event.actions[0].time.ToJsonString() == "2026-12-01T10:05:00Z"
    assert response.steps[2].result.error.reason == "SESSION_NOT_FOUND"
    assert "loyal" in response.coverage.segments_never_entered
    assert "big-cart-alert" not in response.coverage.rules_not_matched
