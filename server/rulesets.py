"""The deployed rulesets: which version is active, and how a new one replaces it without a gap or a risk.

A deploy compiles first and swaps after: the active (compiled, version) pair is one reference, replaced in one
assignment, so a call that took it finishes on the version it started with and a ruleset that fails to
compile changes nothing. Versions are numbered and kept in the history database with author, time and
digest; the active one survives restarts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from segflow.v1 import ruleset_pb2

from rules import CompileError
from rules.errors import RuleError
from rules.ruleset import CompiledRuleset, compile_ruleset, ruleset_digest
from rules.ruleset_yaml import LoadedRuleset, load_ruleset_yaml
from server.errors import NotFound


@dataclass(frozen=True)
class Source:
    """A ruleset to compile: YAML text (errors then carry file positions) or a Ruleset message."""

    yaml: str = ""
    ruleset: ruleset_pb2.Ruleset | None = None


def _load(source: Source) -> tuple[ruleset_pb2.Ruleset, LoadedRuleset | None]:
    if source.ruleset is not None:
        return source.ruleset, None
    loaded = load_ruleset_yaml(source.yaml)
    if loaded.errors:
        raise CompileError(loaded.errors)
    return loaded.ruleset, loaded


def compile_source(source: Source) -> CompiledRuleset:
    """Compile a source; raises CompileError with every problem."""
    return compile_ruleset(*_load(source))


def check_source(source: Source) -> tuple[list[RuleError], list[RuleError]]:
    """(errors, warnings) of a source, without deploying it."""
    try:
        compiled = compile_source(source)
    except CompileError as exc:
        return exc.errors, []
    return [], list(compiled.warnings)


@dataclass(frozen=True)
class Deployment:
    version: object  # the VersionRecord of the history database
    compiled: CompiledRuleset
    unchanged: bool


class RulesetRegistry:
    """The active ruleset of this server, and the numbered versions behind it."""

    def __init__(self, versions):
        self.versions = versions
        self._active: tuple[CompiledRuleset, int] | None = None
        self._deploying = threading.Lock()

    def current(self) -> tuple[CompiledRuleset, int]:
        active = self._active
        if active is None:
            raise NotFound("no ruleset is deployed", reason="NO_RULESET")
        return active

    @property
    def ready(self) -> bool:
        return self._active is not None

    def deploy(self, source: Source, author: str = "", comment: str = "") -> Deployment:
        """Compile and activate a ruleset. An unchanged one (same digest as the active) recompiles nothing."""
        with self._deploying:
            ruleset, loaded = _load(source)
            digest = ruleset_digest(ruleset)
            active = self.versions.active()
            if self._active is not None and active is not None and active.digest == digest:
                return Deployment(active, self._active[0], unchanged=True)
            compiled = compile_ruleset(ruleset, loaded)
            record = self.versions.add(ruleset.name, ruleset.channel, digest, author, comment, source.yaml,
                                       ruleset.SerializeToString(deterministic=True))
            self.versions.set_active(record.version)
            self._active = (compiled, record.version)
            return Deployment(record, compiled, unchanged=False)

    def rollback(self, version: int, author: str = "") -> Deployment:
        """Make an earlier version active again (as a new version, so the history stays a straight line)."""
        record = self.versions.get(version)
        if record is None:
            raise NotFound(f"no ruleset version {version}", reason="VERSION_NOT_FOUND",
                           fields=[("version", "no such version")])
        return self.deploy(_stored_source(record), author, f"rollback to version {version}")

    def restore(self) -> bool:
        """Activate the version that was active when the server last ran; False when there is none."""
        record = self.versions.active()
        if record is None:
            return False
        with self._deploying:
            self._active = (compile_source(_stored_source(record)), record.version)
        return True


def _stored_source(record) -> Source:
    if record.source_yaml:
        return Source(yaml=record.source_yaml)
    return Source(ruleset=ruleset_pb2.Ruleset.FromString(record.ruleset_bytes))
