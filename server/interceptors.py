"""The shape every segflow interceptor shares: wrap a method's behavior once per method, keep the handler kind.

A subclass implements `wrap(behavior, path, kind)` returning the behavior to run instead (called in the
worker thread with the request and the ServicerContext); `kind` is "unary", "client_stream",
"server_stream" or "bidi_stream" (the `grpc_type` label), and `streams(kind)` says whether the behavior
returns an iterator of responses. Methods the server does not implement pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc


class BehaviorInterceptor(grpc.ServerInterceptor):
    def __init__(self) -> None:
        # method path -> (the handler grpc looked up, its wrapped twin); lookups return the same handler
        # object every time, so each method is wrapped once. Two threads may both wrap a method's first
        # call; either result is equivalent.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def wrap(self, behavior: Callable, path: str, kind: str) -> Callable:
        raise NotImplementedError

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap_handler(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap_handler(self, handler: grpc.RpcMethodHandler, path: str) -> grpc.RpcMethodHandler:
        serialization = (handler.request_deserializer, handler.response_serializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(self.wrap(handler.unary_unary, path, "unary"), *serialization)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(self.wrap(handler.stream_unary, path, "client_stream"), *serialization)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(self.wrap(handler.unary_stream, path, "server_stream"), *serialization)
        return grpc.stream_stream_rpc_method_handler(self.wrap(handler.stream_stream, path, "bidi_stream"), *serialization)


def streams(kind: str) -> bool:
    """Whether a behavior of this kind returns an iterator of responses."""
    return kind in ("server_stream", "bidi_stream")


def split_path(path: str) -> tuple[str, str]:
    """'/segflow.v1.DecisionService/PostEvent' -> ('segflow.v1.DecisionService', 'PostEvent')."""
    service, _, method = path.lstrip("/").rpartition("/")
    return service, method
