"""The one place where the action bus meets gRPC: serving SubscribeActions from a bus (statuses built by
server.errors, like every other RPC's)."""

from collections.abc import Iterator

import grpc

from segflow.v1 import decision_service_pb2

from segflow.server.errors import InvalidArgument, ResourceExhausted, ServiceError, Unavailable, to_status

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
    closed for shutdown aborts with UNAVAILABLE, as does a shared log that cannot be reached. Each message says which resume_after continues the stream.
    """
    try:
        subscription = bus.subscribe(request)
        # A cancelled or expired call unsubscribes at once, even while the stream waits for an event;
        # add_callback is False when the call is already over.
        if not context.add_callback(subscription.close):
            subscription.close()
        # Headers go out now, not with the first event: a client that has them knows it is subscribed.
        context.send_initial_metadata(())
        yield from subscription
    except InvalidSubscription as error:
        context.abort_with_status(to_status(InvalidArgument(
            str(error), reason="BAD_SUBSCRIPTION", fields=[(error.field, error.message)])))
    except SubscriberFellBehind as error:
        context.abort_with_status(to_status(ResourceExhausted(
            str(error), reason="SUBSCRIBER_FELL_BEHIND", metadata={"resume_after": str(error.resume_after)})))
    except BusClosed as error:
        context.abort_with_status(to_status(Unavailable(
            str(error), reason="SHUTTING_DOWN", metadata={"resume_after": str(error.resume_after)})))
    except ServiceError as error:  # e.g. a shared action log that cannot be reached
        context.abort_with_status(to_status(error))
