"""SIGTERM of `segflow serve` under load while the history database is slow (every PostgreSQL insert waits in
a trigger): no acknowledged row is lost. What the drain timeout leaves unwritten is spilled under --data-dir
and written at the next start; a stop that can do neither exits 1 with the count (#11.3). In-flight and
late calls end OK or UNAVAILABLE, never CANCELLED. With --history-durability sync, not even SIGKILL loses an
acknowledged row (#11.10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import grpc
import pytest
from segflow.v1 import action_pb2, decision_service_pb2_grpc

from tests.history.conftest import POSTGRES_DSN
from tests.service.calls import event, start
from tests.service.test_serve_process import free_port, wait_until_serving

SLOW_INSERTS = """
CREATE FUNCTION slow_insert() RETURNS trigger AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER slow BEFORE INSERT ON data_rows FOR EACH ROW EXECUTE FUNCTION slow_insert();
"""


@pytest.fixture
def database():
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_DSN}: {error}")
    schema = f"segflow_durability_{uuid.uuid4().hex[:12]}"

    def run(sql: str) -> list[tuple]:
        admin.execute(f"SET search_path TO {schema}")
        cursor = admin.execute(sql)
        return cursor.fetchall() if cursor.description else []

    try:
        yield f"{POSTGRES_DSN}?schema={schema}", run
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.close()


def serve(url: str, data_dir, port: int, log: Path, *flags: str) -> subprocess.Popen:
    """`segflow serve` logging to `log` (a pipe nobody reads would fill up and stall it)."""
    with open(log, "a") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "segflow.server.cli", "serve", "--address", f"127.0.0.1:{port}", "--data-dir",
             str(data_dir), "--history-url", url, "--history-drain-seconds", "0.5", "--grace-seconds", "3",
             "--log-level", "WARNING", *flags], stdout=subprocess.DEVNULL, stderr=stderr, text=True,
            start_new_session=True)  # its own process group: the supervisor and its workers, killed together


class Load:
    """Threads posting add_to_cart (one logged data row each) until the server stops answering."""

    def __init__(self, port: int, threads: int = 4):
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = decision_service_pb2_grpc.DecisionServiceStub(self.channel)
        self.acknowledged: list[str] = []  # action ids of the data rows in answered calls
        self.errors: list[grpc.StatusCode] = []
        self.threads = [threading.Thread(target=self._visit, args=(f"visit-{n}",)) for n in range(threads)]

    def __enter__(self) -> "Load":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for thread in self.threads:
            thread.join(30)
        self.channel.close()

    def _visit(self, session: str) -> None:
        deadline = time.monotonic() + 30
        try:
            self.stub.StartSession(start(session), timeout=5)
            while time.monotonic() < deadline:
                response = self.stub.PostEvent(event(session, "add_to_cart", sku="TV", price=10.0), timeout=5)
                self.acknowledged += [a.action_id for a in response.actions
                                      if a.type == action_pb2.ACTION_TYPE_LOG_DATA and a.state != action_pb2.ACTION_STATE_ERRORED]
        except grpc.RpcError as error:
            self.errors.append(error.code())


def loaded_then_stopped(url: str, data_dir, run, log: Path) -> tuple[Load, subprocess.Popen]:
    port = free_port()
    process = serve(url, data_dir, port, log)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, process)
        run(SLOW_INSERTS)
        with Load(port) as load:
            time.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return load, process


def written_ids(run) -> set[str]:
    return {action_id for (action_id,) in run("SELECT action_id FROM data_rows")}


def test_sigterm_with_a_slow_database_spills_what_it_cannot_write_and_the_next_start_writes_it(tmp_path, database):
    url, run = database
    log = tmp_path / "serve.log"
    load, process = loaded_then_stopped(url, tmp_path / "data", run, log)
    stderr = log.read_text()
    assert process.returncode == 0, stderr
    assert set(load.errors) <= {grpc.StatusCode.UNAVAILABLE}, load.errors
    acknowledged = set(load.acknowledged)
    assert len(acknowledged) > 100 and "spilled to" in stderr
    assert not acknowledged <= written_ids(run)  # the slow database really was behind
    run("DROP TRIGGER slow ON data_rows")
    port = free_port()
    again = serve(url, tmp_path / "data", port, log)  # the spill is written as it starts
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, again)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0, log.read_text()
    finally:
        if again.poll() is None:
            again.kill()
    assert acknowledged <= written_ids(run)
    assert list((tmp_path / "data" / "history-spill").glob("*.pickle")) == []


def test_a_stop_that_can_neither_write_nor_spill_exits_1_with_the_count(tmp_path, database):
    url, run = database
    not_a_directory = tmp_path / "data-dir-is-a-file"
    not_a_directory.write_text("")
    log = tmp_path / "serve.log"
    load, process = loaded_then_stopped(url, not_a_directory, run, log)
    stderr = log.read_text()
    assert process.returncode == 1, stderr
    lost = int(stderr.rsplit("segflow: ", 1)[1].split()[0])  # of every kind of record, not only data rows
    assert "could be neither written nor spilled" in stderr
    assert 0 < len(set(load.acknowledged) - written_ids(run)) <= lost


def test_sigkill_with_sync_durability_loses_no_acknowledged_row(tmp_path, database):
    url, run = database
    log, port = tmp_path / "serve.log", free_port()
    process = serve(url, tmp_path / "data", port, log, "--history-durability", "sync")
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, process)
        run(SLOW_INSERTS)
        with Load(port) as load:
            time.sleep(1.0)
            # The whole server dies at once (supervisor and workers, as a crash or systemd's SIGKILL of the unit's
            # cgroup): killing the supervisor alone left its workers draining into a spill file while the
            # restart below had already replayed the spills (the flake this test had under load).
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    acknowledged = set(load.acknowledged)
    assert len(acknowledged) > 100 and not acknowledged <= written_ids(run)  # the kill did cut the writer short
    run("DROP TRIGGER slow ON data_rows")
    port = free_port()
    again = serve(url, tmp_path / "data", port, log, "--history-durability", "sync")  # writes the journal
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, again)
        again.send_signal(signal.SIGTERM)
        assert again.wait(timeout=30) == 0, log.read_text()
    finally:
        if again.poll() is None:
            again.kill()
    assert acknowledged <= written_ids(run)
