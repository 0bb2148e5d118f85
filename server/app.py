"""Assembles a running segflow from a Config: stores, history, bus, engine, servicers, health and reflection.

`create_service(config)` returns a started `Service` with its bound port (bind port 0 in tests); `stop()`
stops accepting calls, lets in-flight ones finish within the grace period, summarises live sessions and writes
(or spills) history, so nothing acknowledged is lost. With `metrics_port` set, Prometheus metrics are served on it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from concurrent import futures
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

import grpc
from grpc_health.v1 import health, health_pb2
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry
from segflow.v1 import decision_service_pb2, ruleset_service_pb2

from segflow.server.config import Config
from segflow.server.errors import as_service_error
from segflow.server.history import HistoryError, HistoryWriter, RulesetVersions, open_sink
from segflow.server.history.journal import Journal
from segflow.server.history.spill import Spill
from segflow.server.history.summaries import SessionSummaries
from segflow.server.profiles.store import ProfileStore
from segflow.server.observability.access import AccessInterceptor
from segflow.server.observability.tracing import open_tracing
from segflow.server.metrics import MetricsInterceptor, ServiceCollector, build_info, start_metrics_server
from segflow.rules.stored import CompiledCache
from segflow.server.rulesets import RulesetRegistry, Source, read
from segflow.server.runtime.engine import Engine
from segflow.server.security.listeners import auth_interceptors, bind, warn_if_exposed
from segflow.server.servicers.decision import DecisionServicer
from segflow.server.servicers.gate import Gate
from segflow.server.servicers.parsing import add_servicer
from segflow.server.servicers.rulesets import RulesetServicer
from segflow.server.sessions import open_journeys, open_store
from segflow.server.subscriptions import ActionBus
from segflow.server.watch import RulesetWatcher
from segflow.server.workers.address import in_use
from segflow.server.workers.retired import replay_retired
from segflow.server.examples import EXAMPLE_RULESET

if TYPE_CHECKING:
    from segflow.server.workers.worker import Worker

log = logging.getLogger(__name__)

def _service(module, name: str):
    return module.DESCRIPTOR.services_by_name[name]


SERVICE_NAMES = (_service(decision_service_pb2, "DecisionService").full_name,
                 _service(ruleset_service_pb2, "RulesetService").full_name)
# How often idle sessions are expired and the active ruleset version is checked, and how often old
# anonymous history is purged.
SWEEP_SECONDS = 5.0
PURGE_SECONDS = 3600.0


def _action_log(config: Config, store, worker: "Worker | None"):
    """Where actions are published and subscribers served from: the Redis stream every replica shares when
    sessions are in Redis, the host's log for a worker of `--processes N`, else this process's bus."""
    if hasattr(store, "action_log"):
        return store.action_log(retention=config.action_retention, queue_size=config.subscriber_queue,
                                max_age_ms=int(config.action_retention_seconds * 1000))
    if worker:
        return worker.action_bus(config)
    return ActionBus(retention=config.action_retention, queue_size=config.subscriber_queue)


def _retention(days: float) -> timedelta | None:
    return timedelta(days=days) if days > 0 else None


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Service:
    """A running segflow server and everything it owns."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = utc_now, worker: "Worker | None" = None):
        """`worker`: this service is one worker process of a host (`server.workers`), sharing its port."""
        self.config = config
        self.clock = clock
        self.worker = worker
        self.tracing = open_tracing(config.otel_exporter)  # first: a missing otel extra fails before anything opens
        self.sink = open_sink(config.history)
        self.spill = Spill(config.data_dir / "history-spill")
        self.spill.replay(self.sink.write_batch)  # what the last run could not write
        self.journal = None  # with --history-durability sync, where records are kept before a call answers
        if config.history_durability == "sync":
            # A host's workers share the data directory (and its spill files); each has its own journal.
            self.journal = Journal(worker.own_directory(config.data_dir) if worker else config.data_dir,
                                   submit=lambda record: self.history.submit(record))
            self.journal.replay(self.sink.write_batch)  # what the last run had journaled but not written
        if worker is None or worker.assignment.index == 0:  # first, alone: no other process of the run writes yet
            replay_retired(config.data_dir, worker.assignment.processes if worker else 1, self.sink.write_batch)
        self.history = HistoryWriter(self.sink, spill=self.spill.write,
                                     progress=self.journal.written if self.journal else None)
        submit = self.journal.submit if self.journal else self.history.submit
        self.versions = RulesetVersions(self.sink.database)
        self.registry = RulesetRegistry(self.versions, cache=CompiledCache(config.data_dir / "compiled"))
        self.store = open_store(config.sessions_url, idle_timeout=timedelta(seconds=config.idle_timeout_seconds),
                                max_sessions=config.max_sessions, clock=clock)
        self.bus = _action_log(config, self.store, worker)
        self.profiles = ProfileStore.beside(config.history, self.sink.database,
                                             peers=worker.profile_writes() if worker else None)
        # A customer's journeys in Redis are kept as long as their profile.
        journeys = open_journeys(self.store, _retention(config.profile_retention_days))
        self.engine = Engine(self.registry, self.store, clock=clock, submit=submit,
                             publish=self.bus.publish_all, admit=self._admit, journeys=journeys,
                             profiles=self.profiles, summaries=SessionSummaries(self.sink.database).last)
        self.store.on_close = self.engine.summarise
        self.health = health.HealthServicer()
        self.metrics = CollectorRegistry()
        self.metrics.register(ServiceCollector(self))
        build_info(self.metrics)
        # The access log (and trace) first, auth innermost, so refused calls are logged and counted too.
        # With metrics or tracing off, no interceptor for them: calls pay nothing for them.
        interceptors = [AccessInterceptor(), *([self.tracing.interceptor()] if self.tracing else []),
                        *([MetricsInterceptor(self.metrics)] if config.metrics_port else []),
                        *auth_interceptors(config), *(worker.interceptors if worker else ())]
        # grpcio shares a port with any other process that asks by default: only a host's workers may.
        options = [("grpc.so_reuseport", 1 if worker else 0)]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.workers), interceptors=interceptors,
                                  options=options)
        self.gate = Gate()  # closed on stop: new calls answer UNAVAILABLE, running ones finish
        add_servicer(DecisionServicer(self.engine, self.bus, encoded=True),
                     _service(decision_service_pb2, "DecisionService"), self.server, self.gate)
        # With --admin-address, RulesetService (deploys, rollbacks, erasure) has a listener of its own.
        self.admin_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), interceptors=interceptors,
                                        options=options) if config.admin_address else self.server
        add_servicer(RulesetServicer(self.registry, clock, self.forget_customer),
                     _service(ruleset_service_pb2, "RulesetService"), self.admin_server, self.gate)
        for server in {self.server, self.admin_server}:
            add_servicer(self.health, _service(health_pb2, "Health"), server)
            if config.reflection:
                reflection.enable_server_reflection(
                    (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        self.port = _bind(self.server, config.address, config)
        self.admin_port = _bind(self.admin_server, config.admin_address, config) if config.admin_address \
            else self.port
        self._watchers: list[RulesetWatcher] = []
        self.metrics_server = None  # the /metrics HTTP server while metrics_port is set
        self._stopping = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="segflow-sweeper", daemon=True)
        if worker:
            worker.attach(self)

    def start(self) -> "Service":
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.load_ruleset()
        self.server.start()
        if self.admin_server is not self.server:
            self.admin_server.start()
            log.info("RulesetService on port %d only", self.admin_port)
        warn_if_exposed(self.config)
        if self.config.metrics_port and self.worker is None:  # a host's workers are scraped through its parent
            host = self.config.address.rpartition(":")[0].strip("[]")
            self.metrics_server, _ = start_metrics_server(self.config.metrics_port, self.metrics, host)
            log.info("metrics on http://%s:%d/metrics", host, self.metrics_server.server_port)
        self._sweeper.start()
        log.info("segflow listening on port %d (%s)", self.port, ", ".join(
            f"channel {channel!r}: ruleset version {active.version}"
            for channel, active in sorted(self.registry.served().items())))
        return self

    def load_ruleset(self) -> None:
        """Serve the configured files (one per channel, each watched on its own with --watch), else the versions
        active when the server last ran, else the example."""
        if self.config.ruleset:
            for path, source, data in _ruleset_files(self.config.ruleset, self.registry.cache):
                channel = source.ruleset.channel
                done = self.registry.load_file(source, "segflow serve", f"loaded from {path}")
                log.info("%s (channel %r): %s", path, channel, done)
                if self.config.watch:
                    self._watchers.append(RulesetWatcher(path, self.registry, channel=channel, loaded=data).start())
        elif not self.registry.sync():
            # The example only seeds an empty database, never one that other replicas share.
            if self.versions.latest() is not None:
                raise ValueError("the history database has ruleset versions but none is active: "
                                 "pass --ruleset FILE to serve one")
            self.registry.deploy(Source(yaml=EXAMPLE_RULESET), "segflow serve", "the shipped example ruleset")
        self._set_health(health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float | None = None) -> int:
        """Graceful stop: refuse new calls (UNAVAILABLE), finish in-flight ones, end subscriptions (UNAVAILABLE),
        summarise sessions and write the history queue, waiting up to `history_drain_seconds`; what is still
        unwritten then is spilled under the data directory for the next start. Returns how many acknowledged
        history records could be neither written nor spilled (0: nothing was lost)."""
        if self._stopping.is_set():
            return 0
        self._stopping.set()
        for watcher in self._watchers:
            watcher.stop()
        self.health.enter_graceful_shutdown()
        self.bus.close()  # subscriptions end now, with UNAVAILABLE and where to resume, not cancelled at the grace
        grace = self.config.grace_seconds if grace is None else grace
        started = time.monotonic()
        self.gate.close(grace)
        left = max(0.0, grace - (time.monotonic() - started))
        stopped = [server.stop(left) for server in {self.server, self.admin_server}]
        for event in stopped:
            event.wait()
        self.store.close_all("shutdown")  # a no-op for a shared (Redis) store: other replicas serve its sessions
        self.store.close()
        self.profiles.close()
        lost = self._drain_history()
        self.registry.close()
        if self.tracing is not None:
            self.tracing.shutdown()
        if self.metrics_server is not None:  # last, so scrapes see the shutdown through
            self.metrics_server.shutdown()
            self.metrics_server.server_close()
        return lost

    def _drain_history(self) -> int:
        """Write the history queue within the drain timeout, spill the rest; returns the records lost."""
        left = self.history.drain(self.config.history_drain_seconds)
        lost = self.history.stats()["lost"]
        if self.journal is not None:
            self.journal.close()
            if left:
                log.warning("history: %d records not written within %.1fs are in the journal (written at the "
                            "next start)", len(left), self.config.history_drain_seconds)
        elif left:
            try:
                path = self.spill.write(left)
                log.warning("history: %d records not written within %.1fs, spilled to %s (written at the next "
                            "start)", len(left), self.config.history_drain_seconds, path)
            except OSError:
                log.exception("history: %d records could not be spilled", len(left))
                lost += len(left)
        if lost:
            log.error("history: %d acknowledged records lost", lost)
        return lost

    def _admit(self) -> None:
        """Refuse a decision (RESOURCE_EXHAUSTED) while the history or profile queue has no room for what it writes."""
        try:
            self.history.check_room()
            self.profiles.writer.check_room()
        except HistoryError as exc:
            raise as_service_error(exc) from exc

    def forget_customer(self, request: ruleset_service_pb2.ForgetCustomerRequest,
                        ) -> ruleset_service_pb2.ForgetCustomerResponse:
        """Erase a customer (history, profile, journeys): history queued so far is written first, so none of it
        survives the erasure. The other workers of a host learn of it before this returns (other replicas at their
        next sweep)."""
        level, customer = self.engine.customer_of(request.audience, request.channel)
        self.history.flush(timeout=10.0)
        profiles, rows = self.profiles.forget(level, customer, self.clock())
        self.engine.journeys.forget(customer)
        self.registry.announce(0)  # the workers' "sync" (rulesets and erasures); the number only names it in a log
        log.info("ForgetCustomer %s (%s): %s", customer, level, request.reason or "no reason given")
        return ruleset_service_pb2.ForgetCustomerResponse(profiles_deleted=profiles, history_rows_deleted=rows)

    def wait(self) -> None:
        self.server.wait_for_termination()

    def _set_health(self, status) -> None:
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, status)

    def purge(self) -> None:
        """Apply the retention periods: anonymous history, profiles unused for --profile-retention-days, old
        erasure tombstones."""
        now = self.clock()
        self.sink.purge_anonymous(now - timedelta(days=self.config.anonymous_retention_days))
        days = self.config.profile_retention_days
        self.profiles.purge(now - timedelta(days=days) if days else None, now)

    def _sweep(self) -> None:
        next_purge = 0.0
        while not self._stopping.wait(SWEEP_SECONDS):
            try:
                self.store.expire_idle()
                self.registry.sync()  # another replica may have deployed a version
                self.profiles.refresh(self.clock())  # or erased a customer
                if time.monotonic() >= next_purge:
                    self.purge()
                    next_purge = time.monotonic() + PURGE_SECONDS
            except Exception:  # the sweeper must outlive a transient database error
                log.exception("session sweep failed")


