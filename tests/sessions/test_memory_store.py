"""The embedded session store: serialised calls per session, sliding expiry, eviction, shutdown."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from segflow.server.sessions.store import MemorySessionStore
from tests.sessions.conftest import new_state


def make(clock, closed, **overrides) -> MemorySessionStore:
    settings = dict(idle_timeout=timedelta(minutes=30), max_sessions=100, clock=clock, on_close=closed)
    return MemorySessionStore(**{**settings, **overrides})


def open_session(store, session_id, clock, **fields) -> None:
    with store.locked(session_id) as slot:
        slot.state = new_state(session_id, clock, **fields)


def test_a_state_set_in_a_call_is_there_for_the_next_and_a_missing_one_leaves_nothing(clock, closed):
    store = make(clock, closed)
    with store.locked("nobody") as slot:
        assert slot.state is None
    assert len(store) == 0
    open_session(store, "s", clock)
    with store.locked("s") as slot:
        slot.state.attributes["x"] = 1
    with store.locked("s") as slot:
        assert slot.state.attributes == {"x": 1}


def test_calls_on_one_session_are_serialised(clock, closed):
    store = make(clock, closed)
    open_session(store, "s", clock, event_sequence=0)

    def bump() -> None:
        for _ in range(500):
            with store.locked("s") as slot:
                value = slot.state.event_sequence
                if value % 50 == 0:
                    time.sleep(0)  # give other threads a chance mid-update: a lost update would show
                slot.state.event_sequence = value + 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.locked("s") as slot:
        assert slot.state.event_sequence == 2000


def test_expiry_slides_with_every_call_and_is_reported_once(clock, closed):
    store = make(clock, closed)
    open_session(store, "s", clock)
    clock.advance(minutes=29)
    with store.locked("s"):
        pass  # renews
    clock.advance(minutes=29)
    assert store.expire_idle() == 0
    clock.advance(minutes=2)
    assert store.expire_idle() == 1 and store.expire_idle() == 0
    assert closed.calls == [("s", "expired")]
    with store.locked("s") as slot:
        assert slot.state is None


def test_a_session_found_expired_when_a_call_arrives_is_closed_first(clock, closed):
    store = make(clock, closed)
    open_session(store, "s", clock)
    clock.advance(hours=1)
    with store.locked("s") as slot:
        assert slot.state is None
    assert closed.calls == [("s", "expired")]


def test_beyond_the_bound_the_least_recently_active_are_evicted(clock, closed):
    store = make(clock, closed, max_sessions=2)
    for session_id in ("a", "b"):
        open_session(store, session_id, clock)
        clock.advance(seconds=1)
    with store.locked("a"):
        pass  # "a" is now the most recently active
    open_session(store, "c", clock)
    assert closed.calls == [("b", "evicted")]
    assert len(store) == 2


def test_end_and_close_all_report_why(clock, closed):
    store = make(clock, closed)
    for session_id in ("a", "b", "c"):
        open_session(store, session_id, clock)
    with store.locked("a") as slot:
        ended = store.end(slot, "ended")
    assert ended.session_id == "a"
    assert store.close_all() == 2
    assert sorted(closed.calls) == [("a", "ended"), ("b", "shutdown"), ("c", "shutdown")]
    assert len(store) == 0


def test_sessions_beyond_the_hot_ones_are_kept_encoded_and_come_back_whole(clock, closed):
    store = make(clock, closed, hot=1)
    open_session(store, "cold", clock, attributes={"cart_total": 12.5, "tags": ["a", None]},
                 segments=frozenset({"browsers"}))
    with store.locked("cold") as slot:
        before = slot.state
    open_session(store, "busy", clock)  # the hot one now: "cold" is encoded
    assert store._slots["cold"]._packed is not None and store._slots["cold"]._state is None
    assert store._slots["busy"]._packed is None
    assert len(store) == 2
    with store.locked("cold") as slot:
        assert slot.state == before and slot.state is not before
    assert store._slots["busy"]._packed is not None  # and now "busy" is the cold one


def test_an_encoded_session_still_expires_and_is_reported_whole(clock, closed):
    store = make(clock, closed, hot=1)
    open_session(store, "cold", clock, attributes={"x": 1})
    open_session(store, "busy", clock)
    clock.advance(minutes=31)
    assert store.expire_idle() == 2
    assert sorted(closed.calls) == [("busy", "expired"), ("cold", "expired")]
    assert len(store) == 0


def test_a_session_in_use_is_never_encoded_under_its_call(clock, closed):
    store = make(clock, closed, hot=1)
    open_session(store, "a", clock)
    with store.locked("a") as slot:
        state = slot.state
        open_session(store, "b", clock)  # pushes "a" out of the hot set while its call holds it
        assert slot.state is state
        state.attributes["x"] = 1
    with store.locked("a") as slot:
        assert slot.state.attributes == {"x": 1}
