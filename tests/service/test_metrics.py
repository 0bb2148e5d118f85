"""Metrics as an operator sees them: RPCs over a real channel, then a scrape of /metrics over HTTP."""

from __future__ import annotations

import socket
import time
import urllib.request
from concurrent import futures

import grpc
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from segflow.v1 import action_pb2 as A, decision_service_pb2 as pb, decision_service_pb2_grpc

from segflow.server.app import Service, create_service
from segflow.server.config import Config
from segflow.server.metrics import MetricsInterceptor, ServiceCollector, start_metrics_server
from segflow.server.rulesets import Source
from segflow.server.servicers.decision import DecisionServicer
from tests.service.calls import event, offers, rpc_error, start

DECISIONS = "segflow.v1.DecisionService"

NO_CALLOUTS = """
name: plain
channel: web
audience_levels: [{name: Visitor}]
events: [{name: login}]
rules: [{id: r, on: [login], then: [{resegment: {}}]}]
flowcharts: [{name: f, audience_level: Visitor, segments: [{name: all, when: "TRUE"}]}]
"""


@pytest.fixture
def metered(service):
    """The running service's DecisionService behind a MetricsInterceptor, and a metrics server on a free port:
    (stub, scrape) where scrape() returns {(name, labels): value} read over HTTP."""
    registry = CollectorRegistry()
    registry.register(ServiceCollector(service))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), interceptors=[MetricsInterceptor(registry)])
    decision_service_pb2_grpc.add_DecisionServiceServicer_to_server(DecisionServicer(service.engine, service.bus),
                                                                    server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    http, _ = start_metrics_server(0, registry)

    def scrape() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{http.server_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield decision_service_pb2_grpc.DecisionServiceStub(channel), scrape
    http.shutdown()
    http.server_close()
    server.stop(0).wait()


def grpc_labels(method: str, service: str = DECISIONS, **labels) -> tuple:
    kind = "server_stream" if method in ("SubscribeActions", "Stream", "Forever") else "unary"
    return tuple(sorted({"grpc_type": kind, "grpc_service": service, "grpc_method": method, **labels}.items()))


def rpc(method: str, code: str) -> tuple:
    return "grpc_server_handled_total", grpc_labels(method, grpc_code=code)


def seconds(method: str, suffix: str, **labels) -> tuple:
    return f"grpc_server_handling_seconds{suffix}", grpc_labels(method, **labels)


def test_calls_codes_latency_and_the_live_numbers_of_the_service(metered, service):
    stub, scrape = metered
    stub.StartSession(start("metered"))
    stub.PostEvent(event("metered", "add_to_cart", sku="TV", price=400.0))  # calls the propensity plugin
    rpc_error(stub.GetSession, pb.GetSessionRequest(session_id="nobody"), code=grpc.StatusCode.NOT_FOUND)
    once = stub.SubscribeActions(pb.SubscribeActionsRequest(
        filter=pb.ActionFilter(types=[A.ACTION_TYPE_NOTIFY]), once=True))
    cancelled = stub.SubscribeActions(pb.SubscribeActionsRequest(filter=pb.ActionFilter(session_id="metered")))
    deadline = time.monotonic() + 10
    while service.bus.stats()["subscribers"] < 2:
        assert time.monotonic() < deadline, "subscriptions did not register"
        time.sleep(0.01)
    stub.PostEvent(event("metered", "chat_message", text="hello"))
    assert len(list(once)) == 1  # ends by itself after the first match
    next(cancelled)
    cancelled.cancel()
    while (metrics := scrape()).get(rpc("SubscribeActions", "CANCELLED")) != 1:
        assert time.monotonic() < deadline, "the cancelled stream was not counted"
        time.sleep(0.01)
    assert service.history.flush(timeout=5)
    metrics = scrape()

    assert metrics[rpc("StartSession", "OK")] == 1
    assert metrics[rpc("PostEvent", "OK")] == 2
    assert metrics[rpc("GetSession", "NOT_FOUND")] == 1
    assert metrics[rpc("SubscribeActions", "OK")] == 1
    assert metrics[rpc("GetSession", "OK")] == 0  # a method's OK series exists from its first call
    assert metrics[seconds("PostEvent", "_count")] == 2
    assert metrics[seconds("GetSession", "_count")] == 1  # failed calls are timed too
    assert 0 < metrics[seconds("PostEvent", "_sum")] < 5
    assert metrics[seconds("PostEvent", "_bucket", le="10.0")] == 2
    assert metrics[seconds("SubscribeActions", "_count")] == 2
    assert metrics[("grpc_server_started_total", grpc_labels("PostEvent"))] == 2

    history = service.history.stats()
    assert metrics[("segflow_sessions_live", ())] == 1
    assert metrics[("segflow_ruleset_version", (("channel", "web"),))] == 1
    assert metrics[("segflow_rulesets_served", ())] == 1
    assert metrics[("segflow_history_written_total", ())] == history["written"] > 0
    assert metrics[("segflow_history_queued", ())] == 0
    assert metrics[("segflow_profiles_queued", ())] == metrics[("segflow_profiles_failed_total", ())] == 0
    assert metrics[("segflow_profiles_written_total", ())] == service.profiles.writer.stats()["written"]
    assert metrics[("segflow_history_failed_total", ())] == metrics[("segflow_history_rejected_total", ())] == 0
    assert metrics[("segflow_history_quarantined_total", ())] == metrics[("segflow_history_lost_total", ())] == 0
    assert metrics[("segflow_actions_published_total", ())] == service.bus.stats()["published"] > 0
    assert metrics[("segflow_action_subscribers", ())] == 0
    assert metrics[("segflow_action_subscribers_dropped_total", ())] == 0
    web = ("channel", "web")
    assert metrics[("segflow_callout_calls_total", (("callout", "propensity"), web, ("outcome", "miss")))] >= 1
    assert metrics[("segflow_callout_breaker_state", (("callout", "propensity"), web))] == 0


def test_unknown_for_a_crash_and_the_codes_that_end_streams():
    """Codes the service's own servicers never produce: an exception that is not an abort, a stream that
    aborts after sending a message, and a stream closed by grpc when its client cancels."""

    def crash(request, context):
        raise ValueError("bug")

    def abort_after_one(request, context):
        yield request
        context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "fell behind")

    def forever(request, context):
        while True:
            yield request
            time.sleep(0.001)

    registry = CollectorRegistry()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=[MetricsInterceptor(registry)])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Probe", {
        "Crash": grpc.unary_unary_rpc_method_handler(crash),
        "Stream": grpc.unary_stream_rpc_method_handler(abort_after_one),
        "Forever": grpc.unary_stream_rpc_method_handler(forever)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.RpcError) as crashed:
                channel.unary_unary("/test.Probe/Crash")(b"x")
            assert crashed.value.code() == grpc.StatusCode.UNKNOWN
            stream = channel.unary_stream("/test.Probe/Stream")(b"x")
            assert next(stream) == b"x"
            with pytest.raises(grpc.RpcError) as aborted:
                next(stream)
            assert aborted.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            endless = channel.unary_stream("/test.Probe/Forever")(b"x")
            assert next(endless) == b"x"
            endless.cancel()  # grpc closes the generator mid-stream
            cancelled = dict(grpc_labels("Forever", "test.Probe", grpc_code="CANCELLED"))
            deadline = time.monotonic() + 10
            while registry.get_sample_value("grpc_server_handled_total", cancelled) != 1:
                assert time.monotonic() < deadline, "the cancelled stream was not counted"
                time.sleep(0.01)
            with pytest.raises(grpc.RpcError):  # not implemented: not counted, names from clients are unbounded
                channel.unary_unary("/test.Probe/Missing")(b"x")
    finally:
        server.stop(0).wait()
    count = registry.get_sample_value
    handled = "grpc_server_handled_total"
    assert count(handled, dict(grpc_labels("Crash", "test.Probe", grpc_code="UNKNOWN"))) == 1
    assert count(handled, dict(grpc_labels("Stream", "test.Probe", grpc_code="RESOURCE_EXHAUSTED"))) == 1
    assert count("grpc_server_handling_seconds_count", dict(grpc_labels("Missing", "test.Probe"))) is None


