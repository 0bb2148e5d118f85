"""Names the worker that served a call (`segflow-worker: <pid>` in its trailing metadata), so a client, a test
or an operator can see which process of a host answered."""

from __future__ import annotations

import os

import grpc

HEADER = "segflow-worker"


class WorkerIdentity(grpc.ServerInterceptor):
    """Adds this process's id to the trailing metadata of every unary call (an error's status details replace it)."""

    def __init__(self):
        self._metadata = ((HEADER, str(os.getpid())),)
        # method path -> (the handler grpc looked up, its wrapped twin), as in metrics.MetricsInterceptor
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        cached = self._wrapped.get(handler_call_details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        behavior, metadata = handler.unary_unary, self._metadata

        def named(request, context):
            context.set_trailing_metadata(metadata)
            return behavior(request, context)

        wrapped = grpc.unary_unary_rpc_method_handler(named, handler.request_deserializer,
                                                      handler.response_serializer)
        self._wrapped[handler_call_details.method] = (handler, wrapped)
        return wrapped
