"""Prometheus metrics, so operators can see calls, latency, sessions, history, subscribers and callouts.

Two sources feed one `CollectorRegistry`: `MetricsInterceptor` counts and times every RPC (the only
hot-path cost; with go-grpc-prometheus's names), and `ServiceCollector` reads the service's own counters when Prometheus scrapes, costing
nothing between scrapes. `start_metrics_server` serves the registry over HTTP at `/metrics`.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector,
                               start_http_server)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from segflow.v1 import action_pb2

from segflow.server.interceptors import BehaviorInterceptor, split_path, streams

if TYPE_CHECKING:
    from segflow.server.app import Service

# From a cached PostEvent (~100 µs) to a slow callout or a big batch (seconds). A subscription lasts as long
# as its subscriber stays, so its duration mostly lands in +Inf; its count of ended streams is what matters.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                   1.0, 2.5, 5.0, 10.0)

log = logging.getLogger(__name__)
DECISION_SERVICE = "segflow.v1.DecisionService"
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}


GRPC_LABELS = ["grpc_type", "grpc_service", "grpc_method"]


class MetricsInterceptor(BehaviorInterceptor):
    """Counts and times every RPC with the names and labels of go-grpc-prometheus, so stock gRPC dashboards
    work: `grpc_server_started_total`, `grpc_server_handled_total` (by final `grpc_code`) and the
    `grpc_server_handling_seconds` histogram; a stream is counted and timed when it ends. DecisionService
    responses also feed the business counters (rules fired, segments entered, offers served and accepted).

    The code is OK, the code set by `context.abort`/`abort_with_status`/`set_code`, CANCELLED for a stream
    the client cancelled, or UNKNOWN for any other exception, which is what the client receives. Methods
    the server does not implement are not counted: their names come from clients and are unbounded.
    """

    def __init__(self, registry: CollectorRegistry):
        super().__init__()
        self._started = Counter("grpc_server_started", "RPCs started on the server", GRPC_LABELS,
                                registry=registry)
        self._handled = Counter("grpc_server_handled", "RPCs completed on the server, by final status code",
                                [*GRPC_LABELS, "grpc_code"], registry=registry)
        self._seconds = Histogram("grpc_server_handling_seconds", "Time from the start of an RPC to its end",
                                  GRPC_LABELS, buckets=LATENCY_BUCKETS, registry=registry)
        self._business = BusinessCounters(registry)

    def wrap(self, behavior, path: str, kind: str):
        service, method = split_path(path)
        record = self._recorder(kind, service, method)
        count = self._business.count if service == DECISION_SERVICE else None
        if streams(kind):
            return _timed_stream(behavior, record)
        return _timed_unary(behavior, record, count)

    def _recorder(self, kind: str, service: str, method: str) -> Callable[[grpc.StatusCode, float], None]:
        """Record one ended call of this method; label children are resolved once per method and code."""
        observe = self._seconds.labels(kind, service, method).observe
        started = self._started.labels(kind, service, method).inc
        counters = {grpc.StatusCode.OK: self._handled.labels(kind, service, method, "OK")}

        def record(code: grpc.StatusCode | None, seconds: float = 0.0) -> None:
            if code is None:  # the call starts
                started()
                return
            counter = counters.get(code)
            if counter is None:
                counter = counters.setdefault(code, self._handled.labels(kind, service, method, code.name))
            counter.inc()
            observe(seconds)

        return record


class BusinessCounters:
    """What the decisions did, read from the responses: rules fired (once per call per rule), segments
    entered, offers served (recommended) and accepted, by rule id, segment name and offer code, all of
    which come from the deployed rulesets, so their number is bounded by what was deployed."""

    def __init__(self, registry: CollectorRegistry):
        self._rules = Counter("segflow_rules_fired", "Rules fired (their then or else actions ran)", ["rule"],
                              registry=registry)
        self._segments = Counter("segflow_segments_entered", "Sessions entering a segment", ["segment"],
                                 registry=registry)
        self._served = Counter("segflow_offers_served", "Offers recommended by GetOffers", ["offer"],
                               registry=registry)
        self._accepted = Counter("segflow_offers_accepted", "Offer acceptances logged", ["offer"],
                                 registry=registry)

    def count(self, response) -> None:
        results = getattr(response, "results", None)  # ExecuteBatch: count each command's response
        if results is not None:
            for result in results:
                kind = result.WhichOneof("result")
                if kind is not None and kind != "error":
                    self.count(getattr(result, kind))
            return
        for segment in getattr(response, "segments_entered", ()):
            self._segments.labels(segment).inc()
        for offers in getattr(response, "offer_lists", ()):
            for offer in offers.offers:
                self._served.labels(offer.code).inc()
        fired = set()
        for action in getattr(response, "actions", ()):
            fired.add(action.rule_id)
            if action.type == action_pb2.ACTION_TYPE_LOG_ACCEPTANCE:
                for code in action.offer_response.offer_codes:
                    self._accepted.labels(code).inc()
        for rule in fired:
            if rule:
                self._rules.labels(rule).inc()


def _timed_unary(behavior, record, count=None):
    def timed(request, context):
        record(None)
        start = time.perf_counter()
        try:
            response = behavior(request, context)
        except BaseException:
            record(context.code() or grpc.StatusCode.UNKNOWN, time.perf_counter() - start)
            raise
        record(context.code() or grpc.StatusCode.OK, time.perf_counter() - start)
        if count is not None:
            try:
                count(response)
            except Exception:  # a metrics bug must not fail a call that succeeded
                log.exception("business counters failed for %s", type(response).__name__)
        return response

    return timed


def _timed_stream(behavior, record):
    def timed(request, context) -> Iterator:
        record(None)
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


def build_info(registry: CollectorRegistry) -> None:
    """Register `segflow_build_info` (version and Python, value 1) and the process and platform metrics
    (`process_cpu_seconds_total`, `process_resident_memory_bytes`, open fds, start time; `python_info`)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        segflow_version = version("segflow")
    except PackageNotFoundError:
        segflow_version = "unknown"
    info = Gauge("segflow_build_info", "segflow's version and Python (always 1)", ["version", "python"],
                 registry=registry)
    info.labels(segflow_version, platform.python_version()).set(1)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)


