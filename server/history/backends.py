"""What differs between SQLite and PostgreSQL: connecting, transactions, type names, value conversion and how
rows are inserted in bulk.

SQL text is written once (in `schema` and `versions`) with `?` placeholders; a back end only renames types,
rewrites placeholders, and converts values. No SQL statement text here may contain a literal `?` or `%`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from segflow.server.history.connections import PooledConnections, SharedConnection
from segflow.server.history.schema import Kind, Table, insert_statement, same

Converter = Callable[[Any], Any]
# Connections per PostgreSQL database object (the history writer and readers share them; profiles have their
# own), and how long a caller waits for one when all are busy or the server is down.
POOL_SIZE = 4
MAX_POOL_SIZE = 64
POOL_TIMEOUT = 5.0
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    raise TypeError(f"cannot store {type(value).__name__} {value!r} in history JSON")


# Built once: json.dumps with options builds an encoder per call.
_JSON = json.JSONEncoder(default=_json_default, allow_nan=False, separators=(",", ":"))
# The same encoder's C part, built once too (JSONEncoder.encode builds it again on every call: about half of
# encoding a history row's columns), without the check for circular references: what history stores has none,
# and one would end in RecursionError, which _to_json hands to the checking encoder to say ValueError as before.
_FAST = (json.encoder.c_make_encoder(None, _json_default, json.encoder.encode_basestring_ascii, None, ":", ",",
                                     False, False, False) if json.encoder.c_make_encoder is not None else None)


def _to_json(value: Any) -> str:
    """JSON text; NaN and infinities (which JSON has not) are written as protobuf's JSON writes them: "NaN",
    "Infinity", "-Infinity"."""
    try:
        return "".join(_FAST(value, 0)) if _FAST is not None else _JSON.encode(value)
    except RecursionError:
        return _JSON.encode(value)  # raises ValueError for a circular reference, RecursionError for depth
    except ValueError:
        return _JSON.encode(_each(value, _finite))


def _each(value: Any, change: Callable[[Any], Any]) -> Any:
    """`value` with `change` applied to every key and scalar inside its dicts and lists."""
    if isinstance(value, dict):
        return {_each(key, change): _each(item, change) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_each(item, change) for item in value]
    return change(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def _postgres_text(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL (SQLite's can): it is stored as U+FFFD, so the row is not refused."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _postgres_json(value: Any) -> str:
    """JSON text for JSONB, which refuses the escape \\u0000: NUL in strings is stored as U+FFFD."""
    text = _to_json(value)
    return _to_json(_each(value, _postgres_text)) if "\\u0000" in text else text


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"history times must be timezone-aware, got naive {value!r}")
    return value.astimezone(timezone.utc)


def _utc_text(value: datetime) -> str:
    return _utc(value).isoformat(timespec="microseconds")


class Backend:
    """A database engine and where to find it; `Database` asks it for everything engine-specific."""

    type_names: dict[Kind, str]
    encoders: dict[Kind, Converter]
    decoders: dict[Kind, Converter]

    def connect(self) -> Any:
        """Open a DB-API connection in autocommit mode, with the history schema in scope."""
        raise NotImplementedError

    def connections(self) -> SharedConnection | PooledConnections:
        """Where a `Database` on this back end gets its connections (see `connections`)."""
        return SharedConnection(self.connect())

    def transaction(self, connection: Any) -> contextlib.AbstractContextManager[None]:
        """Context manager running its body in one transaction: committed on exit, rolled back on error."""
        raise NotImplementedError

    def insert_rows(self, cursor: Any, table: Table, rows: list[tuple]) -> None:
        """Insert full rows of `table` (parameter tuples of `schema.row_builder`) in the fastest way available."""
        cursor.executemany(self.sql(insert_statement(table)), rows)

    def prepare_statements(self) -> list[tuple[str, tuple]]:
        """Statements (with parameters) that start the migrating transaction: one replica migrates at a time."""
        return self.exclusive("schema")

    def exclusive(self, name: str) -> list[tuple[str, tuple]]:
        """Statements that make the rest of a transaction exclusive, among all replicas, for `name`."""
        return []

    def sql(self, text: str) -> str:
        """`text` with its `?` placeholders in this engine's parameter style."""
        return text


