"""The one place where the action bus meets gRPC: serving SubscribeActions from a bus."""

from collections.abc import Iterator

import grpc

from segflow.v1 import decision_service_pb2

from .bus import ActionBus
from .errors import BusClosed, InvalidSubscription, SubscriberFellBehind


def serve_subscription(
    bus: ActionBus,
    request: decision_service_pb2.SubscribeActionsRequest,
    context: grpc.ServicerContext,
) -> Iterator[decision_service_pb2.SubscribeActionsResponse]:
    """Stream `request`'s action events from `bus` until the client cancels or the stream ends.

    Use as `yield from serve_subscription(self.bus, request, context)` in a servicer. A bad request aborts
    with INVALID_ARGUMENT; a subscriber that fell behind gets its gap event, then RESOURCE_EXHAUSTED; a bus
    closed for shutdown aborts with UNAVAILABLE. Each message says which resume_after continues the stream.
    """
    try:
        subscription = bus.subscribe(request)
        # A cancelled or expired call unsubscribes at once, even while the stream waits for an event;
        # add_callback is False when the call is already over.
        if not context.add_callback(subscription.close):
            subscription.close()
        yield from subscription
    except InvalidSubscription as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
    except SubscriberFellBehind as error:
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
    except BusClosed as error:
        context.abort(grpc.StatusCode.UNAVAILABLE, str(error))
