"""Deployed ruleset versions, numbered and kept in the history database with author, time and digest.

Deploys are rare, so versions are written synchronously (not through the history writer). The active version
is a column, so it survives restarts; each channel has exactly one active version once any of its versions has
been activated (one server serves one ruleset per channel). Numbers are shared by all channels: a version number
alone names a version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from segflow.server.history.database import Database
from segflow.server.history.schema import RULESET_VERSIONS, insert_statement, row_builder

_COLUMNS = ", ".join(RULESET_VERSIONS.column_names)
_SELECT = f"SELECT {_COLUMNS} FROM ruleset_versions"


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """A deployed ruleset: its number, identity, provenance, source and compiled message bytes."""

    version: int
    name: str
    channel: str
    digest: str
    author: str
    comment: str
    deployed_at: datetime
    source_yaml: str
    ruleset_bytes: bytes
    active: bool


class RulesetVersions:
    """The ruleset versions stored in a history `Database` (e.g. `sink.database`)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        backend = database.backend
        self._decoders = [backend.decoders[column.kind] for column in RULESET_VERSIONS.columns]
        self._row = row_builder(RULESET_VERSIONS, backend.encoders)

    def add(
        self,
        name: str,
        channel: str,
        digest: str,
        author: str,
        comment: str,
        source_yaml: str,
        ruleset_bytes: bytes,
        *,
        deployed_at: datetime | None = None,
    ) -> VersionRecord:
        """Store a new, inactive version numbered one past the highest so far; `deployed_at` defaults to now."""
        when = deployed_at or datetime.now(timezone.utc)
        # Replicas number versions one at a time (SQLite: the write lock; PostgreSQL: an advisory lock).
        with self._database.transaction() as tx:
            for statement, params in self._database.backend.exclusive("ruleset_versions"):
                tx.execute(statement, params)
            (number,) = tx.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM ruleset_versions").fetchone()
            record = VersionRecord(
                number, name, channel, digest, author, comment, when, source_yaml, bytes(ruleset_bytes), False
            )
            tx.execute(insert_statement(RULESET_VERSIONS), self._row(record))
        return record

    def get(self, version: int) -> VersionRecord | None:
        """The version numbered `version`, or None."""
        return self._one(f"{_SELECT} WHERE version = ?", (version,))

    def list(self, limit: int, before_version: int | None = None, channel: str = "") -> list[VersionRecord]:
        """Up to `limit` versions, newest first, all older than `before_version` when given (for paging), of
        `channel` only when given."""
        where = [("version < ?", before_version)] if before_version is not None else []
        where += [("channel = ?", channel)] if channel else []
        clause = f"WHERE {' AND '.join(test for test, _ in where)} " if where else ""
        return self._all(f"{_SELECT} {clause}ORDER BY version DESC LIMIT ?", (*(v for _, v in where), limit))

    def with_digest(self, digest: str) -> VersionRecord | None:
        """The newest version whose ruleset has this digest, or None."""
        return self._one(f"{_SELECT} WHERE digest = ? ORDER BY version DESC LIMIT 1", (digest,))

    def latest(self) -> VersionRecord | None:
        """The newest version, or None when nothing was ever deployed."""
        return self._one(f"{_SELECT} ORDER BY version DESC LIMIT 1", ())

    def set_active(self, version: int) -> None:
        """Make `version` the only active version of its channel (other channels' stay as they are); raises
        KeyError for an unknown version."""
        with self._database.transaction() as tx:
            found = tx.execute("SELECT channel FROM ruleset_versions WHERE version = ?", (version,)).fetchone()
            if found is None:
                raise KeyError(f"no ruleset version {version}")
            tx.execute("UPDATE ruleset_versions SET active = (version = ?) WHERE channel = ? AND (active OR "
                       "version = ?)", (version, found[0], version))

    def active(self, channel: str) -> VersionRecord | None:
        """The active version of `channel`, or None when none of its versions was activated."""
        return self._one(f"{_SELECT} WHERE active AND channel = ?", (channel,))

    def active_versions(self) -> list[VersionRecord]:
        """The active version of every channel, by channel name."""
        return self._all(f"{_SELECT} WHERE active ORDER BY channel", ())

    def _one(self, sql: str, params: tuple) -> VersionRecord | None:
        found = self._all(sql, params)
        return found[0] if found else None

    def _all(self, sql: str, params: tuple) -> list[VersionRecord]:
        with self._database.transaction() as tx:
            rows = tx.execute(sql, params).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: Any) -> VersionRecord:
        return VersionRecord(*(decode(value) for decode, value in zip(self._decoders, row)))
