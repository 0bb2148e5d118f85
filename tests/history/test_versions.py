"""Ruleset versions: numbering, lookup and paging, and the active version surviving a restart."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from segflow.server.history import RulesetVersions
from tests.history.conftest import T0


def deploy(versions: RulesetVersions, n: int, **overrides):
    fields = {
        "name": f"retail-{n}",
        "channel": "web",
        "digest": f"sha256:{n:064x}",
        "author": "ana",
        "comment": f"deploy {n}",
        "source_yaml": f"name: retail-{n}\n",
        "ruleset_bytes": bytes([n, 0, 255]),
    }
    return versions.add(**(fields | overrides))


def test_versions_are_numbered_in_deploy_order_and_read_back(target):
    sink = target.open()
    versions = RulesetVersions(sink.database)
    assert versions.latest() is None and versions.active("web") is None and versions.list(10) == []
    added = [deploy(versions, n, deployed_at=T0 + timedelta(minutes=n)) for n in range(1, 6)]
    assert [record.version for record in added] == [1, 2, 3, 4, 5]

    third = versions.get(3)
    assert third == added[2]
    assert (third.digest, third.author, third.deployed_at, third.ruleset_bytes) == (
        f"sha256:{3:064x}", "ana", T0 + timedelta(minutes=3), bytes([3, 0, 255])
    )
    assert third.active is False
    assert versions.get(6) is None
    assert versions.latest() == added[-1]
    assert [record.version for record in versions.list(2)] == [5, 4]
    assert [record.version for record in versions.list(2, before_version=4)] == [3, 2]
    assert [record.version for record in versions.list(10, before_version=2)] == [1]
    sink.close()


def test_deployed_at_defaults_to_now_in_utc(target):
    sink = target.open()
    record = deploy(RulesetVersions(sink.database), 1)
    assert record.deployed_at.utcoffset() == timedelta(0)
    assert RulesetVersions(sink.database).get(1).deployed_at == record.deployed_at
    sink.close()


def test_one_version_is_active_and_it_survives_reopening(target):
    sink = target.open()
    versions = RulesetVersions(sink.database)
    for n in range(1, 4):
        deploy(versions, n)
    versions.set_active(2)
    versions.set_active(3)
    versions.set_active(2)  # A rollback.
    with pytest.raises(KeyError, match="no ruleset version 9"):
        versions.set_active(9)
    sink.close()

    sink = target.open()
    versions = RulesetVersions(sink.database)
    assert versions.active("web").version == 2
    assert [record.active for record in versions.list(10)] == [False, True, False]
    assert deploy(versions, 4).version == 4
    sink.close()


def test_each_channel_has_its_own_active_version(target):
    sink = target.open()
    versions = RulesetVersions(sink.database)
    for n, channel in enumerate(["web", "app", "web", "app", "web"], start=1):
        deploy(versions, n, channel=channel)
    for version in (3, 4, 1):  # web 3, app 4, then web rolled back to 1: app keeps 4
        versions.set_active(version)
    assert versions.active("web").version == 1 and versions.active("app").version == 4
    assert versions.active("call-centre") is None
    assert [(r.channel, r.version) for r in versions.active_versions()] == [("app", 4), ("web", 1)]
    assert [r.version for r in versions.list(10, channel="app")] == [4, 2]
    assert [r.version for r in versions.list(1, before_version=5, channel="web")] == [3]
    assert [(r.version, r.active) for r in versions.list(10)] == [
        (5, False), (4, True), (3, False), (2, False), (1, True)]
    sink.close()


def test_regression_an_old_single_channel_database_keeps_its_active_version(sqlite_target):
    """A database written before channels had their own active versions (one active row over all, no index):
    opening it adds the index in place and its active version stays the channel's."""
    import sqlite3
    from pathlib import Path

    path = Path(sqlite_target.url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE ruleset_versions (version INTEGER PRIMARY KEY, name TEXT NOT NULL, channel TEXT "
                    "NOT NULL, digest TEXT NOT NULL, author TEXT NOT NULL, comment TEXT NOT NULL, deployed_at TEXT "
                    "NOT NULL, source_yaml TEXT NOT NULL, ruleset_bytes BLOB NOT NULL, active INTEGER NOT NULL)")
        for version in (1, 2):
            old.execute("INSERT INTO ruleset_versions VALUES (?, 'retail', 'web', ?, 'ana', '', ?, '', x'00', ?)",
                        (version, f"sha256:{version}", T0.isoformat(), int(version == 1)))
    sink = sqlite_target.open()
    versions = RulesetVersions(sink.database)
    assert versions.active("web").version == 1
    deploy(versions, 3, channel="app")
    versions.set_active(3)
    assert [(r.channel, r.version) for r in versions.active_versions()] == [("app", 3), ("web", 1)]
    sink.close()
    indexes = sqlite_target.read("SELECT name FROM sqlite_master WHERE type = 'index'")
    assert ("ruleset_versions_channel_active_idx",) in indexes


def test_concurrent_deploys_from_two_replicas_get_distinct_numbers(target):
    sinks = [target.open(), target.open()]
    numbers: list[int] = []

    def deploy_some(versions: RulesetVersions) -> None:
        for n in range(5):
            numbers.append(deploy(versions, n).version)

    threads = [threading.Thread(target=deploy_some, args=(RulesetVersions(sink.database),)) for sink in sinks * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sink in sinks:
        sink.close()
    assert sorted(numbers) == list(range(1, 21))
