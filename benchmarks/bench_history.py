"""History write benchmark: rows/s into PostgreSQL and SQLite, the sink's batches against the paths they replace.

    python -m benchmarks.bench_history [--quick] [--rounds 5] [--batches 20] [--out benchmarks/results/history.json]

Each batch is the history writer's: 500 records, a mix of contacts, logged data rows, journey steps and session
summaries, as a busy visit makes them. Per database, every round times each path on the same batches (in a
rotating order, tables emptied before each): `sink` (SQLSink.write_batch, what the writer calls: COPY in
PostgreSQL, executemany in SQLite), `executemany` (the sink before COPY: one executemany per record type),
`multi-row` (one INSERT ... VALUES (...), (...) per record type), `row by row` (one INSERT per record), all one
transaction per batch, and `writer` (HistoryWriter over the sink: submit every record, then flush). Figures are
medians over rounds, and ratios against executemany measured in the same run. PostgreSQL is the one the tests
use (SEGFLOW_TEST_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test), in a schema of its own that is
dropped afterwards; it is skipped, and says so, when it does not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from segflow.server.history import ContactRecord, DataRecord, HistoryWriter, JourneyRecord, SessionSummary, open_sink
from segflow.server.history.backends import PostgresBackend
from segflow.server.history.database import Transaction
from segflow.server.history.schema import RECORD_TABLES, insert_statement, row_builder
from segflow.server.history.sinks import SQLSink

POSTGRES_DSN = os.environ.get("SEGFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 500
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def visit_records(n: int) -> list:
    """The records of visit `n`: 4 contacts, 2 data rows, a journey step and the summary (8 records)."""
    keys = {"session_id": f"visit-{n}", "customer_id": f"c-{n % 997}", "decision_id": f"d-{n}", "ruleset_version": 7}
    at = T0 + timedelta(seconds=n)
    contacts = [ContactRecord(**keys, time=at, action_id=f"a-{n}-{k}", offer_code=f"OFFER{k}",
                              treatment_code=f"t-{n}-{k}", interaction_point="cart_sidebar",
                              treatment_rule_id=f"t-rule-{k}", segment="big_spenders", score=1.5 + k)
                for k in range(4)]
    data = [DataRecord(**keys, time=at, action_id=f"a-{n}-d{k}", table="cart_adds",
                       columns={"sku": f"TV-{k}", "price": 650.0, "qty": k + 1, "gift": False, "at": at})
            for k in range(2)]
    journey = JourneyRecord(**keys, time=at, action_id=f"a-{n}-j", journey="cart_recovery", transition="start",
                            step=1, event_name="add_to_cart")
    summary = SessionSummary(**keys, channel="web", audience_level="Customer", anonymous=False,
                             started_at=at - timedelta(minutes=5), ended_at=at, end_reason="ended", event_count=12,
                             segments=["big_spenders", "likely_buyers"], attributes={"cart_total": 650.0, "vip": False})
    return [*contacts, *data, journey, summary]


def batches(count: int) -> list[list]:
    records = [record for n in range(count * BATCH // 8 + 1) for record in visit_records(n)]
    return [records[k * BATCH:(k + 1) * BATCH] for k in range(count)]


def grouped(sink: SQLSink, batch: list) -> dict:
    """The batch's rows per table, encoded as the sink encodes them."""
    builders = {record_type: row_builder(table, sink.database.backend.encoders)
                for record_type, table in RECORD_TABLES.items()}
    rows: dict = {}
    for record in batch:  # by record type, as the sink does (a Table's hash walks all its columns)
        rows.setdefault(type(record), []).append(builders[type(record)](record))
    return {RECORD_TABLES[record_type]: type_rows for record_type, type_rows in rows.items()}


def executemany(tx: Transaction, rows: dict) -> None:
    for table, table_rows in rows.items():
        tx.executemany(insert_statement(table), table_rows)


def multi_row(tx: Transaction, rows: dict) -> None:
    for table, table_rows in rows.items():
        one = f"({', '.join('?' * len(table.columns))})"
        insert = insert_statement(table).partition(" VALUES ")[0]
        tx.execute(f"{insert} VALUES {', '.join([one] * len(table_rows))}", [v for row in table_rows for v in row])


