"""A graceful stop over a real channel: calls that come once it began answer UNAVAILABLE (SHUTTING_DOWN, safe
to retry elsewhere), and subscriptions end with UNAVAILABLE and where to resume, never CANCELLED (#11.10)."""

from __future__ import annotations

import threading

import grpc
from segflow.v1 import decision_service_pb2 as pb

from tests.service.calls import event, rpc_error, start


def test_a_call_after_the_stop_began_answers_unavailable(service, decisions):
    decisions.StartSession(start("v"))
    service.gate.close(timeout=0)  # what stop() does first
    _, _, reason = rpc_error(decisions.PostEvent, event("v", "page_view"), code=grpc.StatusCode.UNAVAILABLE)
    assert reason == "SHUTTING_DOWN"


def test_a_subscription_ends_unavailable_with_its_position_when_the_service_stops(service, decisions):
    stream = decisions.SubscribeActions(pb.SubscribeActionsRequest())
    decisions.StartSession(start("v"))
    decisions.PostEvent(event("v", "add_to_cart", sku="TV", price=10.0))
    first = next(stream)
    stopping = threading.Thread(target=service.stop, kwargs={"grace": 10})
    stopping.start()
    try:
        for _ in stream:
            pass
        raise AssertionError("the stream did not end")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.UNAVAILABLE, error.details()
        assert "resume with resume_after=" in error.details() and first.sequence >= 1
    stopping.join(15)
    assert not stopping.is_alive()
