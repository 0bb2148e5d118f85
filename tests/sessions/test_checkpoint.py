"""SessionState.checkpoint: a failed call's session is put back exactly as the call found it (a Checkpoint is
a tuple of its fields, event statistics and journey steps kept as their values)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import fields
from datetime import datetime, timedelta, timezone

from segflow.server.profiles.memory import CustomerMemory
from segflow.server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _session() -> SessionState:
    offer = IssuedOffer("O1", "t-1", "a-1", "home", "rule", "seg", 1.5)
    return SessionState(
        "s", "web", "Customer", T0, T0, {"customer_id": "c"}, {"cart": 2.0, "tags": ["a"]}, frozenset({"seg"}),
        {"view": EventStat(2, T0, T0, {"page": "x"})}, 2, OrderedDict(e1=b"r"), [offer], {"t-1": offer},
        {"O1": 1}, {"O2"}, {"O3"}, {"j": JourneyStep(True, 1, "view", T0, T0)}, 3,
        CustomerMemory.live("Customer", "customer_id=c", {"tier": "gold"}))


def _call(session: SessionState) -> None:
    """What a call changes: every field, the containers in place, the statistics and steps in place."""
    later = T0 + timedelta(minutes=1)
    session.last_activity_at = later
    session.audience_ids["customer_id"] = "d"
    session.attributes["cart"] = 9.0
    session.segments = frozenset()
    stat = session.event_stats["view"]
    stat.count, stat.last_time, stat.last_data = 3, later, {"page": "y"}
    session.event_stats["buy"] = EventStat(1, later, later, {})
    session.event_sequence = 4
    session.last_recommended.clear()
    session.issued.clear()
    session.presentations["O1"] = 2
    session.rejected.add("O9")
    session.suppressed.discard("O3")
    step = session.journeys["j"]
    step.step, step.updated_at = 2, later
    session.journeys["k"] = JourneyStep(True, 0, "buy", later, later)
    session.ruleset_version = 4
    session.memory.count("buy", later, {"amount": 3})
    session.memory.sync({"tier": "silver"}, ("tier",), later)


def test_a_failed_call_leaves_every_field_as_the_call_found_it():
    session = _session()
    as_it_was = copy.deepcopy(session)
    before = session.checkpoint()
    _call(session)
    rolled_back = before.rolled_back()
    for f in fields(SessionState):
        assert getattr(rolled_back, f.name) == getattr(as_it_was, f.name), f.name
    assert rolled_back.event_stats["view"] is not session.event_stats["view"]  # not the objects the call changed
    assert rolled_back.journeys["j"] is not session.journeys["j"]


def test_a_committed_call_keeps_what_it_changed():
    session = _session()
    before = session.checkpoint()
    _call(session)
    changed = copy.deepcopy(session)
    before.committed()
    assert session == changed
    session.memory.undo()  # settled: nothing left to undo
    assert session.memory == changed.memory
