"""The container, compose and systemd files: `segflow health` as the image's probe, the files' shape, and
the image itself built and served where a Docker engine answers."""

from __future__ import annotations

import shutil
import subprocess
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from segflow.server import cli

ROOT = Path(__file__).resolve().parents[2]


def test_segflow_health_answers_serving_for_a_running_server(service, capsys):
    assert cli.main(["health", "--target", f"127.0.0.1:{service.port}"]) == 0
    assert capsys.readouterr().out.strip() == "SERVING"


def test_segflow_health_fails_when_nothing_listens(capsys):
    from tests.service.test_serve_process import free_port

    assert cli.main(["health", "--target", f"127.0.0.1:{free_port()}", "--timeout", "0.5"]) == 1
    assert "segflow health:" in capsys.readouterr().err


def test_the_image_runs_as_a_non_root_user_with_a_grpc_health_check():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "USER segflow" in dockerfile
    assert 'CMD ["segflow", "health"' in dockerfile


def test_the_image_copies_every_folder_the_wheel_is_built_from():
    package_dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    copied = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")]
    assert all(any(folder == c or folder.startswith(c + "/") for c in copied) for folder in package_dirs.values())


def test_compose_runs_two_replicas_on_shared_redis_and_postgresql():
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    replicas = [s for name, s in compose["services"].items() if name.startswith("segflow-")]
    assert len(replicas) == 2 and {"redis", "postgres"} <= set(compose["services"])
    for replica in replicas:
        assert replica["environment"]["SEGFLOW_SESSIONS_URL"].startswith("redis://redis")
        assert replica["environment"]["SEGFLOW_HISTORY_URL"].startswith("postgresql://")


def test_the_systemd_unit_stops_with_sigterm_and_runs_unprivileged():
    unit = (ROOT / "deploy" / "segflow.service").read_text()
    assert "KillSignal=SIGTERM" in unit and "DynamicUser=yes" in unit and "NoNewPrivileges=yes" in unit


def _docker_reason() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    return None if info.returncode == 0 else f"docker info failed: no Docker engine ({info.stderr.strip()[:120]})"


def test_the_image_builds_and_becomes_healthy():
    reason = _docker_reason()
    if reason:
        pytest.skip(reason)
    subprocess.run(["docker", "build", "-t", "segflow:test", str(ROOT)], check=True, timeout=900)
    container = subprocess.run(["docker", "run", "-d", "--rm", "segflow:test"], check=True, capture_output=True,
                               text=True, timeout=60).stdout.strip()
    try:
        deadline = time.monotonic() + 90
        while True:
            state = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", container],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
            if state == "healthy":
                break
            assert time.monotonic() < deadline and state != "unhealthy", state
            time.sleep(2)
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, timeout=60)
