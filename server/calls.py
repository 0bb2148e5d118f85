"""What the interceptors learn about the call in flight (who is calling, its trace), for the code below them.

The outermost interceptor starts a `Call` for each RPC in the worker thread that serves it; the auth
interceptor names its identity; servicers read `current()` (e.g. a deploy's author).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Call:
    identity: str = ""  # the authenticated name; empty when auth is off
    trace_id: str = ""  # W3C trace id (32 hex), from the caller's traceparent or new
    span_id: str = ""  # the caller's parent span id (16 hex), empty without a traceparent
    request: Any = None  # the decoded request message, once the servicer layer has parsed it
    tracer: Any = None  # the OpenTelemetry tracer of a traced call (its callouts are child spans); else None


_CALL: ContextVar[Call | None] = ContextVar("segflow_call", default=None)


def current() -> Call | None:
    return _CALL.get()


def begin(call: Call):
    """Make `call` current; returns the token for `end`."""
    return _CALL.set(call)


def end(token) -> None:
    try:
        _CALL.reset(token)
    except ValueError:  # a stream closed by grpc from another thread: there is nothing of ours to reset
        pass
