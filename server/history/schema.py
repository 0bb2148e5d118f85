"""The history database's tables as they are now (`migrations` creates and changes them), and their row SQL.

Every table below exists in SQLite (embedded default) and PostgreSQL (in its own schema, "segflow" by default).
Times are UTC: `TIMESTAMPTZ` in PostgreSQL, ISO-8601 text such as `2025-01-31T12:00:00.000000+00:00` in
SQLite (so text order is time order). JSON is `JSONB` in PostgreSQL and JSON text in SQLite; booleans are
0/1 integers in SQLite. Rows of history tables are appended, never updated.

Columns shared by the history tables (`contacts`, `responses`, `data_rows`, `journey_steps`):

| column | type | meaning |
| --- | --- | --- |
| time | timestamp | when it happened |
| session_id | text | the session |
| customer_id | text | the customer, "" while the session was anonymous |
| decision_id | text | the decision (event processing) that fired the action |
| ruleset_version | integer | the ruleset version that made the decision |
| action_id | text | the fired action that wrote the row |
| trace_id | text | the W3C trace id of the call (as in `Decision.trace_id`), "" when it had none |

`contacts`: an offer recommended to the visitor.

| column | type | meaning |
| --- | --- | --- |
| offer_code | text | the offer |
| treatment_code | text | the treatment (this presentation of the offer) |
| interaction_point | text | where it was shown (zone / interaction point) |
| treatment_rule_id | text | the treatment rule that selected it |
| segment | text | the segment the rule matched |
| score | real | the offer's score |

`responses`: the visitor accepted or rejected a treatment.

| column | type | meaning |
| --- | --- | --- |
| offer_code | text | the offer |
| treatment_code | text | the treatment responded to |
| response_type | text | the response type named by the rule (e.g. "click", "purchase") |
| accepted | boolean | true for an acceptance, false for a rejection |

`data_rows`: rows that log_data actions wrote to named data tables, all in one physical table.

| column | type | meaning |
| --- | --- | --- |
| table_name | text | the data table the rule named |
| data | json | the row: an object of column name to value |

`journey_steps`: journey transitions.

| column | type | meaning |
| --- | --- | --- |
| journey | text | the journey |
| transition | text | "start", "continue" or "stop" |
| step | integer | the step reached, from 1 |
| event_name | text | the event that triggered the transition |

`session_summaries`: one row per ended session (no `time` or `action_id` column: its time is `ended_at`).

| column | type | meaning |
| --- | --- | --- |
| session_id | text | the session |
| customer_id | text | the customer, "" when the session stayed anonymous |
| decision_id | text | always "" (a summary is not one decision; the rows of the other tables carry theirs) |
| ruleset_version | integer | the ruleset version in force at the end |
| channel | text | the interactive channel |
| audience_level | text | the audience level (e.g. Customer, Visitor) |
| anonymous | boolean | true when the session never had a customer id |
| started_at | timestamp | when the session started |
| ended_at | timestamp | when it ended |
| end_reason | text | "ended", "expired", "evicted" or "shutdown" |
| event_count | integer | events posted to the session |
| segments | json | array of the segments held at the end |
| attributes | json | object of profile attributes at the end |

Anonymous sessions are purged after the retention period: their summary and the rows of the other history
tables with the same session_id and customer_id "".

`ruleset_versions`: every deployed ruleset, numbered 1, 2, ... in deploy order.

| column | type | meaning |
| --- | --- | --- |
| version | integer | primary key, the version number |
| name | text | the ruleset's name |
| channel | text | the interactive channel it serves |
| digest | text | sha256 of the normalized ruleset |
| author | text | who deployed it |
| comment | text | the deploy comment |
| deployed_at | timestamp | when it was deployed |
| source_yaml | text | the YAML source as deployed ("" when deployed as a message) |
| ruleset_bytes | bytes | the serialized `segflow.v1.Ruleset` message |
| active | boolean | true for the one version being served |

`profiles`: what segflow remembers of each customer across visits (`server/profiles`), one row per
(audience_level, customer_id), into which each call's changes are merged.

| column | type | meaning |
| --- | --- | --- |
| audience_level | text | the audience level (e.g. Customer) |
| customer_id | text | the canonical customer id (`field=value;...`) |
| attributes | json | object of the `scope: profile` attribute values (timestamps as ISO 8601 text) |
| memory | json | event counters (minute, hour and day buckets), offer contacts and responses, attribute change times (`profiles/memory.py`) |
| updated_at | timestamp | when the profile last changed; profiles unused for the retention period are purged |

`forgotten_customers`: one tombstone per erased customer (ForgetCustomer), so that no live session, on any
worker or replica, writes the erased memory back. Kept for `TOMBSTONE_DAYS` after the last erasure.

| column | type | meaning |
| --- | --- | --- |
| customer_key | text | sha256 of audience level and canonical id (the tombstone does not keep the id itself) |
| generation | integer | how many times the customer was erased; a memory loaded before the last erasure is never written |
| forgotten_at | timestamp | when the customer was last erased |

`schema_version`: the migrations applied (`migrations.py`), one row each.

| column | type | meaning |
| --- | --- | --- |
| version | integer | primary key, the migration's number |
| summary | text | what it changed |
| applied_at | timestamp | when it was applied |
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from operator import attrgetter, call
from typing import Any, Callable

from segflow.server.history.records import ContactRecord, DataRecord, JourneyRecord, ResponseRecord, SessionSummary


class Kind(enum.Enum):
    """A column's logical type; each dialect names it and converts values to and from it."""

    TEXT = "text"
    INTEGER = "integer"
    REAL = "real"
    BOOLEAN = "boolean"
    TIME = "timestamp"
    JSON = "json"
    BYTES = "bytes"


