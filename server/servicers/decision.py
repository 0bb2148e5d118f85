"""DecisionService over gRPC: every method hands its request to the engine; errors become rich statuses."""

from __future__ import annotations

import time

from segflow.v1 import decision_service_pb2_grpc

from segflow.server.errors import grpc_errors
from segflow.server.runtime.engine import Engine
from segflow.server.subscriptions import ActionBus, serve_subscription


def deadline(context) -> float | None:
    """The caller's gRPC deadline on the time.monotonic() clock, which bounds callouts; None without one."""
    remaining = context.time_remaining()
    return None if remaining is None else time.monotonic() + remaining


class DecisionServicer(decision_service_pb2_grpc.DecisionServiceServicer):
    """`encoded`: PostEvent answers an EncodedResponse (its actions go to the wire as they were encoded), for a
    server whose serializer calls the response's own SerializeToString (servicers.parsing.add_servicer); grpc's
    generated registration serializes through the message class, so it needs messages."""

    def __init__(self, engine: Engine, bus: ActionBus, encoded: bool = False):
        self.engine = engine
        self.bus = bus
        self.encoded = encoded

    @grpc_errors
    def StartSession(self, request, context):
        return self.engine.start_session(request, deadline(context))

    @grpc_errors
    def PostEvent(self, request, context):
        return self.engine.post_event(request, deadline(context), encoded=self.encoded)

    @grpc_errors
    def GetOffers(self, request, context):
        return self.engine.get_offers(request, deadline(context))

    @grpc_errors
    def SetAudience(self, request, context):
        return self.engine.set_audience(request, deadline(context))

    @grpc_errors
    def GetSession(self, request, context):
        return self.engine.get_session(request)

    @grpc_errors
    def EndSession(self, request, context):
        return self.engine.end_session(request)

    @grpc_errors
    def GetProfile(self, request, context):
        return self.engine.get_profile(request)

    @grpc_errors
    def ExecuteBatch(self, request, context):
        return self.engine.execute_batch(request, deadline(context))

    def SubscribeActions(self, request, context):
        yield from serve_subscription(self.bus, request, context)