class SQLiteBackend(Backend):
    """An SQLite file in WAL mode (its parent directory is created), or `:memory:`."""

    type_names = {
        Kind.TEXT: "TEXT",
        Kind.INTEGER: "INTEGER",
        Kind.REAL: "REAL",
        Kind.BOOLEAN: "INTEGER",
        Kind.TIME: "TEXT",
        Kind.JSON: "TEXT",
        Kind.BYTES: "BLOB",
    }
    encoders = {kind: same for kind in Kind} | {Kind.BOOLEAN: int, Kind.TIME: _utc_text, Kind.JSON: _to_json}
    decoders = {kind: same for kind in Kind} | {
        Kind.BOOLEAN: bool,
        Kind.TIME: datetime.fromisoformat,
        Kind.JSON: json.loads,
    }

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL survives a crash of the process (not of the machine) and commits far faster.
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @contextlib.contextmanager
    def transaction(self, connection: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so read-then-write bodies (version numbering) are atomic.
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:  # Also after a failed COMMIT, so the next BEGIN can start.
                connection.execute("ROLLBACK")
            raise


class PostgresBackend(Backend):
    """A PostgreSQL database (psycopg 3), with the history tables in their own schema, reached through a pool of
    at most `pool_size` connections."""

    type_names = {
        Kind.TEXT: "TEXT",
        Kind.INTEGER: "BIGINT",
        Kind.REAL: "DOUBLE PRECISION",
        Kind.BOOLEAN: "BOOLEAN",
        Kind.TIME: "TIMESTAMPTZ",
        Kind.JSON: "JSONB",
        Kind.BYTES: "BYTEA",
    }
    # JSON goes as text, which PostgreSQL casts to the JSONB column; psycopg returns JSONB already parsed.
    encoders = {kind: same for kind in Kind} | {Kind.TEXT: _postgres_text, Kind.TIME: _utc, Kind.JSON: _postgres_json}
    decoders = {kind: same for kind in Kind} | {Kind.TIME: _utc, Kind.BYTES: bytes}

    def __init__(self, dsn: str, schema: str = "segflow", pool_size: int = POOL_SIZE) -> None:
        import psycopg  # Only deployments that use PostgreSQL need psycopg installed.

        if not _IDENTIFIER.fullmatch(schema):
            raise ValueError(f"PostgreSQL schema name must be a plain identifier: {schema!r}")
        if not 1 <= pool_size <= MAX_POOL_SIZE:
            raise ValueError(f"PostgreSQL pool_size must be 1 to {MAX_POOL_SIZE}, got {pool_size}")
        self._psycopg = psycopg
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size

    def connect(self) -> Any:
        connection = self._psycopg.connect(self.dsn, autocommit=True)
        self._configure(connection)
        return connection

    def connections(self) -> PooledConnections:
        self.connect().close()  # an unreachable server fails the start at once, with the driver's reason
        return PooledConnections(self.dsn, self._configure, size=self.pool_size, timeout=POOL_TIMEOUT,
                                 name=f"segflow-history-{self.schema}")

    def transaction(self, connection: Any) -> contextlib.AbstractContextManager[None]:
        return connection.transaction()

    def insert_rows(self, cursor: Any, table: Table, rows: list[tuple]) -> None:
        # COPY streams a batch's rows: 1.7x executemany's rows/s, 3.8x row by row (benchmarks/bench_history.py).
        with cursor.copy(f"COPY {table.name} ({', '.join(table.column_names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _configure(self, connection: Any) -> None:
        connection.execute(f'SET search_path TO "{self.schema}"')
        connection.execute("SET TIME ZONE 'UTC'")

    def prepare_statements(self) -> list[tuple[str, tuple]]:
        return [*self.exclusive("schema"), (f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"', ())]

    def exclusive(self, name: str) -> list[tuple[str, tuple]]:
        return [("SELECT pg_advisory_xact_lock(hashtext(?))", (f"segflow.history.{self.schema}.{name}",))]

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")


def backend_for_url(url: str) -> Backend:
    """The back end a URL names: `sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
    `sqlite://:memory:`, or `postgresql://user@host:port/db` (also `postgres://`) with optional query parameters
    `schema=name` (default "segflow") and `pool_size=n` (connections, default 4)."""
    scheme, _, rest = url.partition("://")
    if scheme == "sqlite":
        if rest == ":memory:":
            return SQLiteBackend(":memory:")
        if not rest.startswith("/") or rest == "/":
            raise ValueError(f"sqlite URL needs a path, as sqlite:///path/to/history.db: {url!r}")
        return SQLiteBackend(rest[1:])
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        ours = {key: value for key, value in query if key in ("schema", "pool_size")}
        dsn = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k not in ours])))
        size = ours.get("pool_size", str(POOL_SIZE))
        if not size.isdigit():
            raise ValueError(f"PostgreSQL pool_size must be a number of connections: {size!r}")
        return PostgresBackend(dsn, ours.get("schema", "segflow"), int(size))
    raise ValueError(f"unsupported history URL scheme {scheme!r} in {url!r}: use sqlite:// or postgresql://")
