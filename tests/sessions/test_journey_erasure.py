"""ForgetCustomer erases a customer's journeys in every journey book (memory, the host's LMDB file, Redis), and
only theirs: the regression where an erased customer's journeys survived the erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.lmdb_journeys import LmdbJourneyBook
from segflow.server.sessions.lmdb_store import LmdbSessionStore
from segflow.server.sessions.redis_journeys import RedisJourneyBook
from segflow.server.sessions.state import JourneyStep
from tests.sessions.conftest import new_state


@pytest.fixture(params=["memory", "lmdb"])
def local_book(request, tmp_path, clock):
    if request.param == "memory":
        return JourneyBook(), None
    store = LmdbSessionStore(tmp_path / "sessions", idle_timeout=timedelta(minutes=30), max_sessions=100,
                             clock=clock)
    return LmdbJourneyBook(store.env), store


def advance(book, store, session, clock, journey: str) -> None:
    """One call on `session` that starts `journey`, saved as the engine does (under the session's lock)."""
    book.journeys_of(session)[journey] = JourneyStep(True, 1, "login", clock(), clock())
    if store is None:
        book.save(session.session_id)
    else:
        with store.locked(session.session_id):
            book.save(session.session_id)


def test_regression_forget_customer_erases_their_journeys_and_no_one_elses(local_book, clock):
    erases_only_theirs(*local_book, clock)


def test_regression_forget_customer_erases_their_journeys_in_redis(make_store, clock):  # single and cluster
    store = make_store()
    erases_only_theirs(RedisJourneyBook(store), store, clock)


def erases_only_theirs(book, store, clock) -> None:
    gone = new_state("s-gone", clock, audience_ids={"customer_id": "gone"}, audience_level="Customer")
    kept = new_state("s-kept", clock, audience_ids={"customer_id": "kept"}, audience_level="Customer")
    advance(book, store, gone, clock, "welcome")
    advance(book, store, gone, clock, "recovery")
    advance(book, store, kept, clock, "welcome")

    book.forget(gone.customer_id)

    again = new_state("s-again", clock, audience_ids={"customer_id": "gone"}, audience_level="Customer")
    assert book.journeys_of(again) == {}
    assert set(book.journeys_of(new_state("s-other", clock, audience_ids={"customer_id": "kept"},
                                          audience_level="Customer"))) == {"welcome"}
