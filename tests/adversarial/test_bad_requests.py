"""Bad requests for every RPC, over a real channel: each gets its named status (never INTERNAL or UNKNOWN), and
the server keeps serving after each one.

Each case is (RPC, request, expected code); a request given as bytes is sent as it is, to test bodies that do
not decode. Every RPC also gets an undecodable body, whatever its table says.
"""

from __future__ import annotations

import math
import random

import grpc
import pytest
from google.protobuf import message_factory, timestamp_pb2
from grpc_health.v1 import health_pb2
from segflow.v1 import (callout_service_pb2 as callout_pb, decision_service_pb2 as pb,
                        ruleset_service_pb2 as admin_pb, session_pb2, value_pb2)

from segflow.server.app import create_service
from segflow.server.callouts.example_server import create_server
from segflow.server.config import Config
from tests.service.calls import rpc_error

Code = grpc.StatusCode
LIVE = "live-session"  # started before the cases run; every case must leave it serving
NOT_UTF8 = b"\x0a\x02\xff\xfe"  # field 1, when it is a string, holding bytes that are not UTF-8
TRUNCATED = b"\x0a\x7f"  # field 1 announcing 127 bytes that never come


def double(x: float) -> value_pb2.Value:
    return value_pb2.Value(double_value=x)


def far_time() -> value_pb2.Value:
    return value_pb2.Value(timestamp_value=timestamp_pb2.Timestamp(seconds=10**12))


def event(name: str = "page_view", session_id: str = LIVE, **fields) -> pb.PostEventRequest:
    return pb.PostEventRequest(session_id=session_id, event=session_pb2.Event(name=name, **fields))


SERVICES = {
    "DecisionService": pb.DESCRIPTOR.services_by_name["DecisionService"],
    "RulesetService": admin_pb.DESCRIPTOR.services_by_name["RulesetService"],
    "Health": health_pb2.DESCRIPTOR.services_by_name["Health"],
    "CalloutService": callout_pb.DESCRIPTOR.services_by_name["CalloutService"],
}

