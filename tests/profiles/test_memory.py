"""CustomerMemory: tiers of buckets, windows, bounds, deltas and their merge, and the session codec."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from segflow.server.profiles.memory import DAYS, MAX_DAYS, TIERS, CustomerMemory, span
from segflow.server.sessions import codec
from segflow.server.sessions.state import SessionState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def count(memory: CustomerMemory, event: str, window: timedelta, now: datetime = T0) -> int:
    return memory.event_count(event, *span(int(window.total_seconds()), now))


def test_a_window_of_d_days_is_today_and_the_days_before():
    memory = CustomerMemory()
    for days_ago in (0, 6, 7, 29, 30):
        memory.count("purchase", T0 - timedelta(days=days_ago), {"amount": 10.0, "sku": "x"})
    month = span(30 * 86400, T0)
    assert month[0] == DAYS and count(memory, "purchase", timedelta(days=30)) == 4
    assert memory.event_sum("purchase", "amount", *month) == 40.0
    assert memory.event_sum("purchase", "sku", *month) is None  # not numeric: never summed
    assert memory.event_time("purchase", *month, latest=False) == T0 - timedelta(days=29)
    assert memory.event_time("purchase", *month, latest=True) == T0
    assert memory.event_time("view", *month, latest=True) is None


@pytest.mark.parametrize("window, tier, buckets", [
    (timedelta(minutes=1), 0, 1), (timedelta(minutes=90), 0, 90), (timedelta(hours=3), 0, 180),
    (timedelta(minutes=181), 1, 4), (timedelta(hours=24), 1, 24), (timedelta(days=7), 1, 168),
    (timedelta(days=8), DAYS, 8), (timedelta(days=400), DAYS, 400)])
def test_a_window_reads_the_finest_tier_that_reaches_back(window, tier, buckets):
    found, first, last = span(int(window.total_seconds()), T0)
    assert (found, last - first + 1) == (tier, buckets)


def test_short_windows_are_precise_to_their_tier():
    memory = CustomerMemory()
    for minutes_ago in (0, 29, 31, 59, 61, 60 * 23, 60 * 25):
        memory.count("view", T0 - timedelta(minutes=minutes_ago), {})
    assert count(memory, "view", timedelta(minutes=30)) == 2
    assert count(memory, "view", timedelta(hours=1)) == 4
    assert count(memory, "view", timedelta(hours=24)) == 6  # hour buckets: the current hour and 23 before
    assert count(memory, "view", timedelta(days=2)) == 7


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.integers(0, 500 * 86400), max_size=40), st.integers(60, 400 * 86400))
def test_a_window_counts_every_event_within_it_and_none_older_than_one_bucket_more(ages, window):
    memory = CustomerMemory()
    for age in ages:
        memory.count("e", T0 - timedelta(seconds=age), {})
    tier, first, last = span(window, T0)
    size = TIERS[tier][0]
    expected_at_least = sum(1 for age in ages if age < window - size)
    expected_at_most = sum(1 for age in ages if age < window + size)
    assert expected_at_least <= memory.event_count("e", tier, first, last) <= expected_at_most


def test_buckets_are_bounded_by_age_whatever_the_history():
    memory = CustomerMemory()
    for minute in range(0, (MAX_DAYS + 50) * 1440, 97):
        memory.count("view", T0 + timedelta(minutes=minute), {})
    for (size, kept, _), tier in zip(TIERS, memory.tiers):
        assert len(tier["view"]) <= kept


def test_a_delta_merges_into_the_stored_memory_counts_adding_up_and_attributes_by_last_writer():
    stored = CustomerMemory("Customer", "customer_id=c", {"tier": "gold", "favourite": "books"},
                            stamps={"tier": T0.timestamp(), "favourite": T0.timestamp()})
    stored.count("purchase", T0 - timedelta(days=1), {"amount": 5})
    stored.contact("OFFER", T0 - timedelta(days=1))
    visit = CustomerMemory.live(attributes={"tier": "gold", "favourite": "books"})
    visit.sync({"tier": "gold", "favourite": "toys"}, ("tier", "favourite"), T0 + timedelta(minutes=1))
    visit.count("purchase", T0, {"amount": 7})
    visit.count("purchase", T0 - timedelta(days=1), {"amount": 1})
    visit.contact("OFFER", T0)
    visit.respond("OFFER", T0, accepted=False)
    older = CustomerMemory.live(attributes={"favourite": "books"})
    older.sync({"favourite": "garden"}, ("favourite",), T0 - timedelta(minutes=1))  # written later, changed earlier
    stored.merge(visit.take_unsaved())
    stored.merge(older.take_unsaved())
    assert stored.attributes == {"tier": "gold", "favourite": "toys"}  # only what changed, the latest change wins
    days = span(30 * 86400, T0)  # the daily tier
    assert stored.event_count("purchase", DAYS, days[2] - 1, days[2]) == 3
    assert stored.event_sum("purchase", "amount", DAYS, days[2] - 1, days[2]) == 13
    assert stored.contacts("OFFER", days[2] - 1) == 2 and stored.last_response("OFFER") == (T0, False)
    assert visit.take_unsaved() is None  # taken: nothing changed since


def test_sync_tells_one_from_true_and_one_point_oh():
    memory = CustomerMemory.live(attributes={"x": 1})
    memory.sync({"x": 1}, ("x",), T0)
    assert memory.take_unsaved() is None
    memory.sync({"x": True}, ("x",), T0)
    assert memory.take_unsaved().attributes == {"x": True} and memory.attributes["x"] is True


def test_memory_survives_the_session_codec():
    memory = CustomerMemory.live("Customer", "customer_id=c", {"seen": T0, "tier": "gold"}, generation=2)
    memory.count("purchase", T0, {"amount": 2.5})
    memory.sync({"seen": T0, "tier": "silver"}, ("seen", "tier"), T0)
    state = SessionState(session_id="s", channel="web", audience_level="Customer", started_at=T0,
                         last_activity_at=T0, memory=memory)
    assert codec.decode(codec.encode(state)).memory == memory
    assert codec.decode(codec.encode(SessionState("s", "web", "Visitor", T0, T0))).memory is None


def test_a_profile_refused_after_the_call_committed_is_logged_not_raised(caplog):
    from segflow.server.history.writer import HistoryFull
    from segflow.server.profiles.recall import Recall
    from segflow.server.profiles.store import profile_delta

    class FullStore:
        def save(self, record):
            raise HistoryFull("history queue is full (3 records waiting to be written)")

    delta = CustomerMemory("Customer", "customer_id=c", {"tier": "gold"}, stamps={"tier": 1.0})
    Recall(FullStore()).save(profile_delta(delta, T0))
    assert "profile of customer_id=c not queued for writing" in caplog.text


def test_a_copy_shares_nothing_a_call_changes():
    memory = CustomerMemory.live("Customer", "customer_id=c", {"tier": "gold"})
    memory.count("purchase", T0, {"amount": 1})
    memory.contact("OFFER", T0)
    memory.respond("OFFER", T0, accepted=True)
    copy = memory.copy()
    assert copy == memory
    copy.count("purchase", T0, {"amount": 1})
    copy.contact("OFFER", T0)
    copy.sync({"tier": "silver"}, ("tier",), T0)
    today = span(30 * 86400, T0)[2]
    assert memory.event_sum("purchase", "amount", DAYS, today, today) == 1 and memory.contacts("OFFER", today) == 1
    assert memory.attributes == {"tier": "gold"} and sum(b[0] for b in memory.unsaved.tiers[0]["purchase"].values()) == 1


def _changes(memory: CustomerMemory, steps: list[tuple[str, int]]) -> None:
    for kind, n in steps:
        when = T0 + timedelta(minutes=n * 37)
        if kind == "count":
            memory.count(f"e{n % 3}", when, {"amount": n})
        elif kind == "contact":
            memory.contact(f"O{n % 2}", when)
        elif kind == "respond":
            memory.respond(f"O{n % 2}", when, accepted=n % 2 == 0)
        elif kind == "sync":
            memory.sync({"tier": f"t{n % 4}"}, ("tier",), when)
        else:
            memory.take_unsaved()


_STEPS = st.lists(st.tuples(st.sampled_from(["count", "contact", "respond", "sync", "take"]),
                            st.integers(0, 12 * 24 * 60)), max_size=30)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(_STEPS, _STEPS)
def test_undo_puts_the_memory_and_its_delta_back_as_they_were_at_record(before, during):
    memory = CustomerMemory.live("Customer", "customer_id=c", {"tier": "gold"})
    memory.count("e0", T0 - timedelta(days=500), {})  # past every bound: trimmed by the next counts
    _changes(memory, before)
    as_it_was = copy.deepcopy(memory.to_json())  # to_json shares the memory's dicts
    memory.record()
    _changes(memory, during)
    memory.undo()
    assert memory.to_json() == as_it_was
    _changes(memory, during)  # and it goes on as if the undone changes never happened
    again = CustomerMemory.from_json(as_it_was)
    _changes(again, during)
    assert memory.to_json() == again.to_json()


def test_settle_keeps_the_changes_and_stops_recording():
    memory = CustomerMemory.live("Customer", "customer_id=c")
    memory.record()
    memory.count("purchase", T0, {"amount": 1})
    memory.settle()
    memory.count("purchase", T0, {"amount": 1})
    memory.undo()  # nothing recorded: nothing undone
    assert memory.event_count("purchase", DAYS, *span(86400 * 30, T0)[1:]) == 2
