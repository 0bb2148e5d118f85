"""The parent of `segflow serve --processes N`: claims the address, runs the workers, relays deploy
announcements, restarts a worker that died, and stops them in order on SIGTERM.

Worker 0 starts first (it deploys `--ruleset`, or the example into an empty database), then the others, which
take the active version. A deploy through any worker returns once every other live worker has activated it: the
supervisor forwards the announcement to each and the acknowledgements back. A worker that dies is started again
(its sessions are in the shared store); one that keeps dying within seconds of starting stops the server.
With --metrics-port, the supervisor serves the metrics of every worker on that one port
(`server.workers.metrics`). On SIGTERM (or SIGINT) workers 1..N-1 stop first, each finishing its calls and flushing its history while
worker 0 still serves; then worker 0, which summarises the sessions still live. The exit code is 0 when every
worker stopped cleanly, 1 otherwise (with the count of acknowledged history records the workers could neither
write nor spill on stderr, as one process reports it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait

from prometheus_client import CollectorRegistry

from segflow.server.config import Config
from segflow.server.metrics import start_metrics_server
from segflow.server.workers import address
from segflow.server.workers.metrics import WorkersCollector
from segflow.server.workers.worker import HELD_SIGNALS, Assignment, run

log = logging.getLogger(__name__)

# A worker that dies within this many seconds of starting, this many times in a row, stops the server.
UNSTABLE_SECONDS = 5.0
UNSTABLE_LIMIT = 3
START_SECONDS = 120.0


def usable_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


@dataclass
class _Running:
    index: int
    process: multiprocessing.Process
    pipe: Connection
    started: float
    ready: bool = False
    quick_deaths: int = 0


@dataclass
class _Scrape:
    expected: int
    texts: dict[int, str] = field(default_factory=dict)  # worker number -> its metrics
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Announcement:
    origin: _Running
    waiting: set[int] = field(default_factory=set)  # indexes of the workers yet to confirm


class Supervisor:
    def __init__(self, config: Config, processes: int):
        self.config = config
        self.processes = processes
        self.cpus = usable_cpus()
        self.shared = ""  # the host's LMDB directory, made at run
        self._context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or grpc
        self._workers: dict[int, _Running] = {}
        self._announcements: dict[str, _Announcement] = {}
        self._scrapes: dict[str, _Scrape] = {}
        self._sending = threading.Lock()  # the main thread and scrapes both write to the pipes
        self._stop = threading.Event()

    def run(self) -> int:
        held, port = address.claim(self.config.address)
        self.address = address.join(address.split(self.config.address)[0], port)
        host = address.split(self.config.address)[0]
        self.admin_address = ""
        if self.config.admin_address:
            try:
                admin, admin_port = address.claim(self.config.admin_address)
            except OSError:
                held.close()
                raise
            self.admin_address = address.join(address.split(self.config.admin_address)[0], admin_port)
        # The host's sessions and action log live while the server runs: summarised at the end, like one
        # process's (a temporary directory, not the data directory, which may be on a slow or shared disk).
        self.shared = tempfile.mkdtemp(prefix="segflow-host-")
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._stop.set())
        metrics = None
        try:
            if self.config.metrics_port:
                registry = CollectorRegistry()
                registry.register(WorkersCollector(self._gather_metrics))
                metrics, _ = start_metrics_server(self.config.metrics_port, registry, host)
                log.info("metrics of every worker on http://%s:%d/metrics", host, metrics.server_port)
            if self._start_all():
                log.info("%d worker processes serving", self.processes)
                print(f"segflow serving on {host}:{port}", flush=True)  # as one process says it
            elif not self._stop.is_set():
                return self._shutdown(failed=True)
            while not self._stop.is_set():
                if not self._step(0.2):
                    return self._shutdown(failed=True)
            log.info("shutting down: workers finish their calls and flush history, one after another")
            return self._shutdown(failed=False)
        finally:
            if metrics is not None:
                metrics.shutdown()
                metrics.server_close()
            held.close()
            if self.admin_address:
                admin.close()
            shutil.rmtree(self.shared, ignore_errors=True)

    # -- workers ---------------------------------------------------------------------------------

    def _config(self, index: int, first: bool) -> Config:
        sessions = self.config.sessions_url
        return replace(self.config, address=self.address, admin_address=self.admin_address, processes=1,
                       sessions_url=f"lmdb://{self.shared}" if sessions == "memory" else sessions,
                       # Worker 0 deploys the files at the first start; restarted, it watches them again.
                       ruleset=self.config.ruleset if index == 0 and (first or self.config.watch) else (),
                       watch=self.config.watch and index == 0,
                       metrics_port=self.config.metrics_port)  # scraped through the supervisor

    def _spawn(self, index: int, first: bool, quick_deaths: int = 0) -> _Running:
        ours, theirs = self._context.Pipe()
        assignment = Assignment(index=index, cpu=self.cpus[index % len(self.cpus)], shared=self.shared,
                                last=index == 0, processes=self.processes)
        process = self._context.Process(target=run, args=(self._config(index, first), assignment, theirs),
                                        name=f"segflow-worker-{index}")
        start_holding_signals(process)
        theirs.close()
        running = self._workers[index] = _Running(index, process, ours, time.monotonic(), quick_deaths=quick_deaths)
        return running

    def _start_all(self) -> bool:
        """Worker 0, then the others; False if one failed to start."""
        self._spawn(0, first=True)
        if not self._until_ready([0]):
            return False
        for index in range(1, self.processes):
            self._spawn(index, first=True)
        return self._until_ready(range(self.processes))

    def _until_ready(self, indexes) -> bool:
        deadline = time.monotonic() + START_SECONDS
        while not all(self._workers[i].ready for i in indexes):
            if self._stop.is_set() or time.monotonic() > deadline:
                return False
            if not self._step(0.2, restart=False):
                return False
        return True

    def _step(self, timeout: float, restart: bool = True) -> bool:
        """Handle what the workers said and which died; False when the server should stop."""
        by_pipe = {w.pipe: w for w in self._workers.values()}
        by_sentinel = {w.process.sentinel: w for w in self._workers.values()}
        for ready in wait([*by_pipe, *by_sentinel], timeout):
            if ready in by_pipe:
                worker = by_pipe[ready]
                try:
                    message = worker.pipe.recv()
                except (EOFError, OSError):
                    continue  # it died: its sentinel says so
                self._handle(worker, *message)
            elif by_sentinel[ready].process.exitcode is not None:
                if not self._died(by_sentinel[ready], restart):
                    return False
        return True

    def _handle(self, worker: _Running, kind: str, value) -> None:
        if kind == "ready":
            worker.ready = True
            log.info("worker %d (pid %d) serving", worker.index, value)
        elif kind == "deployed":
            waiting = {w.index for w in self._workers.values() if w is not worker}
            self._announcements[value] = _Announcement(worker, waiting)
            for index in waiting:
                self._tell(self._workers[index], ("sync", value))
            self._settle(value)
        elif kind == "metrics" and value[0] in self._scrapes:
            scrape = self._scrapes[value[0]]
            scrape.texts[worker.index] = value[1]
            if len(scrape.texts) >= scrape.expected:
                scrape.done.set()
        elif kind == "synced" and value in self._announcements:
            self._announcements[value].waiting.discard(worker.index)
            self._settle(value)

    def _settle(self, token: str) -> None:
        """Tell the deploying worker once nobody is left to confirm."""
        announcement = self._announcements[token]
        if not announcement.waiting:
            del self._announcements[token]
            self._tell(announcement.origin, ("done", token))

    def _tell(self, worker: _Running, message: tuple) -> None:
        try:
            with self._sending:
                worker.pipe.send(message)
        except OSError:
            pass  # it died: its sentinel says so

    def _gather_metrics(self, timeout: float) -> dict[int, str]:
        """Every serving worker's metrics (text format) by worker number, asked at once (from a scrape's thread:
        the main loop receives the answers); one that does not answer within `timeout` is left out."""
        token = uuid.uuid4().hex
        asked = [worker for worker in list(self._workers.values()) if worker.ready]
        scrape = self._scrapes[token] = _Scrape(len(asked))
        try:
            for worker in asked:
                self._tell(worker, ("metrics", token))
            scrape.done.wait(timeout)
            return dict(scrape.texts)
        finally:
            del self._scrapes[token]

    def _died(self, worker: _Running, restart: bool) -> bool:
        """Forget a dead worker (no announcement waits for it) and start it again; False if it keeps dying."""
        worker.pipe.close()
        del self._workers[worker.index]
        for token, announcement in list(self._announcements.items()):
            announcement.waiting.discard(worker.index)
            if announcement.origin is worker:
                del self._announcements[token]
            else:
                self._settle(token)
        quick = time.monotonic() - worker.started < UNSTABLE_SECONDS
        deaths = worker.quick_deaths + 1 if quick else 0
        log.error("worker %d (pid %d) exited with code %s", worker.index, worker.process.pid, worker.process.exitcode)
        if not restart or deaths >= UNSTABLE_LIMIT:
            log.error("worker %d cannot be kept running; stopping", worker.index)
            return False
        self._spawn(worker.index, first=False, quick_deaths=deaths)
        return True

    def _shutdown(self, failed: bool) -> int:
        """Stop workers 1..N-1, then worker 0; 0 if every one exited cleanly and nothing failed before."""
        clean, lost = not failed, 0
        for worker in self._workers.values():  # no announcement is relayed from now on: deploys must not wait
            self._tell(worker, ("stopping", None))
        others = [w for i, w in self._workers.items() if i != 0]
        first = [self._workers[0]] if 0 in self._workers else []
        for group in (others, first):
            for worker in group:
                if worker.process.exitcode is None:
                    worker.process.terminate()
            for worker in group:
                worker.process.join(self.config.grace_seconds + 30)
                if worker.process.exitcode is None:
                    log.error("worker %d did not stop in time; killed", worker.index)
                    worker.process.kill()
                    worker.process.join()
                clean = clean and worker.process.exitcode == 0
                lost += _lost(worker)
        if lost:
            print(f"segflow: {lost} acknowledged history record(s) could be neither written nor spilled",
                  file=sys.stderr)
        return 0 if clean else 1


def start_holding_signals(process: multiprocessing.Process) -> None:
    """Start `process` with SIGTERM and SIGINT blocked, as the child inherits them: a stop that arrives while it
    imports waits until `run` has its handler (and unblocks them), so even a worker stopped while it starts
    replays its history journal and stops cleanly, instead of dying with the journal unwritten until the next
    start. multiprocessing's resource tracker unblocks both when it starts (at the first spawn): started first."""
    resource_tracker.ensure_running()
    held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _lost(worker: _Running) -> int:
    """The history records a stopped worker said it could neither write nor spill."""
    lost = 0
    try:
        while worker.pipe.poll():
            kind, value = worker.pipe.recv()
            if kind == "stopped":
                lost += value
    except (EOFError, OSError):
        pass
    return lost


def serve_workers(config: Config, processes: int) -> int:
    """Run `processes` workers on `config.address` until SIGTERM; the exit code."""
    return Supervisor(config, processes).run()
