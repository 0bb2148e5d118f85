"""Prometheus metrics, so operators can see calls, latency, sessions, history, subscribers and callouts.

Two sources feed one `CollectorRegistry`: `MetricsInterceptor` counts and times every RPC as it ends (the only
hot-path cost), and `ServiceCollector` reads the service's own counters when Prometheus scrapes, costing
nothing between scrapes. `start_metrics_server` serves the registry over HTTP at `/metrics`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from segflow.server.errors import NotFound

if TYPE_CHECKING:
    from segflow.server.app import Service

# From a cached PostEvent (~100 µs) to a slow callout or a big batch (seconds). A subscription lasts as long
# as its subscriber stays, so its duration mostly lands in +Inf; its count of ended streams is what matters.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0)

BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts every RPC by service, method and final status code (`segflow_rpc_total`) and times it
    (`segflow_rpc_seconds`); a stream is counted and timed when it ends.

    The code is OK, the code set by `context.abort`/`abort_with_status`/`set_code`, CANCELLED for a stream
    the client cancelled, or UNKNOWN for any other exception, which is what the client receives. Methods
    the server does not implement are not counted: their names come from clients and are unbounded.
    """

    def __init__(self, registry: CollectorRegistry):
        self._calls = Counter("segflow_rpc", "RPCs ended, by final status code",
                              ["service", "method", "code"], registry=registry)
        self._seconds = Histogram("segflow_rpc_seconds", "Time from the start of an RPC to its end",
                                  ["service", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        # method path -> (the handler grpc looked up, its wrapped twin); lookups return the same handler
        # object every time, so each method is wrapped once.
        # Two threads may both wrap a method's first call; either result is equivalent.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, path: str) -> grpc.RpcMethodHandler:
        service, _, method = path.lstrip("/").rpartition("/")
        record = self._recorder(service, method)
        serialization = (handler.request_deserializer, handler.response_serializer)
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_timed_unary(handler.unary_unary, record), *serialization)
        if handler.stream_unary is not None:
            return grpc.stream_unary_rpc_method_handler(_timed_unary(handler.stream_unary, record), *serialization)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(_timed_stream(handler.unary_stream, record), *serialization)
        return grpc.stream_stream_rpc_method_handler(_timed_stream(handler.stream_stream, record), *serialization)

    def _recorder(self, service: str, method: str) -> Callable[[grpc.StatusCode, float], None]:
        """Record one ended call of this method; label children are resolved once per method and code."""
        observe = self._seconds.labels(service, method).observe
        counters = {grpc.StatusCode.OK: self._calls.labels(service, method, "OK")}

        def record(code: grpc.StatusCode, seconds: float) -> None:
            counter = counters.get(code)
            if counter is None:
                counter = counters.setdefault(code, self._calls.labels(service, method, code.name))
            counter.inc()
            observe(seconds)

        return record


def _timed_unary(behavior, record):
    def timed(request, context):
        start = time.perf_counter()
        try:
            response = behavior(request, context)
        except BaseException:
            record(context.code() or grpc.StatusCode.UNKNOWN, time.perf_counter() - start)
            raise
        record(context.code() or grpc.StatusCode.OK, time.perf_counter() - start)
        return response

    return timed


def _timed_stream(behavior, record):
    def timed(request, context) -> Iterator:
        start = time.perf_counter()
        try:
            yield from behavior(request, context)
        except GeneratorExit:  # grpc dropped the stream: the client cancelled or went away
            record(grpc.StatusCode.CANCELLED, time.perf_counter() - start)
            raise
        except BaseException:
            record(context.code() or grpc.StatusCode.UNKNOWN, time.perf_counter() - start)
            raise
        # A servicer that notices the cancellation itself returns normally from a call that is over.
        ended = grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED
        record(context.code() or ended, time.perf_counter() - start)

    return timed


class ServiceCollector(Collector):
    """Reads a running service's live numbers at scrape time: sessions, history writer, action bus, active
    ruleset version, and per-callout outcomes and breaker states. Nothing is counted on the hot path.

    Before the first ruleset is deployed the version is 0 and there are no callout series. Callout counts
    start again from 0 when a deploy replaces the callouts, which Prometheus's rate() reads as a reset.
    """

    def __init__(self, service: Service):
        self._service = service

    def collect(self) -> Iterable[Metric]:
        service = self._service
        yield GaugeMetricFamily("segflow_sessions_live", "Live sessions (all replicas for a shared store)",
                                value=len(service.store))

        history = service.history.stats()
        yield GaugeMetricFamily("segflow_history_queued", "History records queued, not yet written",
                                value=history["queued"])
        yield CounterMetricFamily("segflow_history_written", "History records written", value=history["written"])
        yield CounterMetricFamily("segflow_history_failed", "History records given up after write failures",
                                  value=history["failed"])
        yield CounterMetricFamily("segflow_history_rejected", "Decisions refused because the history queue was full",
                                  value=history["rejected"])

        bus = service.bus.stats()
        yield CounterMetricFamily("segflow_actions_published", "Action events published to subscribers",
                                  value=bus["published"])
        yield GaugeMetricFamily("segflow_action_subscribers", "Live SubscribeActions streams",
                                value=bus["subscribers"])
        yield CounterMetricFamily("segflow_action_subscribers_dropped", "Subscribers dropped for falling behind",
                                  value=bus["dropped"])

        try:
            active = service.registry.current()
        except NotFound:
            active = None
        yield GaugeMetricFamily("segflow_ruleset_version", "Active ruleset version (0: none deployed yet)",
                                value=0 if active is None else active.version)

        outcomes = CounterMetricFamily("segflow_callout_calls", "EXTERNALCALLOUT calls by outcome",
                                       labels=["callout", "outcome"])
        breakers = GaugeMetricFamily("segflow_callout_breaker_state",
                                     "Circuit breaker per callout: 0 closed, 1 half_open, 2 open", labels=["callout"])
        callouts = None if active is None else active.callouts
        if callouts is not None:
            for name, counts in sorted(callouts.stats().items()):
                for outcome, count in sorted(counts.items()):
                    outcomes.add_metric([name, outcome], count)
            for name, state in sorted(callouts.breaker_states().items()):
                breakers.add_metric([name], BREAKER_STATES[state])
        yield outcomes
        yield breakers


def start_metrics_server(port: int, registry: CollectorRegistry,
                         addr: str = "127.0.0.1") -> tuple[WSGIServer, threading.Thread]:
    """Serve `registry` at http://addr:port/metrics on a daemon thread; port 0 picks a free port
    (`server.server_port`). Stop it with `server.shutdown(); server.server_close()`."""
    return start_http_server(port, addr=addr, registry=registry)
