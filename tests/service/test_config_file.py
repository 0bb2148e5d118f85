"""Settings from a --config YAML file under the environment and the flags; what `serve` starts with."""

from __future__ import annotations

import subprocess
import sys

import pytest

from segflow.server import cli
from segflow.server.app import create_service
from segflow.server.config import Config, load
from segflow.server.history import RulesetVersions, open_sink


def parsed(*argv: str):
    return cli.parser().parse_args(["serve", *argv])


def test_flags_beat_the_environment_which_beats_the_file_which_beats_the_defaults(tmp_path):
    file = tmp_path / "segflow.yaml"
    file.write_text("workers: 7\nidle-timeout-seconds: 60\nmax_sessions: 10\nwatch: false\nlog-format: json\n")
    config = load(parsed("--config", str(file), "--workers", "9"),
                  environ={"SEGFLOW_IDLE_TIMEOUT_SECONDS": "120"})
    assert config.workers == 9  # flag over file
    assert config.idle_timeout_seconds == 120.0  # environment over file
    assert config.max_sessions == 10 and config.log_format == "json"  # file over defaults
    assert config.grace_seconds == Config().grace_seconds  # defaults
    assert load(environ={"SEGFLOW_CONFIG": str(file)}).workers == 7  # the file named by the environment


@pytest.mark.parametrize("text, problem", [
    ("wrkers: 3\n", "wrkers: no such setting"),
    ("- workers\n", "expected a mapping"),
    ("workers: [1, 2]\n", "expected a single value"),
    ("workers: many\n", "bad value for workers"),
    ("workers: [\n", "not YAML"),
])
def test_a_bad_config_file_is_refused_naming_the_key(tmp_path, text, problem):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(ValueError, match=problem):
        load(parsed("--config", str(file)), environ={})


def test_serve_exits_2_naming_a_missing_config_file(tmp_path, capsys):
    assert cli.main(["serve", "--config", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


def test_the_example_seeds_only_an_empty_database(tmp_path):
    config = Config(address="127.0.0.1:0", data_dir=tmp_path, workers=2, grace_seconds=0)
    sink = open_sink(config.history)  # another replica added a version but never activated one
    RulesetVersions(sink.database).add("theirs", "web", "d" * 64, "ops", "", "name: theirs", b"")
    sink.close()
    with pytest.raises(ValueError, match="none is active"):
        create_service(config)
    sink = open_sink(config.history)
    assert [v.name for v in RulesetVersions(sink.database).list(10)] == ["theirs"]  # nothing deployed over it
    sink.close()


def test_segflow_version():
    done = subprocess.run([sys.executable, "-m", "segflow.server.cli", "--version"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("segflow 0.")
