"""Session summaries read back from history: how GetSession tells a session that expired from one that never
existed, on every process and replica sharing the database."""

from __future__ import annotations

from segflow.server.history.database import Database
from segflow.server.history.records import SessionSummary
from segflow.server.history.schema import SESSION_SUMMARIES

_FIELDS = [column.field or column.name for column in SESSION_SUMMARIES.columns]
_LAST = (f"SELECT {', '.join(SESSION_SUMMARIES.column_names)} FROM session_summaries WHERE session_id = ? "
         "ORDER BY ended_at DESC LIMIT 1")


class SessionSummaries:
    """The session summaries stored in a history `Database` (e.g. `sink.database`)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._decoders = [database.backend.decoders[column.kind] for column in SESSION_SUMMARIES.columns]

    def last(self, session_id: str) -> SessionSummary | None:
        """The latest summary of `session_id` (the visit that ended last under that id), or None."""
        with self._database.transaction() as tx:
            row = tx.execute(_LAST, (session_id,)).fetchone()
        if row is None:
            return None
        return SessionSummary(**{name: decode(value) for name, decode, value in zip(_FIELDS, self._decoders, row)})
