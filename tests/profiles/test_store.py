"""The profile store on both back ends: deltas saved then loaded (cache, unwritten, database), merged into the
stored row, the cache bound, forget with its tombstone, purge."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from segflow.server.history.database import Database
from segflow.server.profiles.memory import DAYS, CustomerMemory
from segflow.server.profiles.store import ProfileStore, profile_delta
from tests.history.conftest import T0, postgres_target, sqlite_target, target  # noqa: F401 (fixtures)

TODAY = int(T0.timestamp() // 86400)


def open_store(target, **options):  # noqa: F811
    return ProfileStore(Database.open(target.url), owns_database=True, **options)


@pytest.fixture
def store(target):  # noqa: F811
    opened = open_store(target, cache_size=2)
    yield opened
    opened.close()


def delta(n: int, days: int = 0, generation: int = 0):
    changes = CustomerMemory.live("Customer", f"customer_id=c{n}", generation=generation)
    changes.sync({"tier": f"t{n}", "seen": T0}, ("tier", "seen"), T0 + timedelta(days=days))
    changes.count("buy", T0, {})
    return profile_delta(changes.take_unsaved(), T0 + timedelta(days=days))


def purchases(store, n: int) -> int:
    return store.load("Customer", f"customer_id=c{n}").memory.event_count("buy", DAYS, TODAY, TODAY)


def test_a_saved_delta_loads_from_the_cache_then_from_the_database(store, target):  # noqa: F811
    for n in range(3):
        store.save(delta(n))
    assert store.load("Customer", "customer_id=c2").memory.attributes["tier"] == "t2"  # maybe not yet written
    assert store.load("Customer", "customer_id=c0").memory.attributes["tier"] == "t0"  # evicted: database + queue
    assert store.writer.flush(timeout=10)
    first = store.load("Customer", "customer_id=c0")  # read from the database
    assert first.memory.attributes == {"tier": "t0", "seen": T0.isoformat()}
    assert purchases(store, 0) == 1 and first.updated_at == T0
    first.memory.attributes["tier"] = "changed"  # a caller's copy
    assert store.load("Customer", "customer_id=c0").memory.attributes["tier"] == "t0"
    assert store.load("Customer", "customer_id=nobody") is None
    store.save(delta(0, days=1))
    store.writer.flush(timeout=10)
    assert target.read("SELECT COUNT(*) FROM profiles") == [(3,)]  # merged, not appended
    assert purchases(store, 0) == 2


def test_regression_a_nul_in_a_profile_attribute_does_not_fail_the_batch(store, target):  # noqa: F811
    """PostgreSQL refuses the \\u0000 escape in JSONB: the profile writer now encodes as the history sink does
    (NUL as U+FFFD there; SQLite keeps it), so one visitor's NUL no longer fails every profile of its batch."""
    changes = CustomerMemory.live("Customer", "customer_id=nul")
    changes.sync({"tier": "gold\x00"}, ("tier",), T0)
    store.save(profile_delta(changes.take_unsaved(), T0))
    store.save(delta(1))
    assert store.writer.flush(timeout=10)
    fresh = open_store(target)
    try:
        assert fresh.load("Customer", "customer_id=nul").memory.attributes["tier"] in ("gold\x00", "gold\ufffd")
        assert fresh.load("Customer", "customer_id=c1").memory.attributes["tier"] == "t1"
    finally:
        fresh.close()


def test_two_stores_writing_one_customer_at_once_lose_no_count(target):  # noqa: F811
    stores = [open_store(target), open_store(target)]
    try:
        def post(store):
            for _ in range(25):
                store.save(delta(7))
        threads = [threading.Thread(target=post, args=(s,)) for s in stores for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in stores:
            assert store.writer.flush(timeout=20)
        fresh = open_store(target)
        assert purchases(fresh, 7) == 100
        fresh.close()
    finally:
        for store in stores:
            store.close()


def test_forget_raises_the_generation_and_drops_deltas_of_the_erased_memory(store, target):  # noqa: F811
    store.save(delta(1))
    store.save(delta(2, days=40))
    assert store.forget("Customer", "customer_id=c1", T0) == (1, 0)  # queued profiles are written first
    assert store.load("Customer", "customer_id=c1") is None and store.generation("Customer", "customer_id=c1") == 1
    other = open_store(target)  # another process: learns the tombstone when it writes, or refreshes
    try:
        other.save(delta(1))  # taken from a memory loaded before the erasure
        assert other.writer.flush(timeout=10)
        assert other.load("Customer", "customer_id=c1") is None and other.dropped == 1
        assert other.generation("Customer", "customer_id=c1") == 1
        other.save(delta(1, generation=1))  # a memory loaded (or dropped) after it
        other.writer.flush(timeout=10)
        assert purchases(other, 1) == 1
    finally:
        other.close()
    rows = target.read("SELECT customer_key, generation FROM forgotten_customers")
    assert len(rows) == 1 and "c1" not in rows[0][0] and rows[0][1] == 1  # a digest, not the id


def test_purge_drops_old_profiles_and_tombstones(store, target):  # noqa: F811
    store.save(delta(1))
    store.save(delta(2, days=40))
    store.forget("Customer", "customer_id=c1", T0)
    assert store.purge(None, T0) == 0
    assert store.purge(T0 + timedelta(days=30), T0) == 0
    assert target.read("SELECT COUNT(*) FROM forgotten_customers") == [(1,)]
    assert store.purge(T0 + timedelta(days=41), T0 + timedelta(days=31)) == 1
    assert target.read("SELECT COUNT(*) FROM profiles") == [(0,)]
    assert target.read("SELECT COUNT(*) FROM forgotten_customers") == [(0,)]