CASES = [
    ("DecisionService", "StartSession", pb.StartSessionRequest(), Code.INVALID_ARGUMENT),
    ("DecisionService", "StartSession", pb.StartSessionRequest(session_id="s", channel="tv"), Code.NOT_FOUND),
    ("DecisionService", "StartSession", pb.StartSessionRequest(
        session_id="s", audience=session_pb2.Audience(level="Nobody")), Code.INVALID_ARGUMENT),
    ("DecisionService", "StartSession", pb.StartSessionRequest(
        session_id="s", parameters={"cart_total": double(math.nan)}), Code.INVALID_ARGUMENT),
    ("DecisionService", "StartSession", pb.StartSessionRequest(
        session_id="s", parameters={"cart_total": double(math.inf)}), Code.INVALID_ARGUMENT),
    ("DecisionService", "StartSession", pb.StartSessionRequest(
        session_id="s", parameters={"seen": far_time()}), Code.INVALID_ARGUMENT),
    ("DecisionService", "StartSession", pb.StartSessionRequest(session_id="s", audience=session_pb2.Audience(
        level="Customer", id_fields={f"unknown_id_field_{i:03}_" + "x" * 60: double(1) for i in range(200)})),
     Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(session_id=""), Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(name=""), Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(session_id="nobody"), Code.NOT_FOUND),
    ("DecisionService", "PostEvent", event(occurred_at=timestamp_pb2.Timestamp(seconds=-10**12)),
     Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(occurred_at=timestamp_pb2.Timestamp(seconds=1, nanos=-5)),
     Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(parameters={"x": double(-math.inf)}), Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(parameters={"x": value_pb2.Value(list_value=value_pb2.ValueList(
        values=[double(1), double(math.nan)]))}), Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(attributes={"cart_total": value_pb2.Value(string_value="x")}),
     Code.INVALID_ARGUMENT),
    ("DecisionService", "PostEvent", event(audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": far_time()})), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetOffers", pb.GetOffersRequest(session_id=LIVE), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetOffers", pb.GetOffersRequest(session_id=LIVE, slots=[
        pb.OfferSlot(interaction_point="nowhere", count=1)]), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetOffers", pb.GetOffersRequest(session_id=LIVE, slots=[
        pb.OfferSlot(interaction_point="cart_sidebar", count=-1)]), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetOffers", pb.GetOffersRequest(session_id="nobody", slots=[
        pb.OfferSlot(interaction_point="cart_sidebar", count=1)]), Code.NOT_FOUND),
    ("DecisionService", "SetAudience", pb.SetAudienceRequest(
        session_id=LIVE, audience=session_pb2.Audience(level="Nobody")), Code.INVALID_ARGUMENT),
    ("DecisionService", "SetAudience", pb.SetAudienceRequest(session_id=LIVE, audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": double(math.nan)})), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetSession", pb.GetSessionRequest(), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetSession", pb.GetSessionRequest(session_id="nobody"), Code.NOT_FOUND),
    ("DecisionService", "EndSession", pb.EndSessionRequest(session_id="nobody"), Code.NOT_FOUND),
    ("DecisionService", "SubscribeActions", pb.SubscribeActionsRequest(
        filter=pb.ActionFilter(types=[999])), Code.INVALID_ARGUMENT),
    ("DecisionService", "SubscribeActions", pb.SubscribeActionsRequest(resume_after=2**63), Code.INVALID_ARGUMENT),
    ("DecisionService", "ExecuteBatch", pb.ExecuteBatchRequest(session_id=LIVE, commands=[
        pb.BatchCommand(get_session=pb.GetSessionRequest())] * 101), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetProfile", pb.GetProfileRequest(), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetProfile", pb.GetProfileRequest(audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": double(math.nan)})), Code.INVALID_ARGUMENT),
    ("DecisionService", "GetProfile", pb.GetProfileRequest(audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": far_time()})), Code.INVALID_ARGUMENT),
    ("RulesetService", "ForgetCustomer", admin_pb.ForgetCustomerRequest(), Code.INVALID_ARGUMENT),
    ("RulesetService", "ForgetCustomer", admin_pb.ForgetCustomerRequest(audience=session_pb2.Audience(
        level="Nobody", id_fields={"customer_id": value_pb2.Value(string_value="c")})), Code.INVALID_ARGUMENT),
    ("RulesetService", "SimulateRuleset", admin_pb.SimulateRulesetRequest(scenario=admin_pb.Scenario(steps=[
        admin_pb.ScenarioStep()] * 1001)), Code.INVALID_ARGUMENT),
    ("RulesetService", "ValidateRuleset", admin_pb.ValidateRulesetRequest(), Code.INVALID_ARGUMENT),
    ("RulesetService", "DeployRuleset", admin_pb.DeployRulesetRequest(), Code.INVALID_ARGUMENT),
    ("RulesetService", "DeployRuleset", admin_pb.DeployRulesetRequest(
        source=admin_pb.RulesetSource(yaml="name: [unclosed")), Code.INVALID_ARGUMENT),
    ("RulesetService", "GetRuleset", admin_pb.GetRulesetRequest(version=10**9), Code.NOT_FOUND),
    ("RulesetService", "ListRulesets", admin_pb.ListRulesetsRequest(page_size=-1), Code.INVALID_ARGUMENT),
    ("RulesetService", "ListRulesets", admin_pb.ListRulesetsRequest(page_token="9" * 40), Code.INVALID_ARGUMENT),
    ("RulesetService", "ListRulesets", admin_pb.ListRulesetsRequest(page_token="9" * 5000), Code.INVALID_ARGUMENT),
    ("RulesetService", "ListRulesets", admin_pb.ListRulesetsRequest(page_token="²"), Code.INVALID_ARGUMENT),
    ("RulesetService", "RollbackRuleset", admin_pb.RollbackRulesetRequest(), Code.INVALID_ARGUMENT),
    ("RulesetService", "RollbackRuleset", admin_pb.RollbackRulesetRequest(version=10**9), Code.NOT_FOUND),
    ("RulesetService", "SimulateRuleset", admin_pb.SimulateRulesetRequest(), Code.INVALID_ARGUMENT),
    ("Health", "Check", health_pb2.HealthCheckRequest(service="no.such.Service"), Code.NOT_FOUND),
    ("CalloutService", "GetValue", callout_pb.GetValueRequest(name="nothing"), Code.NOT_FOUND),
    ("CalloutService", "GetValue", callout_pb.GetValueRequest(name="stock_level"), Code.INVALID_ARGUMENT),
    ("CalloutService", "GetValue", callout_pb.GetValueRequest(name="stock_level", arguments=[far_time()]),
     Code.INVALID_ARGUMENT),
]


def _undecodable(method) -> list[bytes]:
    first = method.input_type.fields_by_number.get(1)
    return [TRUNCATED] + ([NOT_UTF8] if first is not None and first.type == first.TYPE_STRING else [])


UNDECODABLE = [(service, method.name, body, Code.INVALID_ARGUMENT)
               for service, descriptor in SERVICES.items() for method in descriptor.methods
               for body in _undecodable(method)]


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    service = create_service(Config(address="127.0.0.1:0", data_dir=tmp_path_factory.mktemp("bad"), workers=8))
    callouts, callout_port = create_server()
    callouts.start()
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel, \
            grpc.insecure_channel(f"127.0.0.1:{callout_port}") as callout_channel:
        call(channel, "DecisionService", "StartSession", pb.StartSessionRequest(session_id=LIVE))
        yield {name: callout_channel if name == "CalloutService" else channel for name in SERVICES}
    callouts.stop(0)
    service.stop(grace=1)


def call(channel: grpc.Channel, service: str, method: str, request):
    """Call an RPC by name with a message, or with raw bytes; a stream is read to its first message."""
    descriptor = SERVICES[service].methods_by_name[method]
    path = f"/{SERVICES[service].full_name}/{method}"
    serialize = None if isinstance(request, bytes) else type(request).SerializeToString
    options = {"request_serializer": serialize,
               "response_deserializer": message_factory.GetMessageClass(descriptor.output_type).FromString}
    if descriptor.server_streaming:
        stream = channel.unary_stream(path, **options)(request, timeout=5)
        try:
            return next(stream)
        finally:
            stream.cancel()
    return channel.unary_unary(path, **options)(request, timeout=5)


@pytest.mark.parametrize("service, method, request_, code", CASES + UNDECODABLE,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES + UNDECODABLE)])
def test_a_bad_request_gets_its_status_and_the_server_keeps_serving(servers, service, method, request_, code):
    channel = servers[service]
    message, violations, reason = rpc_error(lambda: call(channel, service, method, request_), code=code)
    assert reason or service in ("Health", "CalloutService")  # segflow's own errors name their reason
    assert len(message) <= 500 and len(violations) <= 40
    health = call(servers["Health"], "Health", "Check", health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert call(channel if service == "DecisionService" else servers["DecisionService"], "DecisionService",
                "GetSession", pb.GetSessionRequest(session_id=LIVE)).session.session_id == LIVE


def test_200_bad_fields_fit_in_the_trailer_with_a_count_of_the_rest(servers):
    audience = session_pb2.Audience(level="Customer", id_fields={f"field_{i:03}_" + "y" * 80: double(1)
                                                                 for i in range(200)})
    message, violations, reason = rpc_error(
        lambda: call(servers["DecisionService"], "DecisionService", "StartSession",
                     pb.StartSessionRequest(session_id="s", audience=audience)), code=Code.INVALID_ARGUMENT)
    assert reason == "UNKNOWN_ID_FIELD" and "(and 199 more)" in message
    shown = len(violations) - 1
    assert 5 <= shown < 200 and violations[""] == f"and {200 - shown} more"


def test_one_bad_command_fails_alone_in_a_batch(servers):
    far = event(session_id="", occurred_at=timestamp_pb2.Timestamp(seconds=10**12))
    batch = pb.ExecuteBatchRequest(session_id=LIVE, commands=[
        pb.BatchCommand(post_event=far), pb.BatchCommand(get_session=pb.GetSessionRequest())])
    response = call(servers["DecisionService"], "DecisionService", "ExecuteBatch", batch)
    assert response.results[0].error.code == "INVALID_ARGUMENT"
    assert response.results[1].get_session.session.session_id == LIVE


VALID = [
    ("DecisionService", "StartSession", pb.StartSessionRequest(session_id="fuzz", audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": value_pb2.Value(string_value="c-1")}),
        parameters={"cart_total": double(10.0)})),
    ("DecisionService", "PostEvent", event(parameters={"sku": value_pb2.Value(string_value="TV"), "price": double(9.5)},
                                           occurred_at=timestamp_pb2.Timestamp(seconds=1_700_000_000))),
    ("DecisionService", "GetOffers", pb.GetOffersRequest(session_id=LIVE, slots=[
        pb.OfferSlot(interaction_point="cart_sidebar", count=2)])),
    ("DecisionService", "SetAudience", pb.SetAudienceRequest(session_id=LIVE, audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": value_pb2.Value(string_value="c-2")}))),
    ("DecisionService", "ExecuteBatch", pb.ExecuteBatchRequest(session_id=LIVE, commands=[
        pb.BatchCommand(get_session=pb.GetSessionRequest()), pb.BatchCommand(post_event=event(session_id=""))])),
    ("DecisionService", "GetProfile", pb.GetProfileRequest(audience=session_pb2.Audience(
        level="Customer", id_fields={"customer_id": value_pb2.Value(string_value="c-1")}))),
    ("RulesetService", "ListRulesets", admin_pb.ListRulesetsRequest(page_size=5, page_token="7")),
    ("RulesetService", "GetRuleset", admin_pb.GetRulesetRequest(version=1)),
    ("RulesetService", "SimulateRuleset", admin_pb.SimulateRulesetRequest(scenario=admin_pb.Scenario(steps=[
        admin_pb.ScenarioStep(command=pb.BatchCommand(start_session=pb.StartSessionRequest())),
        admin_pb.ScenarioStep(command=pb.BatchCommand(post_event=event(session_id="")))]))),
]


@pytest.mark.parametrize("service, method, request_", VALID, ids=[c[1] for c in VALID])
def test_no_mutation_of_a_valid_request_reaches_internal(servers, service, method, request_):
    """Each valid request with bytes flipped, dropped or cut (seeded): every answer is OK or a named status."""
    generator = random.Random(f"{service}.{method}")
    body = request_.SerializeToString()
    for _ in range(40):
        mutated = bytearray(body)
        for _ in range(generator.randint(1, 4)):
            at = generator.randrange(len(mutated))
            choice = generator.random()
            if choice < 0.6:
                mutated[at] = generator.randrange(256)
            elif choice < 0.8:
                del mutated[at]
            else:
                mutated = mutated[:at]
            if not mutated:
                break
        try:
            call(servers[service], service, method, bytes(mutated))
        except grpc.RpcError as error:
            assert error.code() not in (Code.INTERNAL, Code.UNKNOWN), (bytes(mutated), error.details())
