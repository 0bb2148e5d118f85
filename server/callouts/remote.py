"""Calls callouts served by a remote CalloutService over gRPC, one shared channel per target (and TLS)."""

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import grpc

from segflow.v1 import callout_service_pb2, callout_service_pb2_grpc, session_pb2, value_pb2

from segflow.rules.values import from_value, to_value
from segflow.server.observability.tracing import outgoing_metadata
from segflow.server.security.tls import ClientTLS, open_channel


class Channels:
    """The gRPC channels of one registry, one per target; filled while the registry is built, then read-only."""

    def __init__(self) -> None:
        self._channels: dict[tuple[str, ClientTLS | None], grpc.Channel] = {}

    def stub(self, target: str, reconnect_within: float, tls: ClientTLS | None = None,
             ) -> callout_service_pb2_grpc.CalloutServiceStub:
        """Return a CalloutService stub on the target's channel (TLS when `tls` is given), opening the channel
        on first use.

        A channel that lost its server tries to reconnect at least every `reconnect_within` seconds (the
        callout's breaker_reset; the first callout of a target sets it): gRPC's default backoff grows to two
        minutes, so a half-open breaker's probe would find the channel still waiting long after the server
        came back."""
        channel = self._channels.get((target, tls))
        if channel is None:
            backoff_ms = max(100, int(reconnect_within * 1000))
            channel = self._channels[target, tls] = open_channel(target, tls, options=[
                ("grpc.initial_reconnect_backoff_ms", min(1000, backoff_ms)),
                ("grpc.min_reconnect_backoff_ms", min(1000, backoff_ms)),
                ("grpc.max_reconnect_backoff_ms", backoff_ms)])
        return callout_service_pb2_grpc.CalloutServiceStub(channel)

    def close(self) -> None:
        """Close every channel; calls still in flight on them fail with CANCELLED."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()


class RemoteSource:
    """One named callout on a CalloutService; `submit` sends GetValue with the caller's timeout as deadline."""

    inline = False
    remote = True

    def __init__(
        self, name: str, stub: callout_service_pb2_grpc.CalloutServiceStub, parameters: Mapping[str, str]
    ) -> None:
        self._name = name
        self._stub = stub
        self._parameters = dict(parameters)

    def submit(self, args: tuple, *, audience: Any, session_id: str, timeout: float) -> Future:
        """Send the request; the future holds the Python value, TimeoutError, or the grpc.RpcError."""
        request = callout_service_pb2.GetValueRequest(
            name=self._name,
            arguments=[to_value(arg) for arg in args],
            session_id=session_id,
            parameters=self._parameters,
        )
        if audience is not None:
            request.audience.CopyFrom(audience_proto(audience))
        result: Future = Future()
        # Running futures cannot be cancelled: the concurrency slot stays taken until gRPC ends the call.
        result.set_running_or_notify_cancel()
        call = self._stub.GetValue.future(request, timeout=timeout, metadata=outgoing_metadata())
        call.add_done_callback(lambda done: _settle(result, done))
        return result

    def close(self) -> None:
        """Nothing to release: the channel belongs to Channels."""


def _settle(result: Future, call: grpc.Future) -> None:
    try:
        response = call.result()
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            result.set_exception(TimeoutError("callout deadline exceeded"))
        else:
            result.set_exception(exc)
    except Exception as exc:  # cancellation when the channel closes, among others
        result.set_exception(exc)
    else:
        try:
            result.set_result(from_value(response.value))
        except Exception as exc:
            result.set_exception(exc)


def audience_proto(audience: Any) -> session_pb2.Audience:
    """Return an Audience proto for an Audience proto, an object with `level` and `id_fields`, or a session
    state with `audience_level` and `audience_ids`; id values may be Value protos or Python values.
    """
    if isinstance(audience, session_pb2.Audience):
        return audience
    if hasattr(audience, "audience_level"):
        level, ids = audience.audience_level, audience.audience_ids
    else:
        level, ids = audience.level, audience.id_fields
    proto = session_pb2.Audience(level=level)
    for key, value in ids.items():
        proto.id_fields[key].CopyFrom(value if isinstance(value, value_pb2.Value) else to_value(value))
    return proto
