"""Registers servicers so that they parse their own requests: a body that does not decode is INVALID_ARGUMENT.

grpcio's generated registration decodes a request before the servicer runs and answers a body that does not
decode with INTERNAL; registered here, the method gets the bytes, decodes them, and refuses bad ones with a
rich status like any other bad input.
"""

from __future__ import annotations

from operator import methodcaller

import grpc
from google.protobuf import message_factory
from google.protobuf.message import DecodeError

from segflow.server import calls
from segflow.server.errors import InvalidArgument, Unavailable, to_status
from segflow.server.servicers.gate import Gate


def add_servicer(servicer, service, server: grpc.Server, gate: Gate | None = None) -> None:
    """Serve `servicer`'s methods for the service descriptor `service` (unary or server-streaming) on `server`;
    with a `gate`, unary calls are counted through it, and every call answers UNAVAILABLE once it is closed."""
    handlers = {}
    for method in service.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        behaviour = getattr(servicer, method.name)
        if method.client_streaming:
            raise ValueError(f"{method.full_name}: client streaming is not supported")
        if method.server_streaming:
            handler = grpc.unary_stream_rpc_method_handler(
                _parsing_stream(behaviour, request_type, gate), response_serializer=_SERIALIZE)
        else:
            handler = grpc.unary_unary_rpc_method_handler(
                _parsing(behaviour, request_type, gate), response_serializer=_SERIALIZE)
        handlers[method.name] = handler
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))


# A response's bytes: a message's, or an EncodedResponse's (PostEvent's actions as they were encoded).
_SERIALIZE = methodcaller("SerializeToString")


def _parse(request_type, body: bytes, context):
    try:
        request = request_type.FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        context.abort_with_status(to_status(InvalidArgument(
            f"the request is not a valid {request_type.DESCRIPTOR.full_name}: {exc}", reason="UNDECODABLE_REQUEST")))
    call = calls.current()
    if call is not None:  # for the access log line
        call.request = request
    return request


def _parsing(behaviour, request_type, gate: Gate | None):
    if gate is None:
        def handle(body: bytes, context):
            return behaviour(_parse(request_type, body, context), context)

        return handle

    def handle_gated(body: bytes, context):
        try:
            gate.enter()
        except Unavailable as exc:
            context.abort_with_status(to_status(exc))
        try:
            return behaviour(_parse(request_type, body, context), context)
        finally:
            gate.leave()

    return handle_gated


def _parsing_stream(behaviour, request_type, gate: Gate | None):
    def handle(body: bytes, context):
        if gate is not None and gate.closed:
            context.abort_with_status(to_status(Unavailable("the server is shutting down", reason="SHUTTING_DOWN")))
        yield from behaviour(_parse(request_type, body, context), context)

    return handle
