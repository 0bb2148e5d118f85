"""Where a `Database` gets its connections: SQLite's one shared connection, or a bounded PostgreSQL pool.

SQLite lets one writer in at a time anyway, and an in-memory database exists only on its one connection, so its
connection is shared and the callers take turns. PostgreSQL serves the history writer and the readers (ruleset
versions, profiles) from a pool (psycopg_pool), so a read never waits behind a history batch, and connections
the server dropped (a restart, pg_terminate_backend) are replaced without failing a call.
"""

from __future__ import annotations

import contextlib
import select
import threading
from typing import Any, Callable, Iterator


class SharedConnection:
    """One connection, lent to one caller at a time."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        with self._lock:
            yield self._connection

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class PooledConnections:
    """A psycopg_pool pool of 1 to `size` connections; a caller waits at most `timeout` seconds for one (then
    psycopg_pool.PoolTimeout)."""

    def __init__(self, dsn: str, configure: Callable[[Any], None], *, size: int, timeout: float, name: str) -> None:
        from psycopg_pool import ConnectionPool  # Only deployments that use PostgreSQL need psycopg_pool installed.

        self._pool = ConnectionPool(dsn, min_size=1, max_size=size, timeout=timeout, name=name, open=False,
                                    kwargs={"autocommit": True}, configure=configure, check=self._check)
        self._pool.open(wait=True, timeout=timeout)

    def connection(self) -> contextlib.AbstractContextManager[Any]:
        return self._pool.connection()

    def close(self) -> None:
        self._pool.close()

    def _check(self, connection: Any) -> None:
        """Refuse a connection the server has hung up (checked without a round trip: an idle connection has
        nothing to read until the server says goodbye); then test the other idle ones too, since a restart
        dropped them all, so the caller waits for one new connection instead of trying each dead one."""
        poll = select.poll()
        poll.register(connection.fileno(), select.POLLIN)
        if poll.poll(0):
            connection.close()  # so the pool discards it
            self._pool.check()
            raise ConnectionError("the PostgreSQL server closed this idle connection")
