"""OpenTelemetry spans over a real channel: one server span per call in the caller's trace, a child span per
callout whose traceparent reaches the remote CalloutService, the segflow attributes; nothing without the extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from segflow.v1 import callout_service_pb2, callout_service_pb2_grpc, decision_service_pb2 as pb
from segflow.v1 import decision_service_pb2_grpc

from segflow.rules.values import to_value
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.observability import tracing
from segflow.server.observability.traceparent import parse
from tests.service.calls import event, rpc_error, start

TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{CALLER_SPAN}-01"


class RecordingCallouts(callout_service_pb2_grpc.CalloutServiceServicer):
    """A remote `propensity` that answers 0.9 and keeps the traceparent of each call."""

    def __init__(self) -> None:
        self.traceparents: list[str] = []

    def GetValue(self, request, context):
        self.traceparents.append(dict(context.invocation_metadata()).get("traceparent", ""))
        return callout_service_pb2.GetValueResponse(value=to_value(0.9))


@pytest.fixture
def callouts():
    recorder = RecordingCallouts()
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    callout_service_pb2_grpc.add_CalloutServiceServicer_to_server(recorder, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield recorder, f"127.0.0.1:{port}"
    server.stop(0).wait()


@pytest.fixture
def spans(monkeypatch):
    memory = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "exporter_for", lambda name: memory)
    return memory


@pytest.fixture
def traced(tmp_path, callouts, spans):
    _, target = callouts
    ruleset = tmp_path / "remote.yaml"
    ruleset.write_text(EXAMPLE_RULESET.replace("plugin: propensity", f'target: "{target}"', 1))
    service = create_service(Config(address="127.0.0.1:0", data_dir=tmp_path, workers=8, grace_seconds=1,
                                    ruleset=ruleset, otel_exporter="console"))
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        yield service, decision_service_pb2_grpc.DecisionServiceStub(channel)
    service.stop(grace=0)


def finished(service, memory):
    service.tracing.provider.force_flush()
    return memory.get_finished_spans()


def test_each_call_is_a_server_span_in_the_callers_trace_with_a_child_span_per_callout(traced, callouts, spans):
    service, decisions = traced
    recorder, _ = callouts
    decisions.StartSession(start("traced"))
    finished(service, spans)
    recorder.traceparents.clear()
    spans.clear()
    response = decisions.PostEvent(event("traced", "add_to_cart", sku="TV", price=650.0),
                                   metadata=(("traceparent", TRACEPARENT),))
    [server] = [s for s in finished(service, spans) if s.kind is SpanKind.SERVER]
    assert server.name == "segflow.v1.DecisionService/PostEvent"
    assert format(server.context.trace_id, "032x") == TRACE == response.decision.trace_id
    assert format(server.parent.span_id, "016x") == CALLER_SPAN and server.parent.is_remote
    assert server.attributes["rpc.method"] == "PostEvent" and server.attributes["rpc.grpc.status_code"] == 0
    assert server.attributes["segflow.session_id"] == "traced"
    assert server.attributes["segflow.ruleset_version"] == response.decision.ruleset_version == 1
    assert server.attributes["segflow.decision_id"] == response.decision.decision_id
    children = [s for s in spans.get_finished_spans() if s.parent and s.parent.span_id == server.context.span_id]
    assert children and {s.name for s in children} == {"callout propensity"}
    assert all(s.kind is SpanKind.CLIENT and s.attributes["segflow.callout.outcome"] for s in children)
    # Each remote GetValue carried its callout span as traceparent: the callout server joins the same trace.
    sent = {parse(header) for header in recorder.traceparents}
    assert sent and sent <= {(TRACE, format(s.context.span_id, "016x")) for s in children}


def test_a_call_without_traceparent_starts_a_trace_whose_id_reaches_the_decision(traced, spans):
    service, decisions = traced
    response = decisions.StartSession(start("fresh"))
    [server] = [s for s in finished(service, spans) if s.name.endswith("/StartSession")]
    assert server.parent is None and format(server.context.trace_id, "032x") == response.decision.trace_id


def test_a_refused_call_has_its_status_code_and_no_error_status(traced, spans):
    service, decisions = traced
    rpc_error(decisions.PostEvent, event("nobody", "login"), code=grpc.StatusCode.NOT_FOUND)
    [server] = [s for s in finished(service, spans) if s.kind is SpanKind.SERVER]
    assert server.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert server.attributes["segflow.session_id"] == "nobody" and server.status.status_code is StatusCode.UNSET


def test_tracing_is_off_by_default_and_an_unknown_exporter_is_refused(monkeypatch):
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert tracing.exporter_name("") == "none" and tracing.open_tracing("") is None
    assert tracing.exporter_name("", {"OTEL_TRACES_EXPORTER": "otlp"}) == "otlp"
    assert tracing.exporter_name("otlp", {"OTEL_SDK_DISABLED": "true"}) == "none"
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER.*zipkin"):
        tracing.exporter_name("", {"OTEL_TRACES_EXPORTER": "zipkin"})


def test_without_the_otel_extra_calls_are_served_and_an_exporter_is_refused_by_name(tmp_path):
    # opentelemetry made unimportable, as in an install without the extra: nothing of it is loaded to serve.
    script = textwrap.dedent(f"""
        import sys
        sys.modules["opentelemetry"] = None
        from pathlib import Path
        import grpc
        from segflow.server.app import create_service
        from segflow.server.config import Config
        from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc
        service = create_service(Config(address="127.0.0.1:0", data_dir=Path({str(tmp_path)!r}), workers=2))
        with grpc.insecure_channel(f"127.0.0.1:{{service.port}}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            print(stub.StartSession(pb.StartSessionRequest(session_id="plain")).session.session_id)
        service.stop(grace=0)
        try:
            create_service(Config(address="127.0.0.1:0", data_dir=Path({str(tmp_path)!r}), otel_exporter="otlp"))
        except ValueError as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    served, refused = done.stdout.splitlines()
    assert served == "plain" and "needs the otel extra" in refused and "segflow[otel]" in refused


def test_a_subscription_is_one_server_span_that_ends_with_its_stream(traced, spans):
    service, decisions = traced
    decisions.StartSession(start("watched"))
    stream = decisions.SubscribeActions(pb.SubscribeActionsRequest(
        filter=pb.ActionFilter(session_id="watched"), once=True), metadata=(("traceparent", TRACEPARENT),), timeout=30)
    deadline = time.monotonic() + 10
    while service.bus.stats()["subscribers"] < 1:
        assert time.monotonic() < deadline, "the subscription did not register"
        time.sleep(0.01)
    decisions.PostEvent(event("watched", "add_to_cart", sku="TV", price=10.0))
    assert len(list(stream)) == 1
    while not (ended := [s for s in finished(service, spans) if s.name.endswith("/SubscribeActions")]):
        assert time.monotonic() < deadline, "the stream's span did not end"
        time.sleep(0.01)
    [span] = ended
    assert span.kind is SpanKind.SERVER and format(span.context.trace_id, "032x") == TRACE
    assert span.attributes["rpc.grpc.status_code"] == 0 and span.attributes["rpc.method"] == "SubscribeActions"