@dataclass(frozen=True)
class Column:
    """A column; `field` is the record attribute it is read from when it differs from the column name."""

    name: str
    kind: Kind
    field: str = ""


@dataclass(frozen=True)
class Table:
    """A table, its columns in insert order, and the column lists to index."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    primary_key: str = ""
    key: tuple[str, ...] = ()  # a primary key of several columns

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


_KEYS = (
    Column("session_id", Kind.TEXT),
    Column("customer_id", Kind.TEXT),
    Column("decision_id", Kind.TEXT),
    Column("ruleset_version", Kind.INTEGER),
)
_EVENT = (Column("time", Kind.TIME), *_KEYS, Column("action_id", Kind.TEXT))
_TRACE = Column("trace_id", Kind.TEXT)  # last: migration 3 added it to the tables of events
_BY_SESSION = (("session_id",),)

CONTACTS = Table(
    "contacts",
    (
        *_EVENT,
        Column("offer_code", Kind.TEXT),
        Column("treatment_code", Kind.TEXT),
        Column("interaction_point", Kind.TEXT),
        Column("treatment_rule_id", Kind.TEXT),
        Column("segment", Kind.TEXT),
        Column("score", Kind.REAL),
        _TRACE,
    ),
    _BY_SESSION,
)
RESPONSES = Table(
    "responses",
    (
        *_EVENT,
        Column("offer_code", Kind.TEXT),
        Column("treatment_code", Kind.TEXT),
        Column("response_type", Kind.TEXT),
        Column("accepted", Kind.BOOLEAN),
        _TRACE,
    ),
    _BY_SESSION,
)
DATA_ROWS = Table(
    "data_rows",
    (*_EVENT, Column("table_name", Kind.TEXT, "table"), Column("data", Kind.JSON, "columns"), _TRACE),
    (*_BY_SESSION, ("table_name", "time")),
)
JOURNEY_STEPS = Table(
    "journey_steps",
    (
        *_EVENT,
        Column("journey", Kind.TEXT),
        Column("transition", Kind.TEXT),
        Column("step", Kind.INTEGER),
        Column("event_name", Kind.TEXT),
        _TRACE,
    ),
    _BY_SESSION,
)
SESSION_SUMMARIES = Table(
    "session_summaries",
    (
        *_KEYS,
        Column("channel", Kind.TEXT),
        Column("audience_level", Kind.TEXT),
        Column("anonymous", Kind.BOOLEAN),
        Column("started_at", Kind.TIME),
        Column("ended_at", Kind.TIME),
        Column("end_reason", Kind.TEXT),
        Column("event_count", Kind.INTEGER),
        Column("segments", Kind.JSON),
        Column("attributes", Kind.JSON),
    ),
    (*_BY_SESSION, ("anonymous", "ended_at")),
)
RULESET_VERSIONS = Table(
    "ruleset_versions",
    (
        Column("version", Kind.INTEGER),
        Column("name", Kind.TEXT),
        Column("channel", Kind.TEXT),
        Column("digest", Kind.TEXT),
        Column("author", Kind.TEXT),
        Column("comment", Kind.TEXT),
        Column("deployed_at", Kind.TIME),
        Column("source_yaml", Kind.TEXT),
        Column("ruleset_bytes", Kind.BYTES),
        Column("active", Kind.BOOLEAN),
    ),
    primary_key="version",
)

PROFILES = Table(
    "profiles",
    (
        Column("audience_level", Kind.TEXT),
        Column("customer_id", Kind.TEXT),
        Column("attributes", Kind.JSON),
        Column("memory", Kind.JSON),
        Column("updated_at", Kind.TIME),
    ),
    (("updated_at",),),
    key=("audience_level", "customer_id"),
)

FORGOTTEN = Table(
    "forgotten_customers",
    (
        Column("customer_key", Kind.TEXT),
        Column("generation", Kind.INTEGER),
        Column("forgotten_at", Kind.TIME),
    ),
    (("forgotten_at",),),
    primary_key="customer_key",
)

TABLES = (CONTACTS, RESPONSES, DATA_ROWS, JOURNEY_STEPS, SESSION_SUMMARIES, RULESET_VERSIONS, PROFILES, FORGOTTEN)

# Which table each record type is written to.
RECORD_TABLES: dict[type, Table] = {
    ContactRecord: CONTACTS,
    ResponseRecord: RESPONSES,
    DataRecord: DATA_ROWS,
    JourneyRecord: JOURNEY_STEPS,
    SessionSummary: SESSION_SUMMARIES,
}


def insert_statement(table: Table) -> str:
    """An INSERT of one full row of `table`, with `?` placeholders."""
    names = table.column_names
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(['?'] * len(names))})"


def row_builder(table: Table, encoders: dict[Kind, Callable[[Any], Any]]) -> Callable[[Any], tuple]:
    """A function turning a record into the parameter tuple of `insert_statement(table)`."""
    read = attrgetter(*(column.field or column.name for column in table.columns))
    encode = tuple(encoders[column.kind] for column in table.columns)

    # Only the columns whose encoder changes the value are encoded: calling one that returns its value as it is
    # (most of SQLite's) cost more than the rest of the row.
    changing = [(at, encoder) for at, encoder in enumerate(encode) if encoder is not same]
    if len(changing) == len(encode):
        return lambda record: tuple(map(call, encode, read(record)))

    def build(record: Any) -> tuple:
        row = list(read(record))
        for at, encoder in changing:
            row[at] = encoder(row[at])
        return tuple(row)

    return build


def same(value: Any) -> Any:
    """The encoder (or decoder) of a kind that a back end stores as Python has it."""
    return value


def remembering_last(encode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`encode`, remembering its last value and result: the records of one call share one time object (the
    decision's), whatever their tables, and encoding a time (ISO text in SQLite) costs more than the rest of
    its row."""
    last: tuple[Any, Any] = (object(), None)  # one tuple, replaced whole: safe without a lock

    def encode_time(value: Any) -> Any:
        nonlocal last
        seen, encoded = last
        if value is seen:
            return encoded
        encoded = encode(value)
        last = (value, encoded)
        return encoded

    return encode_time


