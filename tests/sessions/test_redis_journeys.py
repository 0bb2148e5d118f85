"""RedisJourneyBook: a customer's journeys shared by replicas, written back by save, only where they changed."""

from __future__ import annotations

import pytest

from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.redis_journeys import RedisJourneyBook
from segflow.server.sessions.state import JourneyStep
from tests.sessions.conftest import new_state


@pytest.fixture
def make_book(redis_client, prefix):
    return lambda: RedisJourneyBook(redis_client, prefix=prefix)


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


def test_a_call_that_did_not_save_is_written_before_the_next_call_loads(make_book, clock):
    book = make_book()
    book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
    fresh = identified("s1", clock)  # the next call on s1 loads a new SessionState from the store
    assert "onboarding" in book.journeys_of(fresh)
    assert "onboarding" in make_book().journeys_of(identified("s2", clock))


def test_a_journey_deleted_from_the_dict_is_deleted_from_redis(make_book, clock):
    book = make_book()
    book.journeys_of(identified("s1", clock))["onboarding"] = step(clock)
    book.save("s1")
    del book.journeys_of(identified("s1", clock))["onboarding"]
    book.save("s1")
    assert make_book().journeys_of(identified("s2", clock)) == {}


def test_the_memory_book_has_the_same_save(clock):
    book = JourneyBook()
    journeys = book.journeys_of(identified("s1", clock))
    journeys["onboarding"] = step(clock)
    book.save("s1")
    assert book.journeys_of(identified("s2", clock)) == {"onboarding": step(clock)}
