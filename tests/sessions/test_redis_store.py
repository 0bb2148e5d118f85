"""RedisSessionStore against a real Redis: several store instances play replicas sharing one database."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from segflow.server.errors import Unavailable
from segflow.server.sessions.redis_store import RedisSessionStore, SessionBusy, SessionLockLost
from segflow.server.sessions.store import SessionConflict, retry_conflicts
from tests.sessions.conftest import new_state


def test_a_state_written_by_one_replica_is_read_by_another(make_store, clock):
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"cart": 2.5})
    clock.advance(minutes=1)
    with b.locked("s1") as slot:
        assert slot.state.attributes == {"cart": 2.5}
        slot.state.segments = frozenset({"shoppers"})
    seen = []

    @retry_conflicts
    def call_on_a():
        with a.locked("s1") as slot:
            seen.append(slot.state.segments)

    call_on_a()  # on the session as A committed it, then again on B's: the commit found it changed
    assert seen == [frozenset(), {"shoppers"}]
    with a.locked("s1") as slot:
        assert slot.state.last_activity_at == clock()  # renewed on exit, as the memory store does
    assert len(a) == len(b) == 1


def test_a_call_on_a_session_another_replica_changed_since_writes_nothing(make_store, clock):
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"n": 0})
    with b.locked("s1") as slot:
        slot.state.attributes["n"] = 1
    with pytest.raises(SessionConflict) as raised:
        with a.locked("s1") as slot:
            slot.state.attributes["n"] = 100  # A's state is stale: its commit must not write it
    assert raised.value.code.name == "ABORTED" and raised.value.reason == "SESSION_CONFLICT"
    with b.locked("s1") as slot:
        assert slot.state.attributes == {"n": 1}


def test_a_call_that_did_not_take_the_lock_never_commits_while_another_holds_it(make_store, clock):
    """A replica that committed the session last runs its next call without the lock: if another replica holds
    the lock when it commits, it writes nothing, and run again it waits for the lock."""
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"by": "a"})
    held, committed = threading.Event(), threading.Event()

    def on_b():
        with b.locked("s1") as taken:
            held.set()
            committed.wait(5)
            taken.state.attributes["by"] = "b"

    thread = threading.Thread(target=on_b)
    with pytest.raises(SessionConflict):
        with a.locked("s1") as slot:
            slot.state.attributes["by"] = "a again"
            thread.start()
            held.wait(5)
    committed.set()
    with a.locked("s1") as slot:  # run again: under the lock, once B's call committed
        assert slot.state.attributes == {"by": "b"}
    thread.join()


def test_a_session_never_started_is_none_and_leaves_nothing_behind(make_store, redis_client, prefix):
    store = make_store()
    with store.locked("ghost") as slot:
        assert slot.state is None
    assert len(store) == 0 and list(redis_client.scan_iter(match=f"{prefix}*")) == []


@pytest.mark.parametrize("replicas", [1, 2])
def test_the_lock_serialises_calls_on_one_session(make_store, clock, replicas):
    """Read-modify-write from 8 threads over 1 or 2 stores, each run again on a conflict as the engine does: any
    overlap of two committed calls would lose an increment."""
    stores = [make_store() for _ in range(replicas)]
    with stores[0].locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"n": 0})
    start = threading.Barrier(8)

    @retry_conflicts
    def increment(store):
        with store.locked("s1") as slot:
            n = slot.state.attributes["n"]
            time.sleep(0.0005)  # widen the window a lost update would need
            slot.state.attributes["n"] = n + 1
        return n

    def work(store):
        start.wait()
        for _ in range(25):
            increment(store)

    threads = [threading.Thread(target=work, args=(stores[i % replicas],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert increment(stores[-1]) == 8 * 25


def test_a_call_that_waits_too_long_for_a_busy_session_gets_session_busy(make_store, clock):
    holder, waiter = make_store(), make_store(wait_timeout=0.05)
    with holder.locked("s1") as slot:
        slot.state = new_state("s1", clock)
        with pytest.raises(SessionBusy) as raised:
            with waiter.locked("s1"):
                pass
    assert raised.value.code.name == "UNAVAILABLE" and raised.value.reason == "SESSION_BUSY"


def test_a_lock_abandoned_by_a_crashed_replica_expires_by_itself(make_store, redis_client, clock):
    store = make_store(wait_timeout=5)
    assert redis_client.set(store.key("lock", "s1"), "crashed", nx=True, px=300)  # and never released
    began = time.monotonic()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    assert 0.2 < time.monotonic() - began < 3


def test_a_call_that_outlives_its_lock_writes_nothing(make_store, clock):
    slow, other = make_store(lock_timeout=0.1), make_store()
    with pytest.raises(SessionLockLost) as raised:
        with slow.locked("s1") as slot:
            slot.state = new_state("s1", clock, attributes={"by": "slow"})
            time.sleep(0.25)  # the lock expires: another replica may take the session meanwhile
            with other.locked("s1") as taken:
                taken.state = new_state("s1", clock, attributes={"by": "other"})
    assert raised.value.code.name == "ABORTED"
    with other.locked("s1") as slot:
        assert slot.state.attributes == {"by": "other"}


def test_changes_made_before_a_call_fails_are_kept_as_in_memory(make_store, clock):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    with pytest.raises(RuntimeError):
        with store.locked("s1") as slot:
            slot.state.attributes["half"] = True
            raise RuntimeError("the call failed half-way")
    with store.locked("s1") as slot:
        assert slot.state.attributes == {"half": True}


def test_end_removes_the_session_and_reports_it(make_store, clock, closed):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    with store.locked("s1") as slot:
        assert store.end(slot, "ended").session_id == "s1"
    assert closed.calls == [("s1", "ended")] and len(store) == 0
    with make_store().locked("s1") as slot:
        assert slot.state is None


def test_redis_itself_drops_a_session_no_replica_sweeps(make_store, redis_client, clock):
    store = make_store(idle_timeout=timedelta(seconds=60), ttl_margin=timedelta(seconds=30))
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    assert 85_000 < redis_client.pttl(store.key("session", "s1")) <= 90_000


def test_expiry_is_sliding_and_reported_once_across_racing_replicas(make_store, clock, closed):
    replicas = [make_store(idle_timeout=timedelta(minutes=30)) for _ in range(4)]
    for i in range(20):
        with replicas[i % 4].locked(f"s{i}") as slot:
            slot.state = new_state(f"s{i}", clock)
    clock.advance(minutes=20)
    with replicas[0].locked("s0") as slot:  # renewed: 20 minutes later than the others
        slot.state.event_sequence += 1
    clock.advance(minutes=10)
    start = threading.Barrier(4)
    counts = []

    def sweep(store):
        start.wait()
        counts.append(store.expire_idle())

    threads = [threading.Thread(target=sweep, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = sorted((f"s{i}", "expired") for i in range(1, 20))
    assert sorted(closed.calls) == expected and sum(counts) == 19
    assert len(replicas[0]) == 1


def test_a_session_found_expired_when_a_call_arrives_is_closed_first(make_store, clock, closed):
    store = make_store(idle_timeout=timedelta(minutes=30))
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    clock.advance(minutes=30)
    with make_store(idle_timeout=timedelta(minutes=30)).locked("s1") as slot:
        assert slot.state is None
    assert closed.calls == [("s1", "expired")] and store.expire_idle() == 0 and len(store) == 0


def test_beyond_the_bound_the_least_recently_active_are_evicted(make_store, clock, closed):
    a, b = make_store(max_sessions=3), make_store(max_sessions=3)
    for i in range(5):
        clock.advance(seconds=1)
        with (a, b)[i % 2].locked(f"s{i}") as slot:
            slot.state = new_state(f"s{i}", clock)
        if i == 2:
            clock.advance(seconds=1)
            with b.locked("s0") as slot:  # s0 is now more recent than s1 and s2
                slot.state.event_sequence += 1
    assert sorted(closed.calls) == [("s1", "evicted"), ("s2", "evicted")]
    assert len(a) == 3


def test_close_all_leaves_the_sessions_other_replicas_serve(make_store, clock, closed):
    stopping, staying = make_store(), make_store()
    with stopping.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    assert stopping.close_all("shutdown") == 0 and closed.calls == []
    with staying.locked("s1") as slot:
        assert slot.state is not None


def test_an_unreachable_redis_is_unavailable_not_internal(clock, closed):
    store = RedisSessionStore("redis://127.0.0.1:1/0", idle_timeout=timedelta(minutes=30), max_sessions=10,
                              clock=clock, on_close=closed)
    with pytest.raises(Unavailable) as caught:
        with store.locked("s"):
            pass
    assert caught.value.reason == "SESSION_STORE_UNAVAILABLE"
    store.close()
