"""The PostgreSQL pool: readers never wait behind the writer, and connections the server dropped are replaced
without failing a read or a batch."""

from __future__ import annotations

import threading
import uuid

import pytest

from segflow.server.history import HistoryWriter, RulesetVersions, open_sink
from segflow.server.history.backends import backend_for_url
from tests.history.conftest import POSTGRES_DSN, contact


def hold_connections(database, count: int) -> None:
    """Run `count` transactions at once, so the pool opens that many connections."""
    together = threading.Barrier(count)

    def hold() -> None:
        with database.transaction():
            together.wait(10)

    threads = [threading.Thread(target=hold) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_connections_the_server_dropped_are_replaced_without_failing_a_call(postgres_target):
    psycopg = pytest.importorskip("psycopg")
    name = f"segflow_test_{uuid.uuid4().hex[:8]}"
    sink = open_sink(f"{postgres_target.url}&application_name={name}&pool_size=3")
    versions = RulesetVersions(sink.database)
    writer = HistoryWriter(sink, retries=0)  # a batch that met a dead connection would be given up
    hold_connections(sink.database, 3)
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        (killed,) = admin.execute(  # as a restart does; waits until each backend is gone
            "SELECT COUNT(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert killed == 3
    assert versions.latest() is None
    writer.submit(contact(1))
    assert writer.flush(timeout=10)
    assert writer.close()
    assert writer.stats()["failed"] == 0
    assert postgres_target.read("SELECT offer_code FROM contacts") == [("OFFER1",)]


def test_a_read_does_not_wait_behind_a_history_batch(postgres_target):
    sink = postgres_target.open()
    versions = RulesetVersions(sink.database)
    batch_started, batch_may_end = threading.Event(), threading.Event()

    def slow_batch() -> None:
        with sink.database.transaction():
            batch_started.set()
            batch_may_end.wait(10)

    writer = threading.Thread(target=slow_batch)
    writer.start()
    assert batch_started.wait(10)
    assert versions.latest() is None  # with one shared connection this would wait for the batch
    batch_may_end.set()
    writer.join()
    sink.close()


@pytest.mark.parametrize("size", ["0", "65", "x", "-1"])
def test_pool_size_is_bounded(size):
    with pytest.raises(ValueError, match="pool_size"):
        backend_for_url(f"postgresql://u@db/app?pool_size={size}")


def test_pool_size_is_not_passed_to_the_driver():
    backend = backend_for_url("postgresql://u@db/app?pool_size=8&sslmode=require")
    assert (backend.pool_size, backend.dsn) == (8, "postgresql://u@db/app?sslmode=require")
