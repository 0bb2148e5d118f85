"""A real `segflow serve --processes 2` in its own process group, and channels that reach a chosen worker.

SO_REUSEPORT spreads connections over the workers by a hash of the client's address and port, so a channel
with its own connection lands on one worker or the other; `Host.channel_to` opens channels until one answers
from the wanted worker (each response names its worker in the `segflow-worker` trailing metadata).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from segflow.server.workers.identity import HEADER

STARTUP_SECONDS = 60.0


class Host:
    """One running `segflow serve --processes N` and what the tests need of it."""

    def __init__(self, process: subprocess.Popen, port: int, data_dir: Path):
        self.process = process
        self.port = port
        self.data_dir = data_dir
        self._channels: list[grpc.Channel] = []

    def channel(self) -> grpc.Channel:
        """A channel with a connection of its own (not shared with the test's other channels)."""
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=[("grpc.use_local_subchannel_pool", 1)])
        self._channels.append(channel)
        return channel

    def worker_of(self, channel: grpc.Channel) -> int:
        """The pid of the worker that answers on `channel` (a health check: it goes through the same server)."""
        _, call = health_pb2_grpc.HealthStub(channel).Check.with_call(health_pb2.HealthCheckRequest(), timeout=10)
        return int(dict(call.trailing_metadata())[HEADER])

    def channels_by_worker(self, count: int = 2, tries: int = 64) -> dict[int, grpc.Channel]:
        """One channel to each of `count` distinct workers."""
        found: dict[int, grpc.Channel] = {}
        for _ in range(tries):
            channel = self.channel()
            found.setdefault(self.worker_of(channel), channel)
            if len(found) >= count:
                return found
        raise AssertionError(f"reached only workers {sorted(found)} in {tries} connections")

    def close(self) -> None:
        for channel in self._channels:
            channel.close()


def start_host(data_dir: Path, *extra: str, processes: int = 2) -> Host:
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--processes", str(processes), "--address",
         "127.0.0.1:0", "--data-dir", str(data_dir), "--grace-seconds", "5", "--log-level", "WARNING", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + STARTUP_SECONDS
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"serving on 127\.0\.0\.1:(\d+)", line)
        if match:
            return Host(process, int(match.group(1)), data_dir)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError(f"segflow serve did not start: {line!r} {process.stderr.read()}")


def stop_host(host: Host) -> int:
    """SIGTERM the parent and wait for it; its exit code (its whole process group is killed if it hangs)."""
    if host.process.poll() is None:
        host.process.send_signal(signal.SIGTERM)
    try:
        return host.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(host.process.pid, signal.SIGKILL)
        raise


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    running = start_host(tmp_path_factory.mktemp("host"))
    yield running
    running.close()
    assert stop_host(running) == 0, running.process.stderr.read()
