"""The `segflow` command for rule authors: validate, deploy to a running server, and simulate scenario files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from segflow.server.cli import main
from segflow.server.examples import EXAMPLE_RULESET

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "server" / "examples" / "retail_web.yaml"
EXAMPLE_SCENARIO = ROOT / "server" / "examples" / "retail_web.scenario.yaml"
SCENARIOS = ROOT / "tests" / "scenarios"
TYPO = "if: cart_total >= 500 AND NOT vip"


@pytest.fixture
def broken(tmp_path) -> Path:
    """The example with a misspelt attribute in rules[2].if."""
    path = tmp_path / "broken.yaml"
    path.write_text(EXAMPLE_RULESET.replace(TYPO, TYPO.replace("cart_total", "cart_totl")))
    return path


def typo_position() -> tuple[int, int]:
    before = EXAMPLE_RULESET[:EXAMPLE_RULESET.index(TYPO)]
    return before.count("\n") + 1, len(before) - before.rfind("\n") + len("if: ")


def test_validate_a_good_file(capsys):
    assert main(["validate", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{EXAMPLE}: 0 error(s), 0 warning(s)\n" and err == ""


def test_validate_a_bad_file_prints_line_column_suggestion_and_caret(capsys, broken):
    assert main(["validate", str(broken)]) == 1
    out, err = capsys.readouterr()
    line, column = typo_position()
    assert err.splitlines() == [
        f"{broken}:{line}:{column}: error: rules[2].if: unknown_name: unknown attribute 'cart_totl'; "
        "did you mean 'cart_total'?",
        "  cart_totl >= 500 AND NOT vip",
        "  ^",
    ]
    assert out == f"{broken}: 1 error(s), 0 warning(s)\n"


def test_validate_a_missing_file_is_exit_code_2(capsys, tmp_path):
    assert main(["validate", str(tmp_path / "nowhere.yaml")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_deploy_to_a_running_server(capsys, service, broken, tmp_path):  # noqa: F811
    target = ["--target", f"127.0.0.1:{service.port}", "--author", "ci"]
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE_RULESET.replace("description: Browse", "description: Now browse"))
    assert main(["deploy", str(changed), *target]) == 0
    assert capsys.readouterr().out.startswith(f"{changed}: deployed as version 2 of channel 'web' (digest ")
    assert main(["deploy", str(changed), *target]) == 0
    assert capsys.readouterr().out.startswith(f"{changed}: unchanged, still version 2")

    assert main(["deploy", str(broken), *target]) == 1
    err = capsys.readouterr().err
    line, column = typo_position()
    assert err.startswith("segflow deploy: refused, nothing changed: rules[2].if")
    assert f"{broken}:{line}:{column}: error: rules[2].if: unknown_name" in err  # as validate prints it
    assert service.registry.current().version == 2
    assert service.versions.get(2).author == "ci"


def test_deploy_to_no_server_fails(capsys, tmp_path):
    assert main(["deploy", str(EXAMPLE), "--target", "127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.startswith("segflow deploy: UNAVAILABLE")


def test_simulate_passing_scenarios(capsys):
    assert main(["simulate", str(EXAMPLE), str(EXAMPLE_SCENARIO), str(SCENARIOS / "big_cart.scenario.yaml")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "  PASS  the warranty is the checkout upsell\n" in out
    assert f"{EXAMPLE_SCENARIO}: PASS (27 of 27 steps passed)\n" in out
    assert out.endswith("2 of 2 scenario(s) passed\n")


def test_simulate_a_failing_scenario_exits_1_with_the_reasons():
    """Through the real entry point, so the process exit code is what CI sees."""
    scenario = SCENARIOS / "failing.scenario.yaml"
    run = subprocess.run([sys.executable, "-m", "segflow.server.cli", "simulate", str(EXAMPLE), str(scenario)],
                         capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    traces = [line.strip() for line in lines if line.startswith(" " * 10)]  # each failing step's trace
    assert "rule big-cart-alert on add_to_cart: not matched" in traces
    assert "cart_total >= 500 → FALSE  (cart_total = 20.0)" in traces
    assert "NOT vip → not evaluated" in traces
    assert "offer cart_sidebar/FREESHIP (t-freeship-cart): kept at top_n: rank 1 of 1, 2 asked for" in traces
    assert [line for line in lines if not line.startswith(" " * 10)][2:] == [
        "  FAIL  an event before the session starts",
        "        post_event failed: NOT_FOUND: no live session 'scenario' (never started, ended or expired)",
        "  PASS  2. start_session",
        "  FAIL  a small cart is not a big one",
        "        segments: not in big_spenders (in: shoppers)",
        "        not_segments: in shoppers",
        "        rules_fired: big-cart-alert did not fire (fired: cart-update, journey:cart_recovery)",
        "  FAIL  the cart sidebar shows free shipping, not the warranty",
        "        offers: expected UPSELL_WARRANTY, got FREESHIP",
        "  FAIL  nothing to check once the session ended",
        "        segments: no live session 'scenario' to check (ended, or never started)",
        "        rules_fired: journey:cart_recovery did not fire (fired: none)",
        "        offers: only a get_offers step recommends offers, this step is end_session",
        f"{scenario}: FAIL (1 of 5 steps passed)",
        "0 of 1 scenario(s) passed",
    ]


def test_simulate_names_the_step_of_an_unreadable_scenario(capsys):
    scenarios = [str(SCENARIOS / "misspelt.scenario.yaml"), str(SCENARIOS / "big_cart.scenario.yaml")]
    assert main(["simulate", str(EXAMPLE), *scenarios]) == 1
    out, err = capsys.readouterr()
    assert f"{scenarios[0]}: error: steps[1]: unknown command 'post_evnt'; did you mean 'post_event'?" in err
    assert out.endswith("1 of 2 scenario(s) passed\n")


def test_simulate_against_a_broken_ruleset_runs_nothing(capsys, broken):
    assert main(["simulate", str(broken), str(SCENARIOS / "big_cart.scenario.yaml")]) == 1
    out, err = capsys.readouterr()
    assert "rules[2].if: unknown_name" in err and "PASS" not in out


def test_serve_refuses_watch_without_a_ruleset(capsys):
    assert main(["serve", "--watch"]) == 2
    assert "--watch needs --ruleset" in capsys.readouterr().err


def test_simulate_coverage_and_the_json_and_junit_formats(capsys):
    big_cart = str(SCENARIOS / "big_cart.scenario.yaml")
    assert main(["simulate", str(EXAMPLE), big_cart, "--coverage"]) == 0
    out = capsys.readouterr().out
    assert "coverage (what no scenario exercised):\n" in out and "  segments never entered: " in out
    assert out.endswith("1 of 1 scenario(s) passed\n")

    assert main(["simulate", str(EXAMPLE), big_cart, str(SCENARIOS / "failing.scenario.yaml"), "--format",
                 "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert [s["passed"] for s in report["scenarios"]] == [True, False]
    failing = report["scenarios"][1]["steps"][0]
    assert failing["passed"] is False and failing["failures"][0].startswith("post_event failed: NOT_FOUND")
    assert "loyal" in report["coverage"]["segments_never_entered"]

    assert main(["simulate", str(EXAMPLE), big_cart, str(SCENARIOS / "misspelt.scenario.yaml"), "--format",
                 "junit"]) == 1
    suites = ElementTree.fromstring(capsys.readouterr().out)
    passing, unreadable = suites.findall("testsuite")
    assert passing.get("failures") == "0" and passing.findall("testcase")
    assert unreadable.get("errors") == "1" and "post_evnt" in unreadable.find("testcase/error").get("message")
    names = {p.get("name") for p in suites.findall("testsuite/properties/property")}
    assert "coverage.rules_never_matched" in names
