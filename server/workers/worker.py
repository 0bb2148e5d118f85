"""One worker process of `segflow serve --processes N`: a full service on the host's shared stores, pinned to its
core, talking to the supervisor over a pipe.

Over the pipe a worker says `("ready", pid)` once it serves, `("deployed", token)` after a deploy activated a
version here or erased a customer (and waits for `("done", token)`), and answers `("sync", token)` (another
worker deployed or erased: activate the database's active version, learn the recent erasures) with
`("synced", token)` and `("metrics", token)` (a scrape) with
`("metrics", (token, text))`; last, `("stopped", lost)`. `("stopping", None)` says the host is stopping: a deploy
then returns without waiting, since the other workers take no new call. SIGTERM stops it gracefully; SIGINT is
the supervisor's to handle (a terminal sends it to the whole process group). A worker whose supervisor is gone
(killed, say) stops as on SIGTERM: an orphan must not go on holding the port.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Callable

from prometheus_client import generate_latest

from segflow.server.config import Config
from segflow.server.sessions.lmdb_store import LmdbSessionStore, open_environment
from segflow.server.workers.actionlog import SharedActionBus
from segflow.server.workers.identity import WorkerIdentity
from segflow.server.workers.profiles import ProfileWrites

log = logging.getLogger(__name__)

# How long a deploy waits for every other worker to activate it.
ANNOUNCE_SECONDS = 30.0
# Blocked from a worker's spawn until `run` has its handlers (supervisor.start_holding_signals).
HELD_SIGNALS = {signal.SIGTERM, signal.SIGINT}


@dataclass(frozen=True)
class Assignment:
    """What the supervisor tells a worker: its number, its core, and the host's shared environment."""

    index: int
    cpu: int
    shared: str  # the LMDB directory of the host's action log (and sessions, unless they are in Redis)
    last: bool  # whether it stops last and so summarises the sessions still live at shutdown
    processes: int = 1  # how many workers the host runs


class Worker:
    """The service's side of the pipe: builds the shared bus, names responses, announces deploys, syncs."""

    def __init__(self, assignment: Assignment, pipe: Connection, orphaned: Callable[[], None] = lambda: None):
        """`orphaned` is called once the supervisor's end of the pipe is closed (it exited or was killed)."""
        self.assignment = assignment
        self.pipe = pipe
        self.orphaned = orphaned
        self.interceptors = [WorkerIdentity()]
        self.service = None
        self._sending = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._started = False
        self._stopping = False  # the host is stopping: nobody answers announcements any more

    def action_bus(self, config: Config) -> SharedActionBus:
        env, _ = open_environment(self.assignment.shared)
        return SharedActionBus(env, self.assignment.index, retention=config.action_retention,
                               queue_size=config.subscriber_queue)

    def profile_writes(self) -> ProfileWrites:
        """How this worker tells the others of the host which customers' profiles it wrote."""
        return ProfileWrites(open_environment(self.assignment.shared)[0])

    def own_directory(self, data_dir: Path) -> Path:
        """This worker's own directory under the data directory (its history journal)."""
        return data_dir / "workers" / str(self.assignment.index)

    def attach(self, service) -> None:
        """Called by the service it is part of, once built."""
        self.service = service
        service.registry.announce = self.announce
        if isinstance(service.store, LmdbSessionStore):
            service.store.closes_on_shutdown = self.assignment.last

    def start(self) -> None:
        """Tell the supervisor the service is up, then answer it from a thread."""
        threading.Thread(target=self._listen, name="segflow-worker-pipe", daemon=True).start()
        self._started = True
        self._send(("ready", os.getpid()))

    def stopped(self, lost: int) -> None:
        """Tell the supervisor how many acknowledged history records could be neither written nor spilled."""
        try:
            self._send(("stopped", lost))
        except OSError:
            pass

    def announce(self, version: int) -> None:
        """Return once every other worker has activated `version` (or ANNOUNCE_SECONDS passed, logged). A deploy
        while the service starts has nobody to tell: the workers that start after it take the active version, and
        one while the host stops needs none: the others finish their calls on the versions they started with."""
        if not self._started or self._stopping:
            return
        token = uuid.uuid4().hex
        done = self._waiting[token] = threading.Event()
        try:
            self._send(("deployed", token))
            if not done.wait(ANNOUNCE_SECONDS):
                log.error("ruleset version %d: not every worker confirmed it within %.0fs; they take it at their "
                          "next sweep", version, ANNOUNCE_SECONDS)
        finally:
            self._waiting.pop(token, None)

    def _send(self, message: tuple) -> None:
        with self._sending:
            self.pipe.send(message)

    def _listen(self) -> None:
        while True:
            try:
                kind, token = self.pipe.recv()
            except (EOFError, OSError):
                log.warning("worker %d: the supervisor is gone; stopping", self.assignment.index)
                self.orphaned()
                return
            if kind == "sync":
                try:
                    self.service.registry.sync()
                    self.service.profiles.refresh(self.service.clock())
                except Exception:
                    log.exception("could not take what another worker deployed or erased")
                self._send(("synced", token))
            elif kind == "done" and token in self._waiting:
                self._waiting[token].set()
            elif kind == "metrics":
                self._send(("metrics", (token, generate_latest(self.service.metrics).decode())))
            elif kind == "stopping":
                self._stopping = True
                for done in list(self._waiting.values()):
                    done.set()


def run(config: Config, assignment: Assignment, pipe: Connection) -> None:
    """The worker process's main: serve until SIGTERM, then stop gracefully; exit code 1 if acknowledged history
    records could be neither written nor spilled."""
    from segflow.server import logs
    from segflow.server.app import create_service, settle_heap

    os.sched_setaffinity(0, {assignment.cpu})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HELD_SIGNALS)  # held since the spawn: one that came is handled now
    logs.configure(config.log_format, config.log_level)
    worker = Worker(assignment, pipe, orphaned=stop.set)
    service = create_service(config, worker=worker)
    settle_heap()
    worker.start()
    # A signal the kernel hands to another thread (it does when the process was stopped, SIGSTOP) runs its
    # handler only once this thread next runs Python code: never while it blocks in a wait without timeout.
    while not stop.wait(1.0):
        pass
    lost = service.stop()
    worker.stopped(lost)
    if lost:
        sys.exit(1)
