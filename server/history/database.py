"""One connection to the history database, shared by the history sink and the ruleset versions.

The connection is guarded by a lock: the writer thread and deploys take turns, one transaction at a time.
A connection the back end reports broken (the server restarted) is reopened at the next transaction.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Sequence

from segflow.server.history.backends import Backend, backend_for_url
from segflow.server.history.migrations import migrate


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


class Database:
    """The history database: opened on a back end, its schema migrated to this code's version."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._closed = False
        self._connection: Any = backend.connect()
        migrate(self)

    @classmethod
    def open(cls, url: str) -> Database:
        """Open the database a URL names (see `backend_for_url`)."""
        return cls(backend_for_url(url))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Hold the connection for one transaction: committed when the block exits, rolled back if it raises."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the history database is closed")
            if self.backend.is_broken(self._connection):
                self._reconnect()
            cursor = self._connection.cursor()
            try:
                with self.backend.transaction(self._connection):
                    yield Transaction(self.backend, cursor)
            finally:
                cursor.close()

    def close(self) -> None:
        """Close the connection; idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._connection.close()

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()
        self._connection = self.backend.connect()
