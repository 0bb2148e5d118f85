"""Numbered migrations of the history database's schema, each applied once and recorded in `schema_version`.

Every start of every replica runs `migrate`. In one transaction, under a lock that all replicas of one database
share (PostgreSQL: an advisory lock; SQLite: the write lock), it applies the migrations not yet recorded, in
order, and records each: so each runs exactly once even when replicas start together, and one that fails
changes nothing. A database made before migrations existed has the tables of migration 1 (which creates them
only if missing) and is brought up to date like any other.

To change the schema: append a `Migration` with the next number (never edit one that has shipped; a fresh
database runs them all), and change the tables in `schema` to match. The tests check that a migrated database
has exactly the tables and columns `schema` declares. A migration must keep the previous release working (add
tables, columns with defaults and indexes; do not drop or rename), so replicas can be upgraded one at a time:
a database migrated past what this code knows is served, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from segflow.server.history.schema import Kind

if TYPE_CHECKING:
    from segflow.server.history.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    """One schema change: SQL statements with the column types as placeholders (`{TEXT}`, `{TIME}`: the names
    of `schema.Kind`), which each back end fills in."""

    number: int
    summary: str
    statements: tuple[str, ...]


_EVENT = ("time {TIME} NOT NULL, session_id {TEXT} NOT NULL, customer_id {TEXT} NOT NULL, decision_id {TEXT} NOT NULL, "
          "ruleset_version {INTEGER} NOT NULL, action_id {TEXT} NOT NULL")

MIGRATIONS = (
    Migration(1, "history tables, ruleset versions and profiles", (
        f"CREATE TABLE IF NOT EXISTS contacts ({_EVENT}, offer_code {{TEXT}} NOT NULL, treatment_code {{TEXT}} NOT NULL, "
        "interaction_point {TEXT} NOT NULL, treatment_rule_id {TEXT} NOT NULL, segment {TEXT} NOT NULL, "
        "score {REAL} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS contacts_session_id_idx ON contacts (session_id)",
        f"CREATE TABLE IF NOT EXISTS responses ({_EVENT}, offer_code {{TEXT}} NOT NULL, treatment_code {{TEXT}} NOT NULL, "
        "response_type {TEXT} NOT NULL, accepted {BOOLEAN} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS responses_session_id_idx ON responses (session_id)",
        f"CREATE TABLE IF NOT EXISTS data_rows ({_EVENT}, table_name {{TEXT}} NOT NULL, data {{JSON}} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS data_rows_session_id_idx ON data_rows (session_id)",
        "CREATE INDEX IF NOT EXISTS data_rows_table_name_time_idx ON data_rows (table_name, time)",
        f"CREATE TABLE IF NOT EXISTS journey_steps ({_EVENT}, journey {{TEXT}} NOT NULL, transition {{TEXT}} NOT NULL, "
        "step {INTEGER} NOT NULL, event_name {TEXT} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS journey_steps_session_id_idx ON journey_steps (session_id)",
        "CREATE TABLE IF NOT EXISTS session_summaries (session_id {TEXT} NOT NULL, customer_id {TEXT} NOT NULL, "
        "decision_id {TEXT} NOT NULL, ruleset_version {INTEGER} NOT NULL, channel {TEXT} NOT NULL, "
        "audience_level {TEXT} NOT NULL, anonymous {BOOLEAN} NOT NULL, started_at {TIME} NOT NULL, "
        "ended_at {TIME} NOT NULL, end_reason {TEXT} NOT NULL, event_count {INTEGER} NOT NULL, "
        "segments {JSON} NOT NULL, attributes {JSON} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS session_summaries_session_id_idx ON session_summaries (session_id)",
        "CREATE INDEX IF NOT EXISTS session_summaries_anonymous_ended_at_idx ON session_summaries (anonymous, ended_at)",
        "CREATE TABLE IF NOT EXISTS ruleset_versions (version {INTEGER} PRIMARY KEY, name {TEXT} NOT NULL, "
        "channel {TEXT} NOT NULL, digest {TEXT} NOT NULL, author {TEXT} NOT NULL, comment {TEXT} NOT NULL, "
        "deployed_at {TIME} NOT NULL, source_yaml {TEXT} NOT NULL, ruleset_bytes {BYTES} NOT NULL, "
        "active {BOOLEAN} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS profiles (audience_level {TEXT} NOT NULL, customer_id {TEXT} NOT NULL, "
        "attributes {JSON} NOT NULL, memory {JSON} NOT NULL, updated_at {TIME} NOT NULL, "
        "PRIMARY KEY (audience_level, customer_id))",
        "CREATE INDEX IF NOT EXISTS profiles_updated_at_idx ON profiles (updated_at)",
    )),
    Migration(2, "erasure tombstones (forgotten_customers)", (
        "CREATE TABLE forgotten_customers (customer_key {TEXT} PRIMARY KEY, generation {INTEGER} NOT NULL, "
        "forgotten_at {TIME} NOT NULL)",
        "CREATE INDEX forgotten_customers_forgotten_at_idx ON forgotten_customers (forgotten_at)",
    )),
    Migration(3, "trace_id of the call on the rows of contacts, responses, data_rows and journey_steps", tuple(
        f"ALTER TABLE {table} ADD COLUMN trace_id {{TEXT}} NOT NULL DEFAULT ''"
        for table in ("contacts", "responses", "data_rows", "journey_steps"))),
    # Each channel has its own active version, looked up by channel (the rows need no change: a database of
    # one channel has its one active version, and before, one version was active over all channels).
    Migration(4, "ruleset versions: an active version per channel", (
        "CREATE INDEX IF NOT EXISTS ruleset_versions_channel_active_idx ON ruleset_versions (channel, active)",
    )),
)

# The one table created "if not exists": where the others' history is kept.
_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version {INTEGER} PRIMARY KEY, summary {TEXT} NOT NULL, "
                  "applied_at {TIME} NOT NULL)")


def migrate(database: Database, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations `database` has not recorded (in one transaction, one replica at a time); returns
    their numbers, [] when it was up to date."""
    backend = database.backend
    types = {kind.name: backend.type_names[kind] for kind in Kind}
    with database.transaction() as tx:
        for statement, params in backend.prepare_statements():
            tx.execute(statement, params)
        tx.execute(_VERSION_TABLE.format_map(types))
        done = {number for (number,) in tx.execute("SELECT version FROM schema_version").fetchall()}
        pending = [migration for migration in migrations if migration.number not in done]
        now = backend.encoders[Kind.TIME](datetime.now(timezone.utc))
        for migration in pending:
            for statement in migration.statements:
                tx.execute(statement.format_map(types))
            tx.execute("INSERT INTO schema_version (version, summary, applied_at) VALUES (?, ?, ?)",
                       (migration.number, migration.summary, now))
    for migration in pending:
        log.info("history database migrated to version %d: %s", migration.number, migration.summary)
    if done and max(done) > migrations[-1].number:
        log.warning("the history database's schema is at version %d, newer than this segflow's %d: serving it "
                    "(migrations only add)", max(done), migrations[-1].number)
    return [migration.number for migration in pending]