def _ruleset_files(paths, cache: CompiledCache | None) -> list[tuple[Path, Source, bytes]]:
    """(path, source read once, content) of each ruleset file; ValueError when two serve the same channel."""
    files, by_channel = [], {}
    for path in paths:
        data = Path(path).read_bytes()
        source = read(Source(yaml=data.decode()), cache)
        channel = source.ruleset.channel
        if channel in by_channel:
            raise ValueError(f"{by_channel[channel]} and {path} both serve channel {channel!r}: give one file per "
                             f"channel")
        by_channel[channel] = path
        files.append((Path(path), source, data))
    return files


def _bind(server: grpc.Server, address: str, config: Config) -> int:
    try:
        return bind(server, address, config)
    except RuntimeError as exc:  # grpcio says only "Failed to bind"; in use is the usual cause
        raise in_use(address) from exc


def settle_heap() -> None:
    """Once a server serves: what start-up built (rulesets, compiled code, modules) is moved out of the
    collector's generations (`gc.freeze`), so a full collection, which stops every call, walks only what calls
    made since (with the example ruleset: a few ms instead of 50-60)."""
    gc.collect()
    gc.freeze()


def create_service(config: Config, clock: Callable[[], datetime] = utc_now, worker: "Worker | None" = None,
                   ) -> Service:
    """Build and start a service; its bound port is `service.port`. A service that cannot start is stopped
    (its history flushed, its threads ended) before the error propagates."""
    service = Service(config, clock, worker)
    try:
        return service.start()
    except BaseException:
        service.stop(grace=0)
        raise
