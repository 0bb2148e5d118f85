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
from datetime import datetime, timezone

import grpc
from segflow.server.history.journal import Journal
from segflow.server.history.records import DataRecord
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


def test_a_worker_stopped_while_it_starts_replays_its_journal(tmp_path):
    """Regression (the flake of test_sigkill_with_sync_durability_loses_no_acknowledged_row): a SIGTERM while
    worker 1 was still importing killed it before its handler was in place, so the records a killed run had
    journaled for it stayed unwritten after a clean stop. Now the signal waits until the worker can handle it."""
    row = DataRecord(session_id="journaled", customer_id="", decision_id="d", ruleset_version=1,
                     time=datetime.now(timezone.utc), action_id="a", table="cart_adds", columns={"sku": "S"})
    journal = Journal(tmp_path / "workers" / "1", submit=lambda record: None)
    journal.replay(lambda records: None)  # opens an empty journal
    journal.submit(row)  # and no checkpoint: as a run killed before its writer caught up leaves it
    journal.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--processes", "2", "--address", "127.0.0.1:0",
         "--data-dir", str(tmp_path), "--history-durability", "sync", "--log-level", "INFO"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, lines = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            lines.append(process.stderr.readline())
            if "worker 0 (pid" in lines[-1] or not lines[-1]:
                break
        process.send_signal(signal.SIGTERM)  # worker 1 has just been spawned: it is still importing
        assert process.wait(timeout=60) == 0, "".join(lines) + process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    with sqlite3.connect(tmp_path / "history.db") as db:
        assert db.execute("SELECT COUNT(*) FROM data_rows WHERE session_id = 'journaled'").fetchone() == (1,)


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
