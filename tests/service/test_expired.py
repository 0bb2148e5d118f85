"""SESSION_STATE_EXPIRED over a real channel: GetSession of a session whose visit expired answers it with that
state and what its summary kept, whether the call itself found it idle or the sweeper closed it earlier."""

from __future__ import annotations

import grpc
from segflow.v1 import decision_service_pb2 as pb, session_pb2

from tests.service.calls import attributes, event, rpc_error, start


def get(decisions, session_id: str) -> session_pb2.Session:
    return decisions.GetSession(pb.GetSessionRequest(session_id=session_id)).session


def test_regression_get_session_of_an_expired_session_answers_expired(decisions, clock, service):
    decisions.StartSession(start("found-idle"))
    decisions.PostEvent(event("found-idle", "add_to_cart", sku="TV", price=900.0))  # and the chained check
    clock.advance(minutes=31)
    found = get(decisions, "found-idle")  # this call finds it idle: closed, summarised, answered EXPIRED
    assert found.state == session_pb2.SESSION_STATE_EXPIRED
    assert (found.session_id, found.channel, found.event_sequence, found.ruleset_version) == ("found-idle", "web", 2, 1)
    assert attributes(found)["cart_total"] == 900.0 and "big_spenders" in found.segments
    _, _, reason = rpc_error(decisions.PostEvent, event("found-idle", "login"), code=grpc.StatusCode.NOT_FOUND)
    assert reason == "SESSION_NOT_FOUND"


def test_a_session_the_sweeper_expired_is_answered_from_history(decisions, clock, service):
    decisions.StartSession(start("swept"))
    clock.advance(minutes=31)
    assert service.store.expire_idle() == 1
    assert service.history.flush(timeout=10)
    clock.advance(minutes=5)  # past this process's own memory of it: history answers
    swept = get(decisions, "swept")
    assert (swept.state, swept.anonymous) == (session_pb2.SESSION_STATE_EXPIRED, True)


def test_ended_restarted_and_unknown_sessions_stay_not_found(decisions, clock, service):
    decisions.StartSession(start("again"))
    clock.advance(minutes=31)
    assert get(decisions, "again").state == session_pb2.SESSION_STATE_EXPIRED
    decisions.StartSession(start("again"))  # a new visit under the id, live: answered as it is
    assert get(decisions, "again").state == session_pb2.SESSION_STATE_ACTIVE
    clock.advance(minutes=1)
    decisions.EndSession(pb.EndSessionRequest(session_id="again"))
    assert service.history.flush(timeout=10)
    for gone in ("again", "never-started"):
        _, _, reason = rpc_error(decisions.GetSession, pb.GetSessionRequest(session_id=gone),
                                 code=grpc.StatusCode.NOT_FOUND)
        assert reason == "SESSION_NOT_FOUND"
