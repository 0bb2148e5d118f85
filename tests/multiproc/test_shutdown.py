"""SIGTERM of `segflow serve --processes 2` under load: every worker drains, and every acknowledged call's
history row is written."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import grpc
from segflow.v1 import decision_service_pb2_grpc

from tests.multiproc.conftest import start_host, stop_host
from tests.service.calls import event, start


def test_sigterm_of_the_parent_under_load_loses_no_acknowledged_history_row(tmp_path):
    host = start_host(tmp_path)
    channels = list(host.channels_by_worker().values())
    acknowledged, stopping = [], threading.Event()

    def load(index: int):
        stub = decision_service_pb2_grpc.DecisionServiceStub(channels[index % 2])
        session = f"load-{index}"
        stub.StartSession(start(session))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                stub.PostEvent(event(session, "add_to_cart", sku="S", price=1.0), timeout=10)
            except grpc.RpcError:
                if stopping.is_set():
                    return  # refused while shutting down: not acknowledged
                raise
            acknowledged.append(session)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    stopping.set()
    code = stop_host(host)
    for thread in threads:
        thread.join(30)
    host.close()
    assert code == 0, host.process.stderr.read()
    assert len(acknowledged) > 50  # the load was real
    with sqlite3.connect(tmp_path / "history.db") as db:
        rows = dict(db.execute("SELECT session_id, COUNT(*) FROM data_rows WHERE table_name = 'cart_adds' "
                               "GROUP BY session_id").fetchall())
        summaries = db.execute("SELECT session_id, end_reason FROM session_summaries").fetchall()
    for session in {*acknowledged}:
        assert rows.get(session, 0) >= acknowledged.count(session), session
    assert sorted(summaries) == sorted((f"load-{i}", "shutdown") for i in range(6))  # each summarised once


def test_sigterm_while_the_workers_start_is_a_clean_stop(tmp_path):
    """Regression: a SIGTERM between worker 0 serving and the others being ready made the parent exit 1."""
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--processes", "2", "--address", "127.0.0.1:0",
         "--data-dir", str(tmp_path), "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if "worker 0 (pid" in line or not line:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_workers_of_a_killed_supervisor_stop_instead_of_holding_the_port(tmp_path):
    # Regression: SIGKILL of the parent left its workers serving (and spinning) as orphans for good.
    host = start_host(tmp_path)
    workers: set[int] = set()
    try:
        workers.update(host.channels_by_worker(2))
        host.process.send_signal(signal.SIGKILL)
        host.process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "a worker outlived its supervisor"
    finally:
        host.close()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
