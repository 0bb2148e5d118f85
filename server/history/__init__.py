"""History: what the service decided and what visitors did, written in batches off the hot path.

Records (`records`) are submitted to a `HistoryWriter` (`writer`), which writes them in batches to a sink
(`sinks`: SQLite or PostgreSQL, tables in `schema`). Deployed ruleset versions live in the same database
(`versions`).
"""

from segflow.server.history.records import ContactRecord, DataRecord, JourneyRecord, Record, ResponseRecord, SessionSummary
from segflow.server.history.sinks import HistorySink, PostgresSink, SQLiteSink, SQLSink, open_sink
from segflow.server.history.versions import RulesetVersions, VersionRecord
from segflow.server.history.writer import HistoryClosed, HistoryError, HistoryFull, HistoryWriter

__all__ = [
    "ContactRecord",
    "DataRecord",
    "HistoryClosed",
    "HistoryError",
    "HistoryFull",
    "HistorySink",
    "HistoryWriter",
    "JourneyRecord",
    "PostgresSink",
    "Record",
    "ResponseRecord",
    "RulesetVersions",
    "SQLiteSink",
    "SQLSink",
    "SessionSummary",
    "VersionRecord",
    "open_sink",
]
