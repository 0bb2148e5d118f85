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
from pathlib import Path
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


class RedisServers:
    """redis-server processes of this test run (not daemonized), stopped at teardown, and killed by the kernel
    should the test run itself die first, so none outlives it; each with its log in `home`."""

    def __init__(self, home: Path):
        self.home = home
        self.processes: dict[int, subprocess.Popen] = {}
        self.options: dict[int, tuple[str, ...]] = {}

    def start(self, port: int, *options: str) -> None:
        """A redis-server on 127.0.0.1:`port` with `options` (no persistence unless they ask) and a directory of
        its own, once it answers."""
        directory = self.home / str(port)
        directory.mkdir(exist_ok=True)
        self.options[port] = options
        with open(directory / "redis.log", "ab") as log:
            self.processes[port] = subprocess.Popen(
                [*_DIE_WITH_PARENT, "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
                 str(directory), "--save", "", "--appendonly", "no", "--daemonize", "no", *options],
                stdout=log, stderr=subprocess.STDOUT)
        _wait_for(lambda: _ping(port))

    def restart(self, port: int) -> None:
        """Start a stopped server again as it was started (from its directory: its data if it persists any)."""
        self.start(port, *self.options[port])

    def stop(self, port: int) -> None:
        """Stop one server as a clean shutdown does (SIGTERM: it writes its append-only file, if any)."""
        process = self.processes.pop(port)
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def stop_all(self) -> None:
        for port in list(self.processes):
            self.stop(port)


# The kernel kills a server started through this when the test run that started it dies (util-linux's setpriv
# sets the parent-death signal and execs the server: no Python runs between fork and exec, as gRPC's threads
# require).
_DIE_WITH_PARENT = ("setpriv", "--pdeathsig", "KILL") if shutil.which("setpriv") else ()


def _ping(port: int) -> bool:
    return subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                          timeout=5).stdout.strip() == b"PONG"


def need_redis_server() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed to start a Redis of the test's own (Debian: redis-server)")


def start_cluster(servers: RedisServers, ports: list[int], *options: str) -> str:
    """A Redis Cluster of one master per port (no replicas) on `servers`, with `options`; its URL."""
    for port in ports:
        servers.start(port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", *options)
    subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                    "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
    wait_for_cluster(ports)
    return f"redis+cluster://127.0.0.1:{ports[0]}"


def wait_for_cluster(ports: list[int]) -> None:
    """Until every node of the cluster on `ports` reports it whole."""
    for port in ports:
        _wait_for(lambda: b"cluster_state:ok" in subprocess.run(
            ["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, timeout=5).stdout)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory) -> Iterator[str]:
    """A 3-node Redis Cluster (no replicas, no persistence) on free ports, for the whole run; its URL."""
    need_redis_server()
    servers = RedisServers(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield start_cluster(servers, [free_port() for _ in range(3)])
    finally:
        servers.stop_all()


def _wait_for(ready, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError("Redis did not come up")
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
