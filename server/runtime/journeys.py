"""Journey transitions: start, continue, stop, from journey triggers and from journey actions alike."""

from __future__ import annotations

from segflow.v1 import action_pb2

from segflow.server.history.records import JourneyRecord
from segflow.server.runtime.decision import Decision, field, tag, varint
from segflow.server.sessions.state import JourneyStep

_TYPES = {
    "start": (action_pb2.ACTION_TYPE_JOURNEY_START, action_pb2.ACTION_STATE_JOURNEY_STARTED),
    "continue": (action_pb2.ACTION_TYPE_JOURNEY_CONTINUE, action_pb2.ACTION_STATE_JOURNEY_CONTINUED),
    "stop": (action_pb2.ACTION_TYPE_JOURNEY_STOP, action_pb2.ACTION_STATE_JOURNEY_STOPPED),
}

_JOURNEY = tag(action_pb2.Action, "journey")
_NAME, _STEP = tag(action_pb2.JourneyDetails, "journey"), tag(action_pb2.JourneyDetails, "step")


def advance(journeys: dict[str, JourneyStep], journey: str, transition: str, decision: Decision) -> None:
    """Apply one transition. Starting an active journey, or continuing or stopping one that is not active,
    changes nothing and says so in an advisory."""
    current = journeys.get(journey)
    active = current is not None and current.active
    if transition == "start" and active:
        decision.advise("journey_already_active", f"journey {journey!r} is already active")
        return
    if transition != "start" and not active:
        decision.advise("journey_not_active", f"journey {journey!r} is not active: cannot {transition} it")
        return
    now = decision.now
    if transition == "start":
        current = journeys[journey] = JourneyStep(True, 1, decision.event_name, now, now)
    else:
        current.step += transition == "continue"
        current.active = transition == "continue"
        current.last_event = decision.event_name
        current.updated_at = now
    type_, state = _TYPES[transition]
    details = field(_NAME, journey.encode()) + _STEP + varint(current.step)
    action_id = decision.fire(type_, state, field(_JOURNEY, details))
    session = decision.session
    decision.record(JourneyRecord(  # in field order (history.records): keys, time, action id, the journey's
        session.session_id, decision.customer_id, decision.id, decision.version, now, action_id, journey, transition,
        current.step, decision.event_name, trace_id=decision.trace_id))
