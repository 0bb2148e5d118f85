"""Retried events within the bounds of what a session remembers (server.runtime.idempotency): the last responses
whole, older ones compact, the oldest ids forgotten; the session stays small however many events it takes."""

from __future__ import annotations

from segflow.server.runtime import idempotency
from segflow.server.sessions import codec
from tests.service.calls import event, start


def add(decisions, n: int):
    return decisions.PostEvent(event("many", "add_to_cart", event_id=f"e{n}", sku=f"S{n}", price=1.0))


def test_a_busy_session_remembers_recent_responses_whole_older_ones_compact_and_stays_small(decisions, service):
    decisions.StartSession(start("many"))
    firsts = [add(decisions, n) for n in range(idempotency.EVENT_IDS_KEPT + 44)]
    last = firsts[-1].event_sequence
    recent = add(decisions, len(firsts) - 1)  # within the last RESPONSES_KEPT: as the first time
    assert recent.duplicate and list(recent.actions) == list(firsts[-1].actions)
    assert recent.advisories == firsts[-1].advisories
    older = add(decisions, len(firsts) - idempotency.RESPONSES_KEPT - 5)
    original = firsts[len(firsts) - idempotency.RESPONSES_KEPT - 5]
    assert older.duplicate and not older.actions
    assert [a.code for a in older.advisories] == ["duplicate_response_compacted"]
    assert (older.decision, older.event_sequence) == (original.decision, original.event_sequence)
    forgotten = add(decisions, 0)  # beyond EVENT_IDS_KEPT: processed again
    assert not forgotten.duplicate and forgotten.event_sequence == last + 1
    with service.store.locked("many") as slot:
        kept = slot.state.processed_events
        assert len(kept) <= idempotency.EVENT_IDS_KEPT
        assert sum(map(len, kept.values())) <= idempotency.TOTAL_BYTES
        assert len(codec.encode(slot.state)) < 2 * idempotency.TOTAL_BYTES


def test_a_response_larger_than_the_whole_budget_is_kept_compact(decisions, monkeypatch):
    monkeypatch.setattr(idempotency, "RESPONSE_BYTES", 10)
    decisions.StartSession(start("many"))
    first = add(decisions, 1)
    again = add(decisions, 1)
    assert again.duplicate and not again.actions and again.event_sequence == first.event_sequence
