"""`segflow serve` as a user runs it: a subprocess that answers health, serves a visit, and on SIGTERM
finishes, flushes history and exits 0, with nothing acknowledged lost."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from segflow.v1 import decision_service_pb2_grpc

from tests.service.calls import event, offers, start


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(channel: grpc.Channel, process: subprocess.Popen, timeout: float = 30.0) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.1)
    raise AssertionError("segflow serve did not become SERVING")


def test_serve_answers_health_and_exits_cleanly_on_sigterm_with_history_flushed(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--address", f"127.0.0.1:{port}", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, process)
            decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
            decisions.StartSession(start("subprocess-visit"))
            for i in range(50):
                decisions.PostEvent(event("subprocess-visit", "add_to_cart", sku=f"SKU-{i}", price=1.0))
            [offered] = decisions.GetOffers(offers("subprocess-visit", ("home_banner", 1))).offer_lists[0].offers
            decisions.PostEvent(event("subprocess-visit", "offer_shown", treatment_code=offered.treatment_code))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    with sqlite3.connect(tmp_path / "history.db") as db:
        assert db.execute("SELECT COUNT(*) FROM data_rows WHERE table_name = 'cart_adds'").fetchone()[0] == 50
        assert db.execute("SELECT COUNT(*) FROM contacts").fetchone()[0] == 1
        assert db.execute("SELECT end_reason, event_count FROM session_summaries").fetchall() == [("shutdown", 51)]
