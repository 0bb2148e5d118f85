"""Fixtures for session store tests: a real Redis (one server, and a 3-node cluster started for the run) under a
prefix unique to each test, removed afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from segflow.server.sessions.state import SessionState
from tests.service.conftest import FakeClock

REDIS_URL = os.environ.get("SEGFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def free_port() -> int:
    """A TCP port free now whose cluster bus port (+10000) is free too."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 55536:
            with socket.socket() as bus:
                try:
                    bus.bind(("127.0.0.1", port + 10000))
                    return port
                except OSError:
                    pass


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> Iterator[str]:
    """A 3-node Redis Cluster (no replicas, no persistence) on free ports, for the whole run; its URL."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed for the Redis Cluster tests (Debian: redis-server)")
    home = tmp_path_factory.mktemp("redis-cluster")
    ports = [free_port() for _ in range(3)]
    try:
        for port in ports:
            subprocess.run(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                            "--cluster-config-file", str(home / f"nodes-{port}.conf"), "--dir", str(home),
                            "--save", "", "--appendonly", "no", "--daemonize", "yes",
                            "--logfile", str(home / f"{port}.log")], check=True, timeout=10)
        for port in ports:
            _wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                             timeout=5).stdout.strip() == b"PONG")
        subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
        _wait_for(lambda: b"cluster_state:ok" in subprocess.run(
            ["redis-cli", "-p", str(ports[0]), "cluster", "info"], capture_output=True, timeout=5).stdout)
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for port in ports:
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, timeout=10)


def _wait_for(ready, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("the Redis Cluster did not come up")
        time.sleep(0.05)


@pytest.fixture(params=["single", "cluster"])
def redis_url(request) -> str:
    """The Redis the test runs against: the shared server, then the cluster this run started."""
    return REDIS_URL if request.param == "single" else request.getfixturevalue("redis_cluster")


@pytest.fixture
def redis_client(redis_url):
    redis = pytest.importorskip("redis")
    from segflow.server.sessions.redis_store import connect

    try:
        client = connect(redis_url)
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis unreachable at {redis_url} (set SEGFLOW_TEST_REDIS): {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted when the test ends."""
    unique = f"segflow-test:{uuid.uuid4().hex[:12]}:"
    yield unique
    for key in list(redis_client.scan_iter(match=f"{unique}*", count=1000)):
        redis_client.delete(key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


class Closed:
    """An on_close hook that remembers what it was told, shareable by several stores ("replicas")."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def __call__(self, state: SessionState, reason: str) -> None:
        self.calls.append((state.session_id, reason))


@pytest.fixture
def closed() -> Closed:
    return Closed()


@pytest.fixture
def make_store(redis_client, prefix, clock, closed):
    """Build a RedisSessionStore ("a replica") on the test's prefix; several share one Redis and hook."""
    from segflow.server.sessions.redis_store import RedisSessionStore

    def make(**overrides) -> RedisSessionStore:
        settings = dict(idle_timeout=timedelta(minutes=30), max_sessions=100, clock=clock, on_close=closed,
                        prefix=prefix)
        return RedisSessionStore(redis_client, **{**settings, **overrides})

    return make


def new_state(session_id: str, clock: FakeClock, **fields) -> SessionState:
    fields = {"channel": "web", "audience_level": "Visitor", **fields}
    return SessionState(session_id=session_id, started_at=clock(), last_activity_at=clock(), **fields)
