"""OpenTelemetry spans for each call and its callouts, with the `otel` extra; off, calls pay nothing.

`--otel-exporter otlp|console|none` (unset: the standard `OTEL_TRACES_EXPORTER`, else none). The OTLP
exporter (gRPC) reads the standard `OTEL_EXPORTER_OTLP_*` variables, the resource `OTEL_SERVICE_NAME` and
`OTEL_RESOURCE_ATTRIBUTES`, the sampler `OTEL_TRACES_SAMPLER`. A call's server span continues the caller's
W3C traceparent (tracestate and sampled flag included); each EXTERNALCALLOUT is a child span, and a remote
callout sends its span as the traceparent of its GetValue call.

The SDK is used directly, not opentelemetry-instrumentation-grpc: the segflow attributes (session id,
ruleset version) belong on the one server span this interceptor already wraps, and measured over a real
channel the instrumentation's interceptor added 1.8x the CPU per call of this one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from segflow.server import calls
from segflow.server.config import OTEL_EXPORTERS
from segflow.server.interceptors import BehaviorInterceptor, split_path, streams

# Server span statuses that are errors of the server, per OpenTelemetry's gRPC conventions; the others
# (INVALID_ARGUMENT, NOT_FOUND, ...) are the caller's and leave the span's status unset.
_SERVER_ERRORS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                            grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})


def exporter_name(configured: str, environ: Mapping[str, str] = os.environ) -> str:
    """The exporter to use: the setting, else OTEL_TRACES_EXPORTER, else none (OTEL_SDK_DISABLED wins)."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return "none"
    name = (configured or environ.get("OTEL_TRACES_EXPORTER", "") or "none").lower()
    if name not in OTEL_EXPORTERS:
        raise ValueError(f"bad value for OTEL_TRACES_EXPORTER: {name!r} ({', '.join(OTEL_EXPORTERS)})")
    return name


def exporter_for(name: str):
    """The span exporter called `name` ("console" or "otlp")."""
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


class Tracing:
    """A tracer provider of this service's own (not the process-global one), batching spans to an exporter."""

    def __init__(self, exporter) -> None:
        from opentelemetry.propagators.textmap import DefaultGetter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        resource = Resource.create()  # OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME; else the name is segflow
        if resource.attributes.get("service.name", "").startswith("unknown_service"):
            resource = resource.merge(Resource({"service.name": "segflow"}))
        self.provider = TracerProvider(resource=resource)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("segflow")
        self.propagator, self.getter = TraceContextTextMapPropagator(), DefaultGetter()

    def interceptor(self) -> "TracingInterceptor":
        return TracingInterceptor(self)

    def shutdown(self) -> None:
        """Export what is still batched, then stop."""
        self.provider.shutdown()


def open_tracing(configured: str) -> Tracing | None:
    """The service's Tracing for the `otel_exporter` setting, None when off; raises ValueError when an exporter
    is asked for and the `otel` extra is not installed."""
    name = exporter_name(configured)
    if name == "none":
        return None
    try:
        return Tracing(exporter_for(name))
    except ImportError as exc:
        raise ValueError(f"the {name} trace exporter needs the otel extra (pip install 'segflow[otel]'): "
                         f"{exc}") from None


class TracingInterceptor(BehaviorInterceptor):
    """Inside the access interceptor: one SERVER span per call, current while a unary call runs (so callouts
    are its children), its trace id put in the call's `Call` for the access line and the Decision."""

    def __init__(self, tracing: Tracing) -> None:
        super().__init__()
        self.tracing = tracing

    def wrap(self, behavior, path, kind):
        from opentelemetry import context as otel_context, trace

        service, method = split_path(path)
        name, attributes = path.lstrip("/"), {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        tracer = self.tracing.tracer

        def start(context):
            metadata = dict(context.invocation_metadata() or ())
            parent = self.tracing.propagator.extract(metadata, getter=self.tracing.getter)
            span = tracer.start_span(name, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes)
            call = calls.current()
            if call is not None:
                call.trace_id = format(span.get_span_context().trace_id, "032x")
                call.tracer = tracer
            return span, call

        if streams(kind):
            # Not made current: grpc may close a stream from another thread, where it could not be detached.
            def stream(request, context):
                span, call = start(context)
                code = None
                try:
                    yield from behavior(request, context)
                except GeneratorExit:
                    code = grpc.StatusCode.CANCELLED
                    raise
                finally:
                    _end(span, call, code or context.code() or grpc.StatusCode.OK, None)

            return stream

        def unary(request, context):
            span, call = start(context)
            token = otel_context.attach(trace.set_span_in_context(span))
            response = None
            try:
                response = behavior(request, context)
                return response
            finally:
                otel_context.detach(token)
                _end(span, call, context.code() or (grpc.StatusCode.OK if response is not None
                                                    else grpc.StatusCode.UNKNOWN), response)

        return unary


def _end(span, call: calls.Call | None, code: grpc.StatusCode, response) -> None:
    from opentelemetry.trace import Status, StatusCode

    request = call.request if call is not None else None
    decision = getattr(response, "decision", None)
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    span.set_attribute("segflow.session_id", getattr(request, "session_id", ""))
    if decision is not None:
        span.set_attribute("segflow.decision_id", decision.decision_id)
        span.set_attribute("segflow.ruleset_version", decision.ruleset_version)
    if call is not None and call.identity:
        span.set_attribute("segflow.identity", call.identity)
    if code in _SERVER_ERRORS:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


def callout_span(tracer: Any, name: str, remote: bool, session_id: str,
                 run: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
    """Run a callout (`run` returns (value, outcome)) in a child span of a traced call's, made by `tracer` (the
    call's: the registry calls a callout of an untraced call without one)."""
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
            f"callout {name}", kind=SpanKind.CLIENT if remote else SpanKind.INTERNAL,
            attributes={"segflow.callout.name": name, "segflow.session_id": session_id}) as span:
        value, outcome = run()
        span.set_attribute("segflow.callout.outcome", str(outcome))
        return value, outcome


def outgoing_metadata() -> tuple[tuple[str, str], ...] | None:
    """The traceparent (and tracestate) metadata of the current span for a call segflow makes, when traced."""
    call = calls.current()
    if call is None or call.tracer is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return tuple(carrier.items())
