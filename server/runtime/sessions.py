"""A session as the `Session` message that GetSession, StartSession and EndSession return: a live one, or one
that expired as history summarised it."""

from __future__ import annotations

from datetime import datetime

from google.protobuf import timestamp_pb2
from segflow.v1 import session_pb2

from segflow.server.history.records import SessionSummary
from segflow.server.runtime.offers import offer_message
from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.state import SessionState
from segflow.server.sessions.store import SessionStore
from segflow.rules.values import to_value

_ACTIVE = session_pb2.JOURNEY_STATUS_ACTIVE
_STOPPED = session_pb2.JOURNEY_STATUS_STOPPED


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def expired_message(summary: SessionSummary) -> session_pb2.Session:
    """A session that expired, as its history summary kept it: attributes masked as there; no audience ids,
    event statistics, offers or journeys; `expires_at` when it was found expired."""
    return session_pb2.Session(
        session_id=summary.session_id, channel=summary.channel,
        audience=session_pb2.Audience(level=summary.audience_level), customer_id=summary.customer_id,
        anonymous=summary.anonymous, attributes={name: to_value(value) for name, value in summary.attributes.items()},
        segments=sorted(summary.segments), started_at=_timestamp(summary.started_at),
        expires_at=_timestamp(summary.ended_at), ruleset_version=summary.ruleset_version,
        event_sequence=summary.event_count, state=session_pb2.SESSION_STATE_EXPIRED)


def session_message(session: SessionState, store: SessionStore, journeys: JourneyBook,
                    state: int = session_pb2.SESSION_STATE_ACTIVE) -> session_pb2.Session:
    return session_pb2.Session(
        session_id=session.session_id,
        channel=session.channel,
        audience=session_pb2.Audience(level=session.audience_level,
                                      id_fields={k: to_value(v) for k, v in session.audience_ids.items()}),
        customer_id=session.customer_id,
        anonymous=session.anonymous,
        attributes={name: to_value(value) for name, value in session.attributes.items()},
        segments=sorted(session.segments),
        event_statistics=[
            session_pb2.EventStatistics(event_name=name, count=stat.count, first_time=_timestamp(stat.first_time),
                                        last_time=_timestamp(stat.last_time),
                                        last_data={k: to_value(v) for k, v in stat.last_data.items()})
            for name, stat in sorted(session.event_stats.items())],
        last_recommended_offers=[offer_message(o, {}) for o in session.last_recommended],
        started_at=_timestamp(session.started_at),
        last_activity_at=_timestamp(session.last_activity_at),
        expires_at=_timestamp(store.expires_at(session)),
        ruleset_version=session.ruleset_version,
        event_sequence=session.event_sequence,
        journeys=[
            session_pb2.JourneyState(journey=name, status=_ACTIVE if step.active else _STOPPED, step=step.step,
                                     last_event=step.last_event, started_at=_timestamp(step.started_at),
                                     updated_at=_timestamp(step.updated_at))
            for name, step in sorted(journeys.journeys_of(session).items())],
        state=state,
        suppressed_offers=sorted(session.suppressed | session.rejected),
    )
