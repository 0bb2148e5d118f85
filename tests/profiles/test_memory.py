"""CustomerMemory: daily buckets, windows, bounds, the merge at identification, and the session codec."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from segflow.server.profiles.memory import MAX_DAYS, CustomerMemory, day_of
from segflow.server.sessions import codec
from segflow.server.sessions.state import SessionState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
TODAY = day_of(T0)


def test_a_window_of_d_days_is_today_and_the_days_before():
    memory = CustomerMemory()
    for days_ago in (0, 6, 7, 29, 30):
        memory.count("purchase", T0 - timedelta(days=days_ago), {"amount": 10.0, "sku": "x"})
    assert memory.event_count("purchase", TODAY - 6, TODAY) == 2  # 7 days: today and 6 before
    assert memory.event_count("purchase", TODAY - 29, TODAY) == 4
    assert memory.event_sum("purchase", "amount", TODAY - 29, TODAY) == 40.0
    assert memory.event_sum("purchase", "sku", TODAY - 29, TODAY) is None  # not numeric: never summed
    assert memory.event_time("purchase", TODAY - 29, TODAY, last=False) == T0 - timedelta(days=29)
    assert memory.event_time("purchase", TODAY - 29, TODAY, last=True) == T0
    assert memory.event_time("view", TODAY - 29, TODAY, last=True) is None


def test_buckets_are_bounded_whatever_the_history():
    memory = CustomerMemory()
    for day in range(MAX_DAYS + 50):
        memory.count("view", T0 + timedelta(days=day), {})
    assert len(memory.counters["view"]) == MAX_DAYS
    assert min(map(int, memory.counters["view"])) == TODAY + 50  # the oldest days went first


def test_a_visit_merges_into_the_stored_memory_by_documented_precedence():
    stored = CustomerMemory("Customer", "customer_id=c", {"tier": "gold", "favourite": "books"})
    stored.count("purchase", T0 - timedelta(days=1), {"amount": 5})
    stored.contact("OFFER", T0 - timedelta(days=1))
    visit = CustomerMemory(attributes={"tier": None, "favourite": None})
    visit.sync({"tier": None, "favourite": "toys"}, ("tier", "favourite"))
    visit.count("purchase", T0, {"amount": 7})
    visit.count("purchase", T0 - timedelta(days=1), {"amount": 1})
    visit.contact("OFFER", T0)
    visit.respond("OFFER", T0, accepted=False)
    stored.merge_visit(visit)
    assert stored.attributes == {"tier": "gold", "favourite": "toys"}  # only what the visit changed wins
    assert stored.event_count("purchase", TODAY - 1, TODAY) == 3
    assert stored.event_sum("purchase", "amount", TODAY - 1, TODAY) == 13
    assert stored.contacts("OFFER", TODAY - 1) == 2 and stored.last_response("OFFER") == (T0, False)
    assert stored.dirty


def test_sync_tells_one_from_true_and_one_point_oh():
    memory = CustomerMemory(attributes={"x": 1})
    memory.sync({"x": 1}, ("x",))
    assert not memory.dirty
    memory.sync({"x": True}, ("x",))
    assert memory.changed == {"x"} and memory.attributes["x"] is True


def test_memory_survives_the_session_codec():
    memory = CustomerMemory("Customer", "customer_id=c", {"seen": T0, "tier": "gold"})
    memory.count("purchase", T0, {"amount": 2.5})
    memory.patterns["regular"] = T0.timestamp()
    memory.sync({"seen": T0, "tier": "silver"}, ("seen", "tier"))
    state = SessionState(session_id="s", channel="web", audience_level="Customer", started_at=T0,
                         last_activity_at=T0, memory=memory)
    assert codec.decode(codec.encode(state)).memory == memory
    assert codec.decode(codec.encode(SessionState("s", "web", "Visitor", T0, T0))).memory is None


def test_a_profile_refused_after_the_call_committed_is_logged_not_raised(caplog):
    from segflow.server.history.writer import HistoryFull
    from segflow.server.profiles.recall import Recall
    from segflow.server.profiles.store import profile_record

    class FullStore:
        def save(self, record):
            raise HistoryFull("history queue is full (3 records waiting to be written)")

    record = profile_record("Customer", "customer_id=c", {"tier": "gold"}, CustomerMemory().document(), T0)
    Recall(FullStore()).save(record)
    assert "profile of customer_id=c not queued for writing" in caplog.text


def test_a_copy_shares_nothing_a_call_changes():
    memory = CustomerMemory("Customer", "customer_id=c", {"tier": "gold"})
    memory.count("purchase", T0, {"amount": 1})
    memory.contact("OFFER", T0)
    memory.respond("OFFER", T0, accepted=True)
    copy = memory.copy()
    assert copy == memory
    copy.count("purchase", T0, {"amount": 1})
    copy.contact("OFFER", T0)
    copy.sync({"tier": "silver"}, ("tier",))
    copy.patterns["p"] = 1.0
    assert memory.event_sum("purchase", "amount", TODAY, TODAY) == 1 and memory.contacts("OFFER", TODAY) == 1
    assert memory.attributes == {"tier": "gold"} and not memory.changed and not memory.patterns
