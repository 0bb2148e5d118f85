"""LmdbSessionStore: several store instances over one LMDB directory play the workers of a host (the
cross-process cases run real worker processes in tests/multiproc)."""

from __future__ import annotations

import multiprocessing
import threading
import time
from datetime import timedelta

import pytest

from segflow.server.sessions import codec, open_journeys, open_store
from segflow.server.sessions.lmdb_journeys import LmdbJourneyBook
from segflow.server.sessions.lmdb_store import LmdbSessionStore
from tests.sessions.conftest import new_state


@pytest.fixture
def make_store(tmp_path, clock, closed):
    def make(**overrides) -> LmdbSessionStore:
        settings = dict(idle_timeout=timedelta(minutes=30), max_sessions=100, clock=clock, on_close=closed)
        return LmdbSessionStore(tmp_path / "sessions", **{**settings, **overrides})

    return make


def test_open_store_names_the_lmdb_store_and_its_journey_book(tmp_path, clock):
    store = open_store(f"lmdb://{tmp_path}/s", idle_timeout=timedelta(minutes=1), max_sessions=10, clock=clock)
    assert isinstance(store, LmdbSessionStore) and isinstance(open_journeys(store), LmdbJourneyBook)


def test_a_state_written_by_one_worker_is_read_by_another(make_store, clock):
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"cart": 2.5})
    clock.advance(minutes=1)
    with b.locked("s1") as slot:
        assert slot.state.attributes == {"cart": 2.5}
        slot.state.segments = frozenset({"shoppers"})
    with a.locked("s1") as slot:
        assert slot.state.segments == {"shoppers"}
        assert slot.state.last_activity_at == clock()  # renewed on exit, as the memory store does
    assert len(a) == len(b) == 1


def test_a_visit_alternating_between_workers_sees_every_change_though_each_keeps_sessions_decoded(
        make_store, clock, monkeypatch):
    decoded = []
    decode = codec.decode
    monkeypatch.setattr(codec, "decode", lambda data: decoded.append(1) or decode(data))
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"n": 0})
    for i, store in enumerate([a, a, b, b, a, b, a, a]):
        clock.advance(seconds=1)
        with store.locked("s1") as slot:
            assert slot.state.attributes["n"] == i and slot.state.event_sequence == i
            slot.state.attributes["n"] += 1
            slot.state.event_sequence += 1
            slot.state.segments = frozenset({f"after-{i}"})
    for store in (a, b):
        with store.locked("s1") as slot:
            assert slot.state.attributes["n"] == 8 and slot.state.segments == {"after-7"}
    # decoded only by the worker that did not write the last change: a a b b a b a a a b
    assert len(decoded) == 5


def test_a_worker_does_not_keep_serving_a_session_another_ended_and_started_again(make_store, clock):
    a, b = make_store(), make_store()
    with a.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"visit": 1})
    with b.locked("s1") as slot:
        b.end(slot, "ended")
    with a.locked("s1") as slot:
        assert slot.state is None
        slot.state = new_state("s1", clock, attributes={"visit": 2})
    with b.locked("s1") as slot:
        b.end(slot, "ended")
        slot.state = new_state("s1", clock, attributes={"visit": 3})
    with a.locked("s1") as slot:
        assert slot.state.attributes == {"visit": 3}


def test_a_change_that_could_not_be_written_is_not_kept_decoded_either(make_store, clock):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"n": 1})
    with pytest.raises(TypeError):
        with store.locked("s1") as slot:
            slot.state.attributes["n"] = object()  # the codec refuses it: the session is not written
    with store.locked("s1") as slot:
        assert slot.state.attributes == {"n": 1}


def test_a_worker_keeps_at_most_hot_sessions_decoded(make_store, clock):
    store = make_store(hot=2)
    for i in range(3):
        with store.locked(f"s{i}") as slot:
            slot.state = new_state(f"s{i}", clock)
    assert len(store.decoded) == 2
    with store.locked("s0") as slot:  # the least recently used was dropped: decoded again
        assert slot.state.session_id == "s0"


def test_a_session_never_started_is_none_and_leaves_nothing_behind(make_store):
    store = make_store()
    with store.locked("ghost") as slot:
        assert slot.state is None
    assert len(store) == 0


