"""The history database, shared by the history sink, the ruleset versions and the profile store.

Each transaction takes a connection from the back end (`connections`: SQLite's one shared connection, whose
callers take turns; PostgreSQL's bounded pool, which replaces connections the server dropped) for as long as
the transaction runs.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

from segflow.server.history.backends import Backend, backend_for_url
from segflow.server.history.migrations import migrate
from segflow.server.history.schema import Table


class Transaction:
    """Statements run inside one transaction, written with `?` placeholders."""

    def __init__(self, backend: Backend, cursor: Any) -> None:
        self._backend = backend
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns the cursor (for fetchone/fetchall/rowcount)."""
        self._cursor.execute(self._backend.sql(sql), params)
        return self._cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        self._cursor.executemany(self._backend.sql(sql), rows)

    def insert(self, table: Table, rows: list[tuple]) -> None:
        """Insert full rows of `table` in bulk (PostgreSQL: COPY)."""
        self._backend.insert_rows(self._cursor, table, rows)


class Database:
    """The history database: opened on a back end, its schema migrated to this code's version."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._closed = False
        self._connections = backend.connections()
        migrate(self)

    @classmethod
    def open(cls, url: str) -> Database:
        """Open the database a URL names (see `backend_for_url`)."""
        return cls(backend_for_url(url))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold a connection for one transaction: committed when the block exits, rolled back if it raises."""
        if self._closed:
            raise RuntimeError("the history database is closed")
        with self._connections.connection() as connection:
            cursor = connection.cursor()
            try:
                with self.backend.transaction(connection):
                    yield Transaction(self.backend, cursor)
            finally:
                cursor.close()

    def close(self) -> None:
        """Close the connections; idempotent."""
        if not self._closed:
            self._closed = True
            self._connections.close()
