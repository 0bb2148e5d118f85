"""RedisJourneyBook: a customer's journeys shared by replicas, written back by save with the commit of the call's
session, only where they changed, and only if that commit succeeds; kept for a retention after they changed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.redis_journeys import RedisJourneyBook
from segflow.server.sessions.redis_store import SessionLockLost
from segflow.server.sessions.store import retry_conflicts
from segflow.server.sessions.state import JourneyStep
from tests.sessions.conftest import new_state


class Replica:
    """A journey book on its own session store, saving as the engine does: under the call's session lock."""

    def __init__(self, store, **settings):
        self.store = store
        self.book = RedisJourneyBook(store, **settings)

    def journeys_of(self, session):
        return self.book.journeys_of(session)

    def save(self, session_id: str) -> None:
        with self.store.locked(session_id):
            self.book.save(session_id)


@pytest.fixture
def make_book(make_store):
    return lambda **settings: Replica(make_store(), **settings)


def step(clock, number=1, active=True, event="login") -> JourneyStep:
    return JourneyStep(active, number, event, clock(), clock())


def identified(session_id, clock, customer="c1"):
    return new_state(session_id, clock, audience_level="Customer", audience_ids={"customer_id": customer})


def test_a_customers_journeys_are_shared_by_sessions_on_two_replicas(make_book, clock):
    a, b = make_book(), make_book()
    on_a = identified("s1", clock)
    a.journeys_of(on_a)["onboarding"] = step(clock)
    a.save("s1")
    on_b = identified("s2", clock)
    journeys = b.journeys_of(on_b)
    assert journeys == {"onboarding": step(clock)}
    journeys["onboarding"].step = 2  # the runtime changes steps in place
    b.save("s2")
    assert a.journeys_of(identified("s3", clock))["onboarding"].step == 2


def test_nothing_is_shared_until_saved_and_a_call_sees_its_own_changes(make_book, clock):
    a, b = make_book(), make_book()
    session = identified("s1", clock)
    a.journeys_of(session)["onboarding"] = step(clock)
    assert "onboarding" in a.journeys_of(session)  # the same dict for the whole call
    assert b.journeys_of(identified("s2", clock)) == {}


def test_an_anonymous_session_keeps_its_own_journeys_until_it_is_identified(make_book, clock, redis_client, prefix):
    book = make_book()
    session = new_state("s1", clock)
    book.journeys_of(session)["browse"] = step(clock, event="view")
    book.save("s1")
    assert session.journeys == {"browse": step(clock, event="view")}
    assert list(redis_client.scan_iter(match=f"{prefix}*")) == []
    session.audience_ids = {"customer_id": "c1"}  # de-anonymized: its journeys become the customer's
    assert book.journeys_of(session) == {"browse": step(clock, event="view")} and session.journeys == {}
    book.save("s1")
    assert make_book().journeys_of(identified("s9", clock)) == {"browse": step(clock, event="view")}


def test_two_replicas_advancing_different_journeys_of_one_customer_both_keep_theirs(make_book, clock):
    a, b = make_book(), make_book()
    on_a, on_b = identified("s1", clock), identified("s2", clock)
    mine, theirs = a.journeys_of(on_a), b.journeys_of(on_b)  # both loaded before either saves
    mine["onboarding"] = step(clock)
    theirs["winback"] = step(clock, event="offer_click")
    a.save("s1")
    b.save("s2")
    assert set(make_book().journeys_of(identified("s3", clock))) == {"onboarding", "winback"}


def test_what_a_call_that_did_not_save_changed_is_not_written_by_the_next_call(make_book, clock):
    book = make_book()
    book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
    fresh = identified("s1", clock)  # the next call on s1 loads a new SessionState from the store
    with book.store.locked("s1"):
        assert book.journeys_of(fresh) == {}
        book.book.save("s1")
    assert make_book().journeys_of(identified("s2", clock)) == {}


def test_a_journey_deleted_from_the_dict_is_deleted_from_redis(make_book, clock):
    book = make_book()
    book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
    book.save("s1")
    del book.journeys_of(identified("s1", clock))["onboarding"]
    book.save("s1")
    assert make_book().journeys_of(identified("s2", clock)) == {}


def test_a_call_that_fails_changes_no_journey(make_book, clock):
    book = make_book()
    with pytest.raises(RuntimeError):
        with book.store.locked("s1"):
            book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
            book.book.save("s1")
            raise RuntimeError("the call fails after its journeys were saved")
    assert make_book().journeys_of(identified("s2", clock)) == {}


def test_a_call_that_outlived_its_session_lock_changes_no_journey(make_book, make_store, clock):
    book = make_book()
    book.store.lock_timeout, book.store._lock_ms = 0.1, 100
    with pytest.raises(SessionLockLost):
        with book.store.locked("s1"):
            book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
            time.sleep(0.25)  # the lock expires
            with make_store().locked("s1"):
                pass  # another replica takes the session
            book.book.save("s1")
    assert make_book().journeys_of(identified("s2", clock)) == {}


def test_a_customers_journeys_expire_the_retention_after_they_last_changed(make_book, clock, redis_client):
    book = make_book(retention=timedelta(days=2))
    book.journeys_of(identified("s1", clock, customer="c7"))["onboarding"] = step(clock)
    book.save("s1")
    ttl = redis_client.pttl(book.book.key("customer_id=c7"))
    assert timedelta(days=2) - timedelta(minutes=1) < timedelta(milliseconds=ttl) <= timedelta(days=2)
    kept = make_book()  # no retention: kept until deleted
    kept.journeys_of(identified("s2", clock, customer="c8"))["onboarding"] = step(clock)
    kept.save("s2")
    assert redis_client.pttl(kept.book.key("customer_id=c8")) == -1


def test_journeys_read_with_the_session_are_those_of_its_customer_now(make_book, clock):
    """A replica runs a call on the session as it committed it last: when another replica changed the session's
    customer since, the call runs again (`SessionConflict`) and gets the journeys of its customer now."""
    a, b = make_book(), make_book()
    with a.store.locked("s1") as slot:
        slot.state = identified("s1", clock, customer="c1")
        a.journeys_of(slot.state)["onboarding"] = step(clock)
        a.book.save("s1")
    with b.store.locked("s1") as slot:
        slot.state.audience_ids = {"customer_id": "c2"}
        b.journeys_of(slot.state)["welcome"] = step(clock, event="signup")
        b.book.save("s1")
    seen = []

    @retry_conflicts
    def call_on_a():
        with a.store.locked("s1") as slot:
            seen.append(dict(a.journeys_of(slot.state)))
            a.book.save("s1")

    call_on_a()
    assert seen == [{"onboarding": step(clock)}, {"welcome": step(clock, event="signup")}]
    call_on_a()  # as A committed it: c2's
    assert seen[-1] == {"welcome": step(clock, event="signup")}


def test_the_memory_book_has_the_same_save(clock):
    book = JourneyBook()
    journeys = book.journeys_of(identified("s1", clock))
    journeys["onboarding"] = step(clock)
    book.save("s1")
    assert book.journeys_of(identified("s2", clock)) == {"onboarding": step(clock)}
