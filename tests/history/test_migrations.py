"""Schema migrations: a fresh database gets the tables `schema` declares, a database made before migrations is
brought up to date with its rows, and each migration runs once even when replicas start together."""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import replace

import pytest

from segflow.server.history import schema
from segflow.server.history.backends import SQLiteBackend, backend_for_url
from segflow.server.history.database import Database
from segflow.server.history.migrations import MIGRATIONS, Migration, migrate
from tests.history.conftest import contact

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
EXTRA = Migration(MIGRATIONS[-1].number + 1, "a table for the test", ("CREATE TABLE extra (n {INTEGER} NOT NULL)",))


def columns(database: Database) -> dict[str, set[str]]:
    """Column names per table, as the database reports them."""
    if isinstance(database.backend, SQLiteBackend):
        query = "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'"
    else:
        query = ("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                 f"'{database.backend.schema}'")
    with database.transaction() as tx:
        rows = tx.execute(query).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


def applied(target) -> list[int]:
    return [number for (number,) in target.read("SELECT version FROM schema_version ORDER BY version")]


def test_migrations_are_numbered_one_by_one():
    assert [migration.number for migration in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_fresh_database_has_the_tables_the_schema_declares(target):
    database = target.open().database
    expected = {table.name: set(table.column_names) for table in schema.TABLES}
    assert columns(database) == expected | {"schema_version": {"version", "summary", "applied_at"}}
    assert applied(target) == [migration.number for migration in MIGRATIONS]
    assert migrate(database) == []
    database.close()


def test_a_database_made_before_migrations_is_migrated_with_its_rows(target):
    # What segflow did before migrations: under the schema lock, the tables and indexes if missing; then a row.
    backend = backend_for_url(target.url)
    types = {kind.name: backend.type_names[kind] for kind in schema.Kind}
    connection = backend.connect()
    with backend.transaction(connection):
        for statement, params in backend.prepare_statements():
            connection.execute(backend.sql(statement), params)
        for statement in MIGRATIONS[0].statements:
            connection.execute(statement.format_map(types))
        then = schema.Table("contacts", tuple(c for c in schema.CONTACTS.columns if c.name != "trace_id"))
        row = schema.row_builder(then, backend.encoders)(contact(1))
        connection.execute(backend.sql(schema.insert_statement(then)), row)
    connection.close()

    sink = target.open()
    sink.write_batch([replace(contact(2), trace_id=TRACE)])
    sink.close()
    assert applied(target) == [migration.number for migration in MIGRATIONS]
    assert target.read("SELECT offer_code, trace_id FROM contacts ORDER BY offer_code") == [
        ("OFFER1", ""), ("OFFER2", TRACE)]  # migration 3 gave the older row an empty trace id


def test_a_new_migration_is_applied_once_and_an_older_segflow_still_serves(target, caplog):
    database = target.open().database
    assert migrate(database, (*MIGRATIONS, EXTRA)) == [EXTRA.number]
    assert migrate(database, (*MIGRATIONS, EXTRA)) == []  # a second CREATE TABLE extra would fail
    with caplog.at_level(logging.WARNING, logger="segflow.server.history.migrations"):
        assert migrate(database) == []
    assert f"at version {EXTRA.number}, newer than this segflow's {MIGRATIONS[-1].number}" in caplog.text
    database.close()
    assert applied(target)[-1] == EXTRA.number


def test_replicas_starting_together_migrate_once(target):
    databases = [target.open().database for _ in range(4)]
    start, errors, results = threading.Barrier(len(databases)), [], []

    def replica(database: Database) -> None:
        start.wait()
        try:
            results.append(migrate(database, (*MIGRATIONS, EXTRA)))
        except Exception as error:  # a race shows as a duplicate table or key
            errors.append(error)

    threads = [threading.Thread(target=replica, args=(database,)) for database in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database in databases:
        database.close()
    assert errors == []
    assert sorted(results) == [[], [], [], [EXTRA.number]]
    assert applied(target).count(EXTRA.number) == 1


def test_a_failed_migration_changes_nothing(sqlite_target):
    database = sqlite_target.open().database
    broken = Migration(EXTRA.number, "half done", ("CREATE TABLE extra (n {INTEGER})", "CREATE TABLE nonsense ("))
    with pytest.raises(sqlite3.OperationalError):
        migrate(database, (*MIGRATIONS, broken))
    assert "extra" not in columns(database)
    assert migrate(database, (*MIGRATIONS, EXTRA)) == [EXTRA.number]
    database.close()