# Purging anonymous sessions: dependent rows first, then the summaries they hang off. Both take the cutoff.
_ANONYMOUS_ENDED = "SELECT session_id FROM session_summaries WHERE anonymous AND ended_at < ?"
PURGE_STATEMENTS = (
    *(
        f"DELETE FROM {table.name} WHERE customer_id = '' AND session_id IN ({_ANONYMOUS_ENDED})"
        for table in (CONTACTS, RESPONSES, DATA_ROWS, JOURNEY_STEPS)
    ),
    "DELETE FROM session_summaries WHERE anonymous AND ended_at < ?",
)


# A profile written again replaces the row (the same statement in SQLite and PostgreSQL).
UPSERT_PROFILE = (
    "INSERT INTO profiles (audience_level, customer_id, attributes, memory, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (audience_level, customer_id) DO UPDATE SET attributes = excluded.attributes, "
    "memory = excluded.memory, updated_at = excluded.updated_at"
)
SELECT_PROFILE = "SELECT attributes, memory, updated_at FROM profiles WHERE audience_level = ? AND customer_id = ?"
PURGE_PROFILES = "DELETE FROM profiles WHERE updated_at < ?"
# Erasing a customer: the history rows of their sessions (also those logged while still anonymous), their
# own rows, then their session summaries and profile rows. Each takes the customer id; the last also the level.
_THEIR_SESSIONS = "SELECT session_id FROM session_summaries WHERE customer_id = ?"
FORGET_STATEMENTS = (
    *(
        f"DELETE FROM {table.name} WHERE customer_id = ? OR session_id IN ({_THEIR_SESSIONS})"
        for table in (CONTACTS, RESPONSES, DATA_ROWS, JOURNEY_STEPS)
    ),
    "DELETE FROM session_summaries WHERE customer_id = ?",
)
FORGET_PROFILE = "DELETE FROM profiles WHERE audience_level = ? AND customer_id = ?"
# Tombstones: a customer's erasure count, raised by each erasure; recent ones are read by every process.
SELECT_GENERATION = "SELECT generation FROM forgotten_customers WHERE customer_key = ?"
RAISE_GENERATION = (
    "INSERT INTO forgotten_customers (customer_key, generation, forgotten_at) VALUES (?, 1, ?) "
    "ON CONFLICT (customer_key) DO UPDATE SET generation = forgotten_customers.generation + 1, "
    "forgotten_at = excluded.forgotten_at"
)
RECENT_TOMBSTONES = "SELECT customer_key, generation FROM forgotten_customers WHERE forgotten_at >= ?"
PURGE_TOMBSTONES = "DELETE FROM forgotten_customers WHERE forgotten_at < ?"
