"""Small builders for requests, so tests read as the visit they describe."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from segflow.v1 import decision_service_pb2 as pb, session_pb2

from segflow.rules.values import from_value, to_value


def values(**items) -> dict:
    return {name: to_value(value) for name, value in items.items()}


def start(session_id: str, *, customer: str | None = None, **parameters) -> pb.StartSessionRequest:
    audience = session_pb2.Audience(level="Customer", id_fields=values(customer_id=customer)) if customer else None
    return pb.StartSessionRequest(session_id=session_id, audience=audience, parameters=values(**parameters))


def event(session_id: str, name: str, *, event_id: str = "", **parameters) -> pb.PostEventRequest:
    return pb.PostEventRequest(session_id=session_id, event=session_pb2.Event(
        name=name, event_id=event_id, parameters=values(**parameters)))


def offers(session_id: str, *slots: tuple[str, int], allow_duplicates: bool = False) -> pb.GetOffersRequest:
    policy = pb.DUPLICATION_POLICY_ALLOW_DUPLICATES if allow_duplicates else pb.DUPLICATION_POLICY_NO_DUPLICATES
    return pb.GetOffersRequest(session_id=session_id, duplication_policy=policy,
                               slots=[pb.OfferSlot(interaction_point=p, count=n) for p, n in slots])


def attributes(session) -> dict:
    return {name: from_value(value) for name, value in session.attributes.items()}


def rpc_error(call, *args, code: grpc.StatusCode):
    """Call and expect a failure with `code`; returns (message, field violations, ErrorInfo reason)."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args)
    error = caught.value
    assert error.code() == code, error.details()
    status = rpc_status.from_call(error)
    fields, reason = {}, ""
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields.update({v.field: v.description for v in bad.field_violations})
        elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
    return error.details(), fields, reason
