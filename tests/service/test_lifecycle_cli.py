"""`segflow versions`, `show`, `rollback`, `diff`, `deploy --json` and `validate` of several files, against a real
server: each command's output and exit code."""

from __future__ import annotations

import json

import pytest

from segflow.rules.ruleset_yaml import load_ruleset_yaml
from segflow.server.cli import main, parser
from segflow.server.examples import EXAMPLE_RULESET
from tests.service.test_cli import EXAMPLE, broken, typo_position  # noqa: F401 (a fixture)

CHANGED = EXAMPLE_RULESET.replace("description: Browse", "description: Now browse")


@pytest.fixture
def target(service) -> list[str]:
    return ["--target", f"127.0.0.1:{service.port}"]


@pytest.fixture
def changed(tmp_path):
    path = tmp_path / "changed.yaml"
    path.write_text(CHANGED)
    return path


def test_versions_lists_newest_first_with_the_active_marked(capsys, target, changed):
    assert main(["deploy", str(changed), *target, "--author", "ci", "--comment", "new words"]) == 0
    capsys.readouterr()
    assert main(["versions", *target]) == 0
    header, second, first = capsys.readouterr().out.splitlines()
    assert header.split()[:2] == ["version", "deployed"]
    assert second.startswith("*       2  ") and second.endswith("ci: new words")
    assert first.startswith("        1  ") and "segflow serve" in first
    assert main(["versions", *target, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v.get("active", False)) for v in listed] == [("2", True), ("1", False)]


def test_show_prints_a_version_as_ruleset_yaml_that_loads_back(capsys, target, changed):
    assert main(["deploy", str(changed), *target]) == 0
    capsys.readouterr()
    assert main(["show", "1", *target]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# version 1 of channel 'web', deployed ")
    assert load_ruleset_yaml(out).ruleset == load_ruleset_yaml(EXAMPLE_RULESET).ruleset
    assert main(["show", *target, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"]["version"] == "2" and shown["ruleset"]["description"].startswith("Now browse")
    assert main(["show", "9", *target]) == 1
    assert capsys.readouterr().err.startswith("segflow show: NOT_FOUND: no ruleset version 9")


def test_rollback_serves_an_earlier_version_as_a_new_one(capsys, target, changed, service):
    assert main(["deploy", str(changed), *target]) == 0
    capsys.readouterr()
    assert main(["rollback", "1", "--author", "ops", *target]) == 0
    assert capsys.readouterr().out == "rolled back: version 3 is active, with the ruleset of version 1\n"
    assert service.registry.current().version == 3 and service.versions.get(3).author == "ops"
    assert main(["rollback", "1", *target, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"]["version"] == "3"  # already that ruleset
    assert main(["rollback", "7", *target]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_diff_of_two_versions_and_of_a_file_against_the_active_one(capsys, target, changed):
    assert main(["diff", str(EXAMPLE), *target]) == 0  # the example is what the server serves
    assert capsys.readouterr().out == f"{EXAMPLE} and version 1 are the same ruleset\n"
    assert main(["deploy", str(changed), *target]) == 0
    capsys.readouterr()
    assert main(["diff", "1", "2", *target]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["--- version 1", "+++ version 2"]
    assert [line for line in lines if line[:1] in "+-" and line[:3] not in ("---", "+++")] == [
        "-description: Browse, cart and checkout on a retail web site, with offers and a cart-recovery journey.",
        "+description: Now browse, cart and checkout on a retail web site, with offers and a cart-recovery journey.",
    ]
    assert main(["diff", str(EXAMPLE), *target, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["old"], report["new"], report["identical"]) == (str(EXAMPLE), "version 2", False)
    assert main(["diff", "5", *target]) == 2
    assert "NOT_FOUND" in capsys.readouterr().err


def test_deploy_json_and_its_refusal(capsys, target, changed, broken):  # noqa: F811
    assert main(["deploy", str(changed), *target, "--json"]) == 0
    deployed = json.loads(capsys.readouterr().out)
    assert deployed["deployed"] is True and deployed["version"]["version"] == "2"
    assert main(["deploy", str(broken), *target, "--json"]) == 1
    refused = json.loads(capsys.readouterr().out)
    line, column = typo_position()
    assert refused["deployed"] is False
    assert (refused["errors"][0]["path"], refused["errors"][0]["line"]) == ("rules[2].if", line)


def test_validate_several_files_text_and_json(capsys, broken):  # noqa: F811
    assert main(["validate", str(EXAMPLE), str(broken)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{EXAMPLE}: 0 error(s), 0 warning(s)", f"{broken}: 1 error(s), 0 warning(s)"]
    line, column = typo_position()
    assert err.startswith(f"{broken}:{line}:{column}: error: rules[2].if: unknown_name")
    assert main(["validate", str(EXAMPLE), "--json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report == {"file": str(EXAMPLE), "valid": True, "errors": [], "warnings": []}
    assert main(["validate", str(broken), "--json"]) == 1
    [report] = json.loads(capsys.readouterr().out)
    [error] = report["errors"]
    assert (error["line"], error["column"], error["suggestion"]) == (line, column, "cart_total")
    assert error["text"].startswith(f"{broken}:{line}:{column}: error: ")


def test_every_argument_of_every_command_has_help():
    commands = parser()._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"segflow {name} {action.dest} has no help"
            assert "default None" not in command.format_help(), f"segflow {name} shows (default None)"
