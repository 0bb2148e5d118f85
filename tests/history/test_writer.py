"""The history writer: batching, flush and close semantics, back-pressure, retries and failure accounting."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import uuid

import pytest

from segflow.server.history import HistoryClosed, HistoryFull, HistoryWriter, SQLiteSink, open_sink
from segflow.server.history.spill import Spill
from tests.history.conftest import POSTGRES_DSN, RecordingSink, contact, data_row


class CountingSink(SQLiteSink):
    """A real SQLite sink that counts its transactions."""

    transactions = 0

    def write_batch(self, records):
        unencodable = super().write_batch(records)
        self.transactions += 1
        return unencodable


def test_many_submits_are_written_in_few_transactions(sqlite_target):
    sink = CountingSink(sqlite_target.url.removeprefix("sqlite:///"))
    writer = HistoryWriter(sink, batch_size=500, flush_interval=5.0)
    for n in range(2_000):
        writer.submit(contact(n))
    assert writer.flush(timeout=10)
    assert sqlite_target.read("SELECT COUNT(*) FROM contacts") == [(2_000,)]
    assert 4 <= sink.transactions <= 8
    assert writer.stats() | {"batches": 0} == {
        "submitted": 2_000, "written": 2_000, "failed": 0, "queued": 0, "batches": 0, "rejected": 0,
        "quarantined": 0, "lost": 0
    }
    assert writer.stats()["batches"] == sink.transactions
    writer.close()


def test_records_are_written_within_the_flush_interval_without_asking():
    sink = RecordingSink()
    writer = HistoryWriter(sink, batch_size=500, flush_interval=0.02)
    writer.submit(contact(1))
    deadline = time.monotonic() + 2.0
    while not sink.records and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sink.records == [contact(1)]
    writer.close()


def test_flush_waits_for_earlier_records_and_reports_a_timeout():
    sink = RecordingSink()
    writer = HistoryWriter(sink, batch_size=10, flush_interval=60.0)
    for n in range(25):
        writer.submit(contact(n))
    assert writer.flush(timeout=5)  # Does not wait out the 60 s interval.
    assert sink.records == [contact(n) for n in range(25)]

    sink.gate.clear()
    writer.submit(contact(99))
    assert writer.flush(timeout=0.05) is False
    sink.gate.set()
    assert writer.flush(timeout=5)
    assert sink.records[-1] == contact(99)
    writer.close()


def test_close_writes_everything_submitted(sqlite_target):
    sink = sqlite_target.open()
    writer = HistoryWriter(sink, flush_interval=60.0)
    for n in range(10_000):
        writer.submit(contact(n))
    assert writer.close()
    assert sqlite_target.read("SELECT COUNT(*), COUNT(DISTINCT action_id) FROM contacts") == [(10_000, 10_000)]
    assert writer.stats()["written"] == 10_000


def test_close_is_idempotent_and_later_submits_are_refused():
    sink = RecordingSink()
    writer = HistoryWriter(sink)
    writer.submit(contact(1))
    assert writer.close()
    assert writer.close()
    assert sink.closed and sink.records == [contact(1)]
    with pytest.raises(HistoryClosed):
        writer.submit(contact(2))
    assert writer.stats()["rejected"] == 1


def test_a_full_queue_refuses_records_without_blocking():
    sink = RecordingSink()
    sink.gate.clear()  # The writer thread takes the first batch and hangs in the sink.
    writer = HistoryWriter(sink, max_queue=5, batch_size=1, flush_interval=0.001)
    writer.submit(contact(0))
    assert sink.entered.wait(timeout=2)
    for n in range(1, 6):
        writer.submit(contact(n))
    started = time.monotonic()
    with pytest.raises(HistoryFull, match="5 records"):
        writer.submit(contact(6))
    assert time.monotonic() - started < 0.1
    assert writer.stats()["rejected"] == 1
    sink.gate.set()
    assert writer.close()
    assert sink.records == [contact(n) for n in range(6)]


def test_a_transient_failure_is_retried():
    sink = RecordingSink(failures=2)
    writer = HistoryWriter(sink, retries=3, retry_backoff=0.001)
    writer.submit(contact(1))
    assert writer.flush(timeout=5)
    assert sink.calls == 3
    assert sink.records == [contact(1)]
    assert writer.stats()["failed"] == 0
    writer.close()


def test_a_lasting_failure_is_logged_and_counted(caplog):
    sink = RecordingSink(failures=100)
    writer = HistoryWriter(sink, retries=2, retry_backoff=0.001)
    writer.submit(contact(1))
    writer.submit(contact(2))
    with caplog.at_level(logging.ERROR, logger="segflow.server.history.writer"):
        assert writer.flush(timeout=5) is False
    # Three attempts at the batch, then one per record.
    assert sink.calls == 5
    assert writer.stats() | {"batches": 0} == {
        "submitted": 2, "written": 0, "failed": 2, "queued": 0, "batches": 0, "rejected": 0,
        "quarantined": 0, "lost": 2
    }
    assert "2 of 2 records not written after 3 attempts" in caplog.text
    assert "database went away" in caplog.text
    assert writer.close() is True  # Nothing else failed since.


def test_one_bad_record_does_not_lose_its_batch(sqlite_target):
    writer = HistoryWriter(sqlite_target.open(), retries=1, retry_backoff=0.001, flush_interval=60.0)
    writer.submit(contact(1))
    writer.submit(data_row({"unstorable": object()}))
    writer.submit(contact(2))
    assert writer.close() is False
    assert sqlite_target.read("SELECT offer_code FROM contacts ORDER BY offer_code") == [("OFFER1",), ("OFFER2",)]
    assert (writer.stats()["written"], writer.stats()["failed"]) == (2, 1)


def test_concurrent_submitters_lose_nothing():
    sink = RecordingSink()
    writer = HistoryWriter(sink, batch_size=64, flush_interval=0.01)

    def submit_many(offset: int) -> None:
        for n in range(offset, offset + 2_000):
            writer.submit(contact(n))

    threads = [threading.Thread(target=submit_many, args=(k * 10_000,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.close()
    assert sorted(record.action_id for record in sink.records) == sorted(
        f"a{k * 10_000 + n}" for k in range(4) for n in range(2_000)
    )


def test_a_dropped_postgres_connection_is_reopened_and_the_batch_retried(postgres_target):
    psycopg = pytest.importorskip("psycopg")
    name = f"segflow_test_{uuid.uuid4().hex[:8]}"
    writer = HistoryWriter(open_sink(f"{postgres_target.url}&application_name={name}"), retry_backoff=0.01)
    writer.submit(contact(1))
    assert writer.flush(timeout=5)
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        (killed,) = admin.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()
    assert killed == 1
    writer.submit(contact(2))
    assert writer.flush(timeout=5)
    assert writer.close()
    assert postgres_target.read("SELECT offer_code FROM contacts ORDER BY offer_code") == [("OFFER1",), ("OFFER2",)]


def test_close_that_times_out_leaves_the_sink_open_and_can_be_retried():
    sink = RecordingSink()
    sink.gate.clear()
    writer = HistoryWriter(sink)
    writer.submit(contact(1))
    assert writer.close(timeout=0.05) is False
    assert not sink.closed
    sink.gate.set()
    assert writer.close(timeout=5)
    assert sink.closed and sink.records == [contact(1)]


def test_a_record_that_cannot_be_encoded_is_quarantined_not_retried(sqlite_target, caplog):
    sink = CountingSink(sqlite_target.url.removeprefix("sqlite:///"))
    writer = HistoryWriter(sink, batch_size=500, flush_interval=5.0, retries=3, retry_backoff=60.0)
    writer.submit(contact(1))
    writer.submit(data_row({"poison": object()}))
    writer.submit(contact(2))
    with caplog.at_level(logging.ERROR, logger="segflow.server.history.writer"):
        assert writer.flush(timeout=10) is False  # a retry would have waited a minute
    assert sink.transactions == 1
    assert sqlite_target.read("SELECT COUNT(*) FROM contacts") == [(2,)]
    assert writer.stats()["quarantined"] == writer.stats()["failed"] == 1
    assert "cannot be stored" in caplog.text
    assert writer.close() is True


def test_nan_and_infinities_in_json_columns_are_stored_not_dropped(target):
    writer = HistoryWriter(target.open())
    writer.submit(data_row({"nan": float("nan"), "list": [float("inf"), -float("inf"), 1.5]}))
    assert writer.close()
    [(data,)] = target.read("SELECT data FROM data_rows")
    data = json.loads(data) if isinstance(data, str) else data
    assert data == {"nan": "NaN", "list": ["Infinity", "-Infinity", 1.5]}


def test_records_the_database_keeps_refusing_are_spilled_and_written_at_the_next_start(tmp_path, sqlite_target):
    spill = Spill(tmp_path / "spill")
    writer = HistoryWriter(RecordingSink(failures=100), retries=1, retry_backoff=0.001, spill=spill.write)
    writer.submit(contact(1))
    writer.submit(contact(2))
    assert writer.flush(timeout=5) is False
    assert writer.stats()["failed"] == 2 and writer.stats()["lost"] == 0
    writer.close()
    sink = sqlite_target.open()
    assert spill.replay(sink.write_batch) == 2
    assert sqlite_target.read("SELECT COUNT(*) FROM contacts") == [(2,)]
    assert list((tmp_path / "spill").iterdir()) == []
    sink.close()


def test_drain_returns_what_a_stuck_database_did_not_take():
    sink = RecordingSink()
    sink.gate.clear()  # the database hangs
    writer = HistoryWriter(sink, batch_size=2, flush_interval=0.01)
    for n in range(5):
        writer.submit(contact(n))
    left = writer.drain(timeout=0.3)
    assert sorted(r.offer_code for r in left) == sorted(contact(n).offer_code for n in range(5))
    sink.gate.set()


def test_nul_in_text_and_json_is_stored_not_refused(target):
    """PostgreSQL text and JSONB cannot hold NUL: a request's NUL made every batch it was in fail, then the
    record was spilled and refused again at every start. It is stored as U+FFFD there; SQLite keeps it."""
    writer = HistoryWriter(target.open(), retries=0)
    writer.submit(dataclasses.replace(contact(1), segment="a\x00b"))
    writer.submit(data_row({"note\x00": ["x\x00y", 1]}))
    assert writer.close()
    assert writer.stats()["failed"] == 0
    nul = "\x00" if target.url.startswith("sqlite") else "\ufffd"
    assert target.read("SELECT segment FROM contacts") == [(f"a{nul}b",)]
    [(data,)] = target.read("SELECT data FROM data_rows")
    assert target.as_json(data) == {f"note{nul}": [f"x{nul}y", 1]}
