"""Reload the served ruleset when its file changes (`segflow serve --ruleset FILE --watch`).

A thread polls the file's modification time and size, and reads it only when they change; a deploy happens only
when the content's digest differs from the last one seen, so touching the file, or saving it unchanged, does
nothing. The deploy goes through the registry like any other, so a file that fails validation changes nothing:
its errors are logged, every one, and the version before keeps serving until the file is fixed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from segflow.rules import CompileError
from segflow.server.errors import ServiceError
from segflow.server.rulesets import RulesetRegistry, Source

log = logging.getLogger(__name__)

AUTHOR = "segflow serve --watch"


class RulesetWatcher:
    """Polls `path` every `interval` seconds and deploys it to `registry` when its content changes."""

    def __init__(self, path: Path, registry: RulesetRegistry, *, interval: float = 1.0):
        self.path = Path(path)
        self.registry = registry
        self.interval = interval
        # None at first: the first poll deploys the file, which is a no-op when it is what the server loaded.
        self._stat: tuple[int, int] | None = None
        self._digest: str | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="segflow-ruleset-watch", daemon=True)

    def start(self) -> "RulesetWatcher":
        log.info("watching %s for changes every %gs", self.path, self.interval)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.poll()
            except Exception:  # the watcher must outlive an unreadable file or a failing deploy
                log.exception("watching %s failed", self.path)

    def poll(self) -> bool:
        """Deploy the file if its content changed since the last poll; True when a new version was activated."""
        stat = self._stat_now()
        if stat == self._stat:
            return False
        self._stat = stat
        if stat is None:
            return False
        data = self.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest == self._digest:
            return False
        self._digest = digest
        return self._deploy(data.decode())

    def _deploy(self, text: str) -> bool:
        try:
            deployment = self.registry.deploy(Source(yaml=text), AUTHOR, f"reloaded from {self.path}")
        except CompileError as exc:
            log.error("%s changed but does not compile; still serving the previous version:\n%s", self.path,
                      "\n".join(error.located(str(self.path)) for error in exc.errors))
            return False
        except ServiceError as exc:
            log.error("%s changed but was not deployed; still serving the previous version: %s", self.path, exc)
            return False
        if deployment.unchanged:
            return False
        log.info("%s changed: deployed as version %d", self.path, deployment.version.version)
        return True

    def _stat_now(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:  # an editor replacing the file: wait for the new one
            return None
        return stat.st_mtime_ns, stat.st_size
