"""The deployed rulesets: which version is active, and how a new one replaces it without a gap or a risk.

A deploy compiles first and swaps after: the active version (compiled ruleset, number, callouts) is one
reference, replaced in one assignment, so a call that took it finishes on the version it started with and a
ruleset that fails to compile changes nothing. Versions are numbered and kept in the history database with
author, time and digest; the active one survives restarts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from segflow.v1 import ruleset_pb2

from segflow.rules import CompileError
from segflow.rules.errors import RuleError
from segflow.rules.ruleset import CompiledRuleset, compile_ruleset, ruleset_digest
from segflow.rules.ruleset_yaml import LoadedRuleset, load_ruleset_yaml
from segflow.rules.stored import CompiledCache
from segflow.server.callouts import CalloutRegistry, validate_definitions
from segflow.server.errors import FailedPrecondition, NotFound
from segflow.server.profiles.sources import ProfileSources, validate_sources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A ruleset to compile: YAML text (errors then carry file positions) or a Ruleset message."""

    yaml: str = ""
    ruleset: ruleset_pb2.Ruleset | None = None


@dataclass(frozen=True)
class ActiveVersion:
    """What a call runs on: the compiled ruleset, its version number and its callouts."""

    compiled: CompiledRuleset
    version: int
    callouts: CalloutRegistry | None
    profiles: ProfileSources | None = None  # where profile attributes come from at identification

    def close(self) -> None:
        """Stop the version's callouts and profile sources (no call runs on it any more)."""
        for started in (self.callouts, self.profiles):
            if started is not None:
                started.close()


def _load(source: Source, cache: CompiledCache | None = None) -> tuple[ruleset_pb2.Ruleset, LoadedRuleset | None]:
    """The source as a message (with file positions when it is YAML read now, none when `cache` knows the
    text: it compiled before); YAML that does not parse raises."""
    if source.ruleset is not None:
        return source.ruleset, None
    known = cache.ruleset(source.yaml) if cache is not None else None
    if known is not None:
        return known, None
    loaded = load_ruleset_yaml(source.yaml)
    if loaded.errors and not loaded.positions:  # not even YAML: there is nothing to check further
        raise CompileError(loaded.errors)
    return loaded.ruleset, loaded


def _compile(ruleset: ruleset_pb2.Ruleset, loaded: LoadedRuleset | None, cache: CompiledCache | None = None,
             text: str = "") -> CompiledRuleset:
    """Compile a ruleset (through `cache`, by its YAML `text`, when given) and check its callouts (plugins
    installed, arities, targets): every error at once."""
    positions = loaded.positions if loaded else {}
    errors = list(loaded.errors) if loaded else []  # the reader's, reported with the compiler's
    errors += [RuleError(code="callout", message=p.message, path=p.path, expression="", expr_line=0, expr_column=0,
                        line=positions.get(p.path, (None, None))[0], column=positions.get(p.path, (None, None))[1])
              for p in [*validate_definitions(ruleset.callouts),
                        *validate_sources(ruleset.profile_sources,
                                          {level.name: level.id_fields for level in ruleset.audience_levels})]]
    try:
        compiled = cache.compile(ruleset, loaded, text=text) if cache else compile_ruleset(ruleset, loaded)
    except CompileError as exc:
        raise CompileError([*exc.errors, *errors]) from None
    if errors:
        raise CompileError(errors)
    return compiled


