"""The profile store on both back ends: save then load (cache, then database), the cache bound, forget, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from segflow.server.history.database import Database
from segflow.server.profiles.store import ProfileStore, profile_record
from tests.history.conftest import T0, postgres_target, sqlite_target, target  # noqa: F401 (fixtures)


@pytest.fixture
def store(target):  # noqa: F811
    opened = ProfileStore(Database.open(target.url), owns_database=True, cache_size=2)
    yield opened
    opened.close()


def record(n: int, days: int = 0):
    return profile_record("Customer", f"customer_id=c{n}", {"tier": f"t{n}", "seen": T0},
                          {"counters": {"buy": {"1": [n, 0.0, 1.0, {}]}}}, T0 + timedelta(days=days))


def test_a_saved_profile_loads_from_the_cache_then_from_the_database(store, target):  # noqa: F811
    for n in range(3):
        store.save(record(n))
    assert store.load("Customer", "customer_id=c2").attributes["tier"] == "t2"  # cached, maybe not yet written
    assert store.writer.flush(timeout=10)
    first = store.load("Customer", "customer_id=c0")  # evicted from the cache of 2: read from the database
    assert first.attributes == {"tier": "t0", "seen": T0.isoformat()}
    assert first.memory["counters"]["buy"]["1"][0] == 0 and first.updated_at == T0
    first.attributes["tier"] = "changed"  # a caller's copy
    assert store.load("Customer", "customer_id=c0").attributes["tier"] == "t0"
    assert store.load("Customer", "customer_id=nobody") is None
    store.save(record(0, days=1))
    store.writer.flush(timeout=10)
    assert target.read("SELECT COUNT(*) FROM profiles") == [(3,)]  # replaced, not appended


def test_forget_and_purge(store, target):  # noqa: F811
    store.save(record(1))
    store.save(record(2, days=40))
    assert store.forget("Customer", "customer_id=c1") == (1, 0)  # queued profiles are written first
    assert store.load("Customer", "customer_id=c1") is None
    assert store.purge(T0 + timedelta(days=30)) == 0
    assert store.purge(T0 + timedelta(days=41)) == 1
    assert target.read("SELECT COUNT(*) FROM profiles") == [(0,)]
