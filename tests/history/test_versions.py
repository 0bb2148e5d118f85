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
    assert versions.latest() is None and versions.active() is None and versions.list(10) == []
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
    assert versions.active().version == 2
    assert [record.active for record in versions.list(10)] == [False, True, False]
    assert deploy(versions, 4).version == 4
    sink.close()


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
