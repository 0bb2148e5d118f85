"""The service is alive: health, reflection, a visit end to end, and clear errors for bad requests."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from segflow.v1 import decision_service_pb2 as pb, session_pb2

from tests.service.calls import attributes, event, rpc_error, start


def test_health_is_serving_once_a_ruleset_is_loaded(channel, service):
    assert service.registry.ready
    response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service="segflow.v1.DecisionService"))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"segflow.v1.DecisionService", "segflow.v1.RulesetService", "grpc.health.v1.Health"} <= names


def test_a_visit_end_to_end(decisions):
    started = decisions.StartSession(start("visit-1"))
    assert started.session.session_id == "visit-1"
    assert started.session.anonymous
    assert "browsers" in started.segments_entered
    assert started.decision.decision_id and started.decision.ruleset_version == 1

    posted = decisions.PostEvent(event("visit-1", "add_to_cart", sku="TV-55", price=120.0, quantity=2))
    assert posted.event_sequence == 1
    assert "shoppers" in posted.segments_entered and "browsers" in posted.segments_left
    session = decisions.GetSession(pb.GetSessionRequest(session_id="visit-1")).session
    assert attributes(session)["cart_total"] == 240.0
    assert attributes(session)["cart_items"] == 2
    [stat] = [s for s in session.event_statistics if s.event_name == "add_to_cart"]
    assert stat.count == 1

    ended = decisions.EndSession(pb.EndSessionRequest(session_id="visit-1"))
    assert ended.session.event_sequence == 1
    message, fields, reason = rpc_error(decisions.GetSession, pb.GetSessionRequest(session_id="visit-1"),
                                        code=grpc.StatusCode.NOT_FOUND)
    assert reason == "SESSION_NOT_FOUND" and "session_id" in fields


def test_empty_session_id_is_invalid_argument_with_the_field(decisions):
    message, fields, reason = rpc_error(decisions.StartSession, pb.StartSessionRequest(),
                                        code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "session_id" in fields and reason == "MISSING_FIELD"


def test_unknown_session_is_not_found(decisions):
    rpc_error(decisions.PostEvent, event("nobody", "login"), code=grpc.StatusCode.NOT_FOUND)


def test_wrong_value_types_are_invalid_argument_and_the_server_keeps_serving(decisions):
    decisions.StartSession(start("typed"))
    message, fields, reason = rpc_error(decisions.PostEvent, event("typed", "add_to_cart", sku="A", price="cheap"),
                                        code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "event.parameters.price" in fields and "double" in fields["event.parameters.price"]
    message, fields, reason = rpc_error(decisions.StartSession, start("typed-2", age="thirty"),
                                        code=grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == {"parameters.age": "expected int, got a str value"}
    # Nothing of the refused calls happened, and the server still answers.
    session = decisions.GetSession(pb.GetSessionRequest(session_id="typed")).session
    assert session.event_sequence == 0
    assert decisions.PostEvent(event("typed", "add_to_cart", sku="A", price=3)).event_sequence == 1


def test_missing_required_parameter_and_unknown_audience_level(decisions):
    decisions.StartSession(start("req"))
    _, fields, _ = rpc_error(decisions.PostEvent, event("req", "add_to_cart", price=1.0),
                             code=grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == {"event.parameters.sku": "is required"}
    request = pb.StartSessionRequest(session_id="lvl", audience=session_pb2.Audience(level="Custmer"))
    _, fields, _ = rpc_error(decisions.StartSession, request, code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "did you mean 'Customer'" in fields["audience.level"]


def test_unknown_event_is_recorded_and_fires_nothing(decisions):
    decisions.StartSession(start("unknown-event"))
    response = decisions.PostEvent(event("unknown-event", "teleport", where="moon"))
    assert not response.actions
    assert [a.code for a in response.advisories] == ["unknown_event"]
    session = decisions.GetSession(pb.GetSessionRequest(session_id="unknown-event")).session
    assert [s.event_name for s in session.event_statistics] == ["teleport"]


def test_a_full_history_queue_refuses_decisions_without_changing_anything(decisions, service, monkeypatch):
    decisions.StartSession(start("full"))
    monkeypatch.setattr(service.history, "_max_queue", 0)
    _, _, reason = rpc_error(decisions.PostEvent, event("full", "login"), code=grpc.StatusCode.RESOURCE_EXHAUSTED)
    assert reason == "HISTORY_FULL"
    monkeypatch.undo()
    session = decisions.GetSession(pb.GetSessionRequest(session_id="full")).session
    assert session.event_sequence == 0


def test_regression_end_session_answers_ended_and_the_session_is_gone(decisions):
    decisions.StartSession(start("to-end"))
    assert decisions.GetSession(pb.GetSessionRequest(session_id="to-end")).session.state == \
        session_pb2.SESSION_STATE_ACTIVE
    ended = decisions.EndSession(pb.EndSessionRequest(session_id="to-end")).session
    assert ended.state == session_pb2.SESSION_STATE_ENDED and ended.session_id == "to-end"
    rpc_error(decisions.GetSession, pb.GetSessionRequest(session_id="to-end"), code=grpc.StatusCode.NOT_FOUND)


def test_event_parameters_convert_and_are_refused_together(decisions):
    """Parameters are converted inline for the common kinds; every problem is still refused at once."""
    decisions.StartSession(start("params"))
    response = decisions.PostEvent(event("params", "add_to_cart", sku="A", price=3, quantity=2))
    total = decisions.GetSession(pb.GetSessionRequest(session_id="params")).session.attributes["cart_total"]
    assert total.WhichOneof("kind") == "double_value" and total.double_value == 6.0  # the int price is a double
    assert response.event_sequence == 1
    _, fields, reason = rpc_error(decisions.PostEvent, event("params", "add_to_cart", sku=True, price=float("nan"),
                                                             quantity=1.5), code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "BAD_PARAMETER"
    assert fields == {"event.parameters.price": "must be a finite number (not NaN or an infinity)"}
    _, fields, _ = rpc_error(decisions.PostEvent, event("params", "add_to_cart", sku=True, price=1.0, quantity=1.5),
                             code=grpc.StatusCode.INVALID_ARGUMENT)
    assert fields == {"event.parameters.sku": "expected string, got a bool",
                      "event.parameters.quantity": "expected int, got a float value"}