def compile_source(source: Source) -> CompiledRuleset:
    """Compile a source; raises CompileError with every problem."""
    return _compile(*_load(source))


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

    def __init__(self, versions, announce: Callable[[int], None] = lambda version: None,
                 cache: CompiledCache | None = None):
        """`announce(version)` runs after a deploy activated `version` here, and returns once every other
        process serving the same versions has activated it too (`server.workers`). `cache` keeps compiled
        versions on disk, so a restart serves the active one without compiling it again."""
        self.versions = versions
        self.cache = cache
        self.announce = announce
        self._active: ActiveVersion | None = None
        self._previous: ActiveVersion | None = None  # calls may still be finishing on it
        self._deploying = threading.Lock()

    def current(self) -> ActiveVersion:
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
            ruleset, loaded = _load(source, self.cache)
            digest = ruleset_digest(ruleset)
            stored = self.versions.active()
            clean = loaded is None or not loaded.errors
            if clean and self._active is not None and stored is not None and stored.digest == digest:
                return Deployment(stored, self._active.compiled, unchanged=True)
            compiled = _compile(ruleset, loaded, self.cache, source.yaml)
            started = _start(ruleset, compiled, 0)  # numbered once the version is recorded
            record = self.versions.add(ruleset.name, ruleset.channel, digest, author, comment, source.yaml,
                                       ruleset.SerializeToString(deterministic=True))
            self.versions.set_active(record.version)
            self._swap(ActiveVersion(compiled, record.version, started.callouts, started.profiles))
        self.announce(record.version)  # unlocked: another process announcing at once syncs here meanwhile
        return Deployment(record, compiled, unchanged=False)

    def load_file(self, source: Source, author: str, comment: str) -> str:
        """Serve a ruleset file at start, unless that would undo a rollback; returns what was done, for the log.

        The version active when the server last ran is activated first. The file is deployed only when its
        ruleset was never deployed: one equal to the active version changes nothing, and one equal to an older
        version (the active one is then a rollback, or a later deploy) is not redeployed by a restart.
        """
        self.sync()
        ruleset, _ = _load(source, self.cache)
        digest = ruleset_digest(ruleset)
        active, known = self.versions.active(), self.versions.with_digest(digest)
        if active is not None and active.digest == digest:
            return f"the file is the active version {active.version}: nothing deployed"
        if active is not None and known is not None:
            return (f"the file is version {known.version}, but version {active.version} is active (deployed or "
                    f"rolled back to since): still serving version {active.version}; `segflow deploy` the file "
                    f"to serve it again")
        deployment = self.deploy(source, author, comment)
        return f"deployed the file as version {deployment.version.version}"

    def rollback(self, version: int, author: str = "") -> Deployment:
        """Make an earlier version active again (as a new version, so the history stays a straight line)."""
        record = self.versions.get(version)
        if record is None:
            raise NotFound(f"no ruleset version {version}", reason="VERSION_NOT_FOUND",
                           fields=[("version", "no such version")])
        return self.deploy(_stored_source(record), author, f"rollback to version {version}")

    def sync(self) -> bool:
        """Activate the version the history database says is active, unless it already is: at start (the
        version active when the server last ran), and periodically, so a deploy through any replica sharing
        the database reaches them all. False when no version was ever deployed.

        Versions only move forward (a rollback is a new version): the active version is read under the deploy
        lock, and one older than the version this server runs is left alone, so a sync that overlaps a deploy
        can never swap the version it replaces back in."""
        with self._deploying:
            record = self.versions.active()
            if record is None:
                return False
            if self._active is None or self._active.version < record.version:
                source = _stored_source(record)
                ruleset, loaded = _load(source, self.cache)
                self._swap(_start(ruleset, _compile(ruleset, loaded, self.cache, source.yaml), record.version))
        return True

    def close(self) -> None:
        """Shut down the callouts of the versions still held (on server stop)."""
        with self._deploying:
            for held in (self._previous, self._active):
                if held is not None:
                    held.close()
            self._previous = self._active = None

    def _swap(self, new: ActiveVersion) -> None:
        """Activate `new`; the version before the previous one has no calls left, so its callouts stop."""
        retired, self._previous, self._active = self._previous, self._active, new
        if retired is not None:
            retired.close()


def start_callouts(ruleset: ruleset_pb2.Ruleset) -> CalloutRegistry | None:
    """The ruleset's callouts, started (plugins initialized); None when it declares none."""
    if not ruleset.callouts:
        return None
    try:
        return CalloutRegistry.from_definitions(ruleset.callouts)
    except Exception as exc:  # a plugin that fails to initialize: the deploy fails, nothing changes
        log.exception("callouts failed to start")
        raise FailedPrecondition(f"callouts failed to start: {exc}", reason="CALLOUT_START_FAILED") from exc


def _start(ruleset: ruleset_pb2.Ruleset, compiled: CompiledRuleset, version: int) -> ActiveVersion:
    """A version ready to serve: its callouts and profile sources started (a failure starts neither)."""
    callouts = start_callouts(ruleset)
    try:
        profiles = ProfileSources.from_ruleset(ruleset, compiled.profile_attributes)
    except Exception as exc:  # a plugin that fails to initialize: the deploy fails, nothing changes
        if callouts is not None:
            callouts.close()
        log.exception("profile sources failed to start")
        raise FailedPrecondition(f"profile sources failed to start: {exc}", reason="PROFILE_SOURCE_START_FAILED") from exc
    return ActiveVersion(compiled, version, callouts, profiles)


def _stored_source(record) -> Source:
    if record.source_yaml:
        return Source(yaml=record.source_yaml)
    return Source(ruleset=ruleset_pb2.Ruleset.FromString(record.ruleset_bytes))