def test_the_lock_serialises_calls_on_one_session(make_store, clock):
    """Read-modify-write from 8 threads over 2 stores: any overlap of two calls would lose an increment."""
    stores = [make_store(), make_store()]
    with stores[0].locked("s1") as slot:
        slot.state = new_state("s1", clock, attributes={"n": 0})
    start = threading.Barrier(8)

    def work(store):
        start.wait()
        for _ in range(25):
            with store.locked("s1") as slot:
                n = slot.state.attributes["n"]
                time.sleep(0.0002)  # widen the window a lost update would need
                slot.state.attributes["n"] = n + 1

    threads = [threading.Thread(target=work, args=(stores[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with stores[1].locked("s1") as slot:
        assert slot.state.attributes["n"] == 8 * 25


def _hold_lock(path: str, held, release) -> None:
    from datetime import datetime, timezone

    store = LmdbSessionStore(path, idle_timeout=timedelta(minutes=1), max_sessions=10,
                             clock=lambda: datetime.now(timezone.utc))
    with store.locked("s1"):
        held.set()
        release.wait(10)


def test_another_process_holding_a_session_makes_a_call_wait_until_it_is_done(tmp_path, make_store, clock):
    spawn = multiprocessing.get_context("spawn")
    held, release = spawn.Event(), spawn.Event()
    holder = spawn.Process(target=_hold_lock, args=(str(tmp_path / "sessions"), held, release))
    holder.start()
    try:
        assert held.wait(30)
        store = make_store()
        with store._locks.held("s1", wait=False) as got:
            assert not got  # taken by the other process
        release.set()
        with store.locked("s1") as slot:  # waits for the holder, then proceeds
            assert slot.state is None
    finally:
        release.set()
        holder.join(10)


def test_a_lock_held_by_a_killed_process_is_released_by_the_kernel(tmp_path, make_store):
    spawn = multiprocessing.get_context("spawn")
    held, release = spawn.Event(), spawn.Event()
    holder = spawn.Process(target=_hold_lock, args=(str(tmp_path / "sessions"), held, release))
    holder.start()
    assert held.wait(30)
    holder.kill()
    holder.join(10)
    with make_store()._locks.held("s1", wait=False) as got:
        assert got


def test_changes_made_before_a_call_fails_are_kept_as_in_memory(make_store, clock):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    with pytest.raises(RuntimeError):
        with store.locked("s1") as slot:
            slot.state.attributes["x"] = 1
            raise RuntimeError("call failed")
    with store.locked("s1") as slot:
        assert slot.state.attributes == {"x": 1}


def test_end_removes_the_session_and_reports_it(make_store, clock, closed):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    with store.locked("s1") as slot:
        store.end(slot, "ended")
    assert closed.calls == [("s1", "ended")] and len(store) == 0


def test_expiry_is_sliding_and_reported_once_across_racing_workers(make_store, clock, closed):
    workers = [make_store() for _ in range(4)]
    for i in range(20):
        with workers[i % 4].locked(f"s{i}") as slot:
            slot.state = new_state(f"s{i}", clock)
    clock.advance(minutes=20)
    with workers[0].locked("s0") as slot:  # renewed: 20 minutes later than the others
        slot.state.event_sequence += 1
    clock.advance(minutes=10)
    start = threading.Barrier(4)
    counts = []

    def sweep(store):
        start.wait()
        counts.append(store.expire_idle())

    threads = [threading.Thread(target=sweep, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(closed.calls) == sorted((f"s{i}", "expired") for i in range(1, 20)) and sum(counts) == 19
    assert len(workers[0]) == 1


def test_a_session_found_expired_when_a_call_arrives_is_closed_first(make_store, clock, closed):
    store = make_store()
    with store.locked("s1") as slot:
        slot.state = new_state("s1", clock)
    clock.advance(minutes=30)
    with make_store().locked("s1") as slot:
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


def test_close_all_closes_only_in_the_worker_that_stops_last(make_store, clock, closed):
    stopping, last = make_store(), make_store(closes_on_shutdown=True)
    for sid in ("s1", "s2"):
        with stopping.locked(sid) as slot:
            slot.state = new_state(sid, clock)
    assert stopping.close_all("shutdown") == 0 and closed.calls == []
    assert last.close_all("shutdown") == 2
    assert sorted(closed.calls) == [("s1", "shutdown"), ("s2", "shutdown")] and len(last) == 0


def test_a_customers_journeys_are_shared_by_sessions_of_two_workers(make_store, clock):
    a, b = (LmdbJourneyBook(make_store().env) for _ in range(2))
    first = new_state("s1", clock, audience_ids={"customer_id": "c1"}, audience_level="Customer")
    second = new_state("s2", clock, audience_ids={"customer_id": "c1"}, audience_level="Customer")
    from segflow.server.sessions.state import JourneyStep

    a.journeys_of(first)["welcome"] = JourneyStep(True, 1, "login", clock(), clock())
    a.save("s1")
    assert b.journeys_of(second)["welcome"].step == 1
    del b.journeys_of(second)["welcome"]
    b.save("s2")
    assert a.journeys_of(first) == {}