class ServiceCollector(Collector):
    """Reads a running service's live numbers at scrape time: sessions, history writer, action bus, each channel's
    active ruleset version, and per-callout outcomes and breaker states. Nothing is counted on the hot path.

    Before the first ruleset is deployed no channel is served (0) and there are no version or callout series. Callout counts
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
        yield CounterMetricFamily("segflow_history_quarantined", "History records that cannot be encoded (a bug)",
                                  value=history["quarantined"])
        yield CounterMetricFamily("segflow_history_lost", "History records given up and not spilled to disk",
                                  value=history["lost"])
        yield CounterMetricFamily("segflow_history_rejected", "Decisions refused because the history queue was full",
                                  value=history["rejected"])

        profiles = service.profiles.writer.stats()
        yield GaugeMetricFamily("segflow_profiles_queued", "Customer profiles queued, not yet written",
                                value=profiles["queued"])
        yield CounterMetricFamily("segflow_profiles_written", "Customer profile writes done", value=profiles["written"])
        yield CounterMetricFamily("segflow_profiles_failed", "Customer profile writes given up after failures",
                                  value=profiles["failed"])
        yield CounterMetricFamily("segflow_profiles_erased_dropped",
                                  "Changes of an erased customer's memory not written back (taken before the erasure)",
                                  value=service.profiles.dropped)

        bus = service.bus.stats()
        yield CounterMetricFamily("segflow_actions_published", "Action events published to subscribers",
                                  value=bus["published"])
        yield GaugeMetricFamily("segflow_action_subscribers", "Live SubscribeActions streams",
                                value=bus["subscribers"])
        yield CounterMetricFamily("segflow_action_subscribers_dropped", "Subscribers dropped for falling behind",
                                  value=bus["dropped"])

        served = sorted(service.registry.served().items())
        yield GaugeMetricFamily("segflow_rulesets_served", "Channels with an active ruleset (0: none deployed yet)",
                                value=len(served))
        versions = GaugeMetricFamily("segflow_ruleset_version", "Active ruleset version of each channel",
                                     labels=["channel"])
        outcomes = CounterMetricFamily("segflow_callout_calls", "EXTERNALCALLOUT calls by outcome",
                                       labels=["channel", "callout", "outcome"])
        breakers = GaugeMetricFamily("segflow_callout_breaker_state",
                                     "Circuit breaker per callout: 0 closed, 1 half_open, 2 open",
                                     labels=["channel", "callout"])
        for channel, active in served:
            versions.add_metric([channel], active.version)
            if active.callouts is None:
                continue
            for name, counts in sorted(active.callouts.stats().items()):
                for outcome, count in sorted(counts.items()):
                    outcomes.add_metric([channel, name, outcome], count)
            for name, state in sorted(active.callouts.breaker_states().items()):
                breakers.add_metric([channel, name], BREAKER_STATES[state])
        yield versions
        yield outcomes
        yield breakers


def start_metrics_server(port: int, registry: CollectorRegistry,
                         addr: str = "127.0.0.1") -> tuple[WSGIServer, threading.Thread]:
    """Serve `registry` at http://addr:port/metrics on a daemon thread; port 0 picks a free port
    (`server.server_port`). Stop it with `server.shutdown(); server.server_close()`."""
    return start_http_server(port, addr=addr, registry=registry)
