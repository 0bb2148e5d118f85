"""Where history records end up: the sink interface and its SQL implementation for SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from segflow.server.history.backends import PostgresBackend, SQLiteBackend
from segflow.server.history.database import Database
from segflow.server.history.records import Record
from segflow.server.history.schema import PURGE_STATEMENTS, RECORD_TABLES, Kind, Table, remembering_last, row_builder


class HistorySink(Protocol):
    """Stores batches of history records."""

    def write_batch(self, records: Sequence[Record]) -> Sequence[Record]:
        """Store, in one transaction, every record of `records` that can be encoded as a row, or none of them
        (and raise); returns the records that cannot be encoded (never worth retrying)."""

    def purge_anonymous(self, older_than: datetime) -> int:
        """Delete anonymous sessions that ended before `older_than` (with their anonymous rows);
        returns how many sessions were purged."""

    def close(self) -> None:
        """Release the sink's resources; idempotent."""


class SQLSink:
    """A history sink over a `Database`: one transaction per batch, one bulk insert (PostgreSQL: COPY) per
    record type."""

    def __init__(self, database: Database) -> None:
        self.database = database
        # One time encoder for every table: a call's records, written one after the other, share its time.
        encoders = {**database.backend.encoders, Kind.TIME: remembering_last(database.backend.encoders[Kind.TIME])}
        self._encode_time = encoders[Kind.TIME]
        self._inserts: dict[type, tuple[Table, Callable[[Any], tuple]]] = {
            record_type: (table, row_builder(table, encoders))
            for record_type, table in RECORD_TABLES.items()
        }

    def write_batch(self, records: Sequence[Record]) -> list[Record]:
        rows: dict[type, list[tuple]] = defaultdict(list)
        unencodable = []
        for record in records:
            try:
                rows[type(record)].append(self._inserts[type(record)][1](record))
            except (TypeError, ValueError, KeyError):
                unencodable.append(record)
        if rows:
            with self.database.transaction() as tx:
                for record_type, type_rows in rows.items():
                    tx.insert(self._inserts[record_type][0], type_rows)
        return unencodable

    def purge_anonymous(self, older_than: datetime) -> int:
        cutoff = (self._encode_time(older_than),)
        with self.database.transaction() as tx:
            for statement in PURGE_STATEMENTS:
                purged = tx.execute(statement, cutoff).rowcount
        return purged  # The last statement deletes the summaries: one per session.

    def close(self) -> None:
        self.database.close()


class SQLiteSink(SQLSink):
    """History in an SQLite file (WAL mode; the parent directory is created), or ":memory:"."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Database(SQLiteBackend(path)))


class PostgresSink(SQLSink):
    """History in PostgreSQL through psycopg 3, in its own schema (created if missing)."""

    def __init__(self, dsn: str, schema: str = "segflow") -> None:
        super().__init__(Database(PostgresBackend(dsn, schema)))


def open_sink(url: str) -> SQLSink:
    """The sink a URL names: `sqlite:///relative/history.db`, `sqlite:////abs/history.db`,
    `sqlite://:memory:`, `postgresql://user@host:port/db[?schema=segflow]`."""
    return SQLSink(Database.open(url))
