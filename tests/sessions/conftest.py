"""Fixtures for session store tests: a real Redis under a prefix unique to each test, removed afterwards."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from segflow.server.sessions.state import SessionState
from tests.service.conftest import FakeClock

REDIS_URL = os.environ.get("SEGFLOW_TEST_REDIS", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def redis_client():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL} (set SEGFLOW_TEST_REDIS): {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted when the test ends."""
    unique = f"segflow-test:{uuid.uuid4().hex[:12]}:"
    yield unique
    keys = list(redis_client.scan_iter(match=f"{unique}*", count=1000))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


class Closed:
    """An on_close hook that remembers what it was told, shareable by several stores ("replicas")."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []

    def __call__(self, state: SessionState, reason: str) -> None:
        self.calls.append((state.session_id, reason))


@pytest.fixture
def closed() -> Closed:
    return Closed()


@pytest.fixture
def make_store(redis_client, prefix, clock, closed):
    """Build a RedisSessionStore ("a replica") on the test's prefix; several share one Redis and hook."""
    from segflow.server.sessions.redis_store import RedisSessionStore

    def make(**overrides) -> RedisSessionStore:
        settings = dict(idle_timeout=timedelta(minutes=30), max_sessions=100, clock=clock, on_close=closed,
                        prefix=prefix)
        return RedisSessionStore(redis_client, **{**settings, **overrides})

    return make


def new_state(session_id: str, clock: FakeClock, **fields) -> SessionState:
    fields = {"channel": "web", "audience_level": "Visitor", **fields}
    return SessionState(session_id=session_id, started_at=clock(), last_activity_at=clock(), **fields)
