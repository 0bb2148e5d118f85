"""Reload a served ruleset when its file changes (`segflow serve --ruleset FILE... --watch`: one watcher per file).

A thread polls the file's modification time and size, and reads it only once they have changed and then held still
for one poll (an editor or `write_text` truncates, then writes: a read in between would see half a file); a deploy
happens only when the content's digest differs from the last one seen, so touching the file, or saving it unchanged, does
nothing. The deploy goes through the registry like any other, so a file that fails validation changes nothing:
its errors are logged, every one, and the version before keeps serving until the file is fixed. Each file serves
one channel: a change that names another channel is refused too, so one file can never replace another's.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from segflow.rules import CompileError
from segflow.server.errors import ServiceError
from segflow.server.rulesets import RulesetRegistry, Source, read

log = logging.getLogger(__name__)

AUTHOR = "segflow serve --watch"


class RulesetWatcher:
    """Polls `path` every `interval` seconds and deploys it to `registry` when its content changes."""

    def __init__(self, path: Path, registry: RulesetRegistry, *, interval: float = 1.0, channel: str = "",
                 loaded: bytes | None = None):
        """`channel`: the one the file serves (any when empty). `loaded`: the content the server loaded at start,
        so that only a later change deploys (a restart must not redeploy a file a rollback replaced); without
        it the first poll deploys the file, which is a no-op when it is what the server serves."""
        self.path = Path(path)
        self.registry = registry
        self.interval = interval
        self.channel = channel
        self._stat: tuple[int, int] | None = None
        self._changing: tuple[int, int] | None = None  # a changed stat seen once, read if the next poll agrees
        self._digest: str | None = None if loaded is None else hashlib.sha256(loaded).hexdigest()
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
        if stat != self._changing:
            self._changing = stat
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
            source = read(Source(yaml=text), self.registry.cache)  # once: the deploy below reads nothing again
            named = source.ruleset.channel if self.channel else ""
            if named != self.channel:
                log.error("%s changed but names channel %r, not %r, which it serves; still serving the previous "
                          "version (serve each channel from its own file)", self.path, named, self.channel)
                return False
            deployment = self.registry.deploy(source, AUTHOR, f"reloaded from {self.path}")
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
