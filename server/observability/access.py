"""The outermost interceptor: starts each call's `Call` (its trace from the caller's traceparent), writes
the trace id into the response's Decision, and logs one access line per call when it ends.

The line (logger `segflow.access`, INFO) has the method, session id, decision id, ruleset version, status
code, duration, the authenticated identity and the peer, and the trace id. A stream is logged when it ends.
`--log-level segflow.access=warning` turns the lines off; the trace id still reaches the Decision.
"""

from __future__ import annotations

import logging
import time

import grpc

from segflow.server import calls
from segflow.server.interceptors import BehaviorInterceptor, streams
from segflow.server.logs import fields
from segflow.server.observability.traceparent import from_metadata

log = logging.getLogger("segflow.access")


class AccessInterceptor(BehaviorInterceptor):
    def wrap(self, behavior, path, kind):
        method = path.lstrip("/")
        if streams(kind):
            return self._stream(behavior, method)

        def unary(request, context):
            call = calls.Call(*_trace(context))
            token = calls.begin(call)
            start = time.perf_counter()
            response = None
            try:
                response = behavior(request, context)
                decision = getattr(response, "decision", None)
                if decision is not None and call.trace_id:
                    decision.trace_id = call.trace_id
                return response
            finally:
                calls.end(token)
                if log.isEnabledFor(logging.INFO):
                    code = context.code() or (grpc.StatusCode.OK if response is not None else grpc.StatusCode.UNKNOWN)
                    _line(method, call, context, code, time.perf_counter() - start, response)

        return unary

    def _stream(self, behavior, method):
        def stream(request, context):
            call = calls.Call(*_trace(context))
            start = time.perf_counter()
            code = None
            token = calls.begin(call)  # grpc iterates a stream to its end in this thread
            try:
                yield from behavior(request, context)
            except GeneratorExit:  # grpc dropped the stream: the client cancelled or went away
                code = grpc.StatusCode.CANCELLED
                raise
            except BaseException:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            finally:
                calls.end(token)
                if log.isEnabledFor(logging.INFO):
                    ended = grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED
                    _line(method, call, context, code or context.code() or ended, time.perf_counter() - start, None)

        return stream


def _trace(context) -> tuple[str, str, str]:
    trace_id, span_id = from_metadata(context.invocation_metadata())
    return "", trace_id, span_id


def _line(method: str, call: calls.Call, context, code: grpc.StatusCode, seconds: float, response) -> None:
    request = call.request
    decision = getattr(response, "decision", None)
    log.info("%s %s %.2fms", method, code.name, seconds * 1000, extra=fields(
        method=method, code=code.name, duration_ms=round(seconds * 1000, 3),
        session_id=getattr(request, "session_id", ""), decision_id=decision.decision_id if decision else "",
        ruleset_version=decision.ruleset_version if decision else 0, identity=call.identity,
        peer=context.peer(), trace_id=call.trace_id))