def row_by_row(tx: Transaction, rows: dict) -> None:
    for table, table_rows in rows.items():
        for row in table_rows:
            tx.execute(insert_statement(table), row)


def transactions(sink: SQLSink, write: Callable[[Transaction, dict], None]) -> Callable[[list[list]], None]:
    """A path writing each batch in one transaction with `write` (rows encoded beforehand, as the sink does)."""
    def run(all_batches: list[list]) -> None:
        for rows in [grouped(sink, batch) for batch in all_batches]:
            with sink.database.transaction() as tx:
                write(tx, rows)
    return run


def through_sink(sink: SQLSink) -> Callable[[list[list]], None]:
    def run(all_batches: list[list]) -> None:
        for batch in all_batches:
            sink.write_batch(batch)
    return run


def through_writer(sink: SQLSink) -> Callable[[list[list]], None]:
    class Borrowed:  # the writer closes its sink; the next path still needs this one
        write_batch, purge_anonymous = sink.write_batch, sink.purge_anonymous

        def close(self) -> None:
            pass

    def run(all_batches: list[list]) -> None:
        writer = HistoryWriter(Borrowed(), batch_size=BATCH)
        for batch in all_batches:
            for record in batch:
                writer.submit(record)
        assert writer.close(timeout=600) and writer.stats()["failed"] == 0
    return run


PATHS = {"sink": through_sink, "executemany": lambda sink: transactions(sink, executemany),
         "multi-row": lambda sink: transactions(sink, multi_row),
         "row by row": lambda sink: transactions(sink, row_by_row), "writer": through_writer}


def empty(sink: SQLSink) -> None:
    names = ", ".join(table.name for table in RECORD_TABLES.values())
    with sink.database.transaction() as tx:
        if isinstance(sink.database.backend, PostgresBackend):
            tx.execute(f"TRUNCATE {names}")
        else:
            for table in RECORD_TABLES.values():
                tx.execute(f"DELETE FROM {table.name}")


def measure(sink: SQLSink, all_batches: list[list], rounds: int) -> dict[str, float]:
    """Median rows/s per path."""
    paths = {name: make(sink) for name, make in PATHS.items()}
    rows = sum(map(len, all_batches))
    rates: dict[str, list[float]] = {name: [] for name in paths}
    for round_number in range(rounds):
        order = list(paths)
        order = order[round_number % len(order):] + order[:round_number % len(order)]
        for name in order:
            empty(sink)
            started = time.perf_counter()
            paths[name](all_batches)
            rates[name].append(rows / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in rates.items()}


def postgres_url() -> str | None:
    """A URL with a fresh schema, or None when PostgreSQL does not answer."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        print(f"PostgreSQL skipped: {POSTGRES_DSN} does not answer ({error})")
        return None
    return f"{POSTGRES_DSN}?schema=bench_history_{uuid.uuid4().hex[:8]}"


def drop_schema(url: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_DSN, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {url.rpartition('schema=')[2]} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 batches, 1 round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20, help=f"batches of {BATCH} records per measurement")
    parser.add_argument("--out", default="benchmarks/results/history.json")
    args = parser.parse_args()
    rounds, count = (1, 2) if args.quick else (args.rounds, args.batches)
    all_batches = batches(count)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        targets = [("SQLite", f"sqlite:///{directory}/history.db")]
        if (url := postgres_url()) is not None:
            targets.insert(0, ("PostgreSQL", url))
        for name, url in targets:
            sink = open_sink(url)
            try:
                rates = measure(sink, all_batches, rounds)
            finally:
                sink.close()
                if name == "PostgreSQL":
                    drop_schema(url)
            reference = rates["executemany"]
            print(f"{name}: {count} batches of {BATCH} records, median of {rounds} round(s)")
            for path, rate in rates.items():
                print(f"  {path:12} {rate:>10,.0f} rows/s  {rate / reference:5.2f}x executemany")
            results.append({"database": name, "rows_per_second": {k: round(v) for k, v in rates.items()},
                            "vs_executemany": {k: round(v / reference, 3) for k, v in rates.items()}})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "history", "python": platform.python_version(), "quick": args.quick,
                               "batch": BATCH, "batches": count, "rounds": rounds, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