def test_the_collector_before_any_ruleset_and_without_callouts(config):
    idle = Service(config)  # not started: nothing deployed yet
    registry = CollectorRegistry()
    registry.register(ServiceCollector(idle))
    try:
        assert registry.get_sample_value("segflow_rulesets_served") == 0
        assert registry.get_sample_value("segflow_sessions_live") == 0
        idle.registry.deploy(Source(yaml=NO_CALLOUTS))
        assert registry.get_sample_value("segflow_rulesets_served") == 1
        channel = idle.registry.current().compiled.ruleset.channel
        assert registry.get_sample_value("segflow_ruleset_version", {"channel": channel}) == 1
        names = {sample.name for family in registry.collect() for sample in family.samples}
        assert not any(name.startswith("segflow_callout") for name in names)
    finally:
        idle.stop(grace=0)


def test_serve_with_metrics_port_scrapes_and_stops(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    running = create_service(Config(address="127.0.0.1:0", data_dir=tmp_path, metrics_port=free))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            decision_service_pb2_grpc.DecisionServiceStub(channel).StartSession(start("served"))
        with urllib.request.urlopen(f"http://127.0.0.1:{free}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert ('grpc_server_handled_total{grpc_code="OK",grpc_method="StartSession",'
                'grpc_service="segflow.v1.DecisionService",grpc_type="unary"} 1.0') in text
        assert 'segflow_build_info{python="' in text and "process_resident_memory_bytes" in text
        assert "segflow_sessions_live 1.0" in text
    finally:
        running.stop(grace=0)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{free}/metrics", timeout=1)


def test_business_counters_follow_what_the_decisions_did(metered):
    stub, scrape = metered
    started = stub.StartSession(start("shopper"))
    added = stub.PostEvent(event("shopper", "add_to_cart", sku="TV", price=400.0))
    [offered] = stub.GetOffers(offers("shopper", ("home_banner", 1))).offer_lists[0].offers
    stub.PostEvent(event("shopper", "offer_shown", treatment_code=offered.treatment_code))
    clicked = stub.PostEvent(event("shopper", "offer_click", treatment_code=offered.treatment_code))
    metrics = scrape()
    entered = [*started.segments_entered, *added.segments_entered]
    assert entered, "the example visit enters segments"
    for segment in set(entered):
        assert metrics[("segflow_segments_entered_total", (("segment", segment),))] == entered.count(segment)
    assert metrics[("segflow_offers_served_total", (("offer", offered.code),))] == 1
    assert any(a.type == A.ACTION_TYPE_LOG_ACCEPTANCE for a in clicked.actions)
    assert metrics[("segflow_offers_accepted_total", (("offer", offered.code),))] == 1
    [rule] = {a.rule_id for a in clicked.actions if a.type == A.ACTION_TYPE_LOG_ACCEPTANCE}
    assert metrics[("segflow_rules_fired_total", (("rule", rule),))] >= 1
