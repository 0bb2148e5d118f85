"""open_store/open_journeys: the configured URL alone picks the store and the journey book that goes with it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from segflow.server.sessions import MemorySessionStore, open_journeys, open_store
from segflow.server.sessions.journeys import JourneyBook
from tests.sessions.conftest import new_state

SETTINGS = dict(idle_timeout=timedelta(minutes=30), max_sessions=10)


def test_memory_opens_the_embedded_store_and_book(clock):
    store = open_store("memory", clock=clock, **SETTINGS)
    assert isinstance(store, MemorySessionStore) and type(open_journeys(store)) is JourneyBook


def test_a_redis_url_opens_a_shared_store_under_its_prefix(redis_url, redis_client, prefix, clock):
    from segflow.server.sessions.redis_journeys import RedisJourneyBook
    from segflow.server.sessions.redis_store import RedisSessionStore

    store = open_store(f"{redis_url}?prefix={prefix}", clock=clock, **SETTINGS)
    try:
        assert isinstance(store, RedisSessionStore) and store.prefix == prefix
        with store.locked("s1") as slot:
            slot.state = new_state("s1", clock)
        assert redis_client.exists(store.key("session", "s1")) and store.key("session", "s1").startswith(prefix)
        book = open_journeys(store)
        assert isinstance(book, RedisJourneyBook) and book.prefix == prefix
    finally:
        store.close()


@pytest.mark.parametrize("url", ["", "mem", "postgresql://localhost/db"])
def test_an_unknown_store_is_refused_by_name(url, clock):
    with pytest.raises(ValueError, match="unknown session store"):
        open_store(url, clock=clock, **SETTINGS)


def test_lock_and_wait_timeouts_come_from_the_redis_url(redis_url, redis_client, prefix, clock):
    store = open_store(f"{redis_url}?prefix={prefix}&lock_timeout=2.5&wait_timeout=0.5", clock=clock, **SETTINGS)
    try:
        assert (store.lock_timeout, store.wait_timeout) == (2.5, 0.5)
        with store.locked("s1") as slot:
            slot.state = new_state("s1", clock)
    finally:
        store.close()


@pytest.mark.parametrize("query", ["lock_timeout=0", "wait_timeout=-1", "lock_timeout=soon", "lock_timeout=1e9"])
def test_a_bad_timeout_in_the_redis_url_is_refused_by_name(query, clock):
    with pytest.raises(ValueError, match=query.split("=")[0]):
        open_store(f"redis://127.0.0.1:6379/0?{query}", clock=clock, **SETTINGS)
