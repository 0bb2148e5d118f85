"""The deployed rulesets, one per channel: which version is active, and how a new one replaces it without a gap
or a risk.

A deploy compiles first and swaps after: the active version (compiled ruleset, number, callouts) is one
reference, replaced in one assignment, so a call that took it finishes on the version it started with and a
ruleset that fails to compile changes nothing. Versions are numbered and kept in the history database with
author, time and digest; the active one survives restarts.
"""

from __future__ import annotations

import dataclasses
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
from segflow.server.errors import FailedPrecondition, InvalidArgument, NotFound
from segflow.server.profiles.sources import ProfileSources, validate_sources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A ruleset to compile: YAML text (errors then carry file positions) or a Ruleset message, or both when
    the YAML was read already (`read`): `loaded` is then what reading it gave (None: it came from the compiled
    cache), and nothing reads the text again."""

    yaml: str = ""
    ruleset: ruleset_pb2.Ruleset | None = None
    loaded: LoadedRuleset | None = None


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
        return source.ruleset, source.loaded
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
    problems = [*validate_definitions(ruleset.callouts),
                *validate_sources(ruleset.profile_sources,
                                  {level.name: level.id_fields for level in ruleset.audience_levels})]
    if problems and loaded is None and text:
        # Read from the compiled cache, so without positions; a plugin uninstalled since it compiled is
        # reported at its line and column all the same (the text compiled before, so it reads cleanly).
        loaded = load_ruleset_yaml(text)
    positions = loaded.positions if loaded else {}
    errors = list(loaded.errors) if loaded else []  # the reader's, reported with the compiler's
    errors += [RuleError(code="callout", message=p.message, path=p.path, expression="", expr_line=0, expr_column=0,
                        line=positions.get(p.path, (None, None))[0], column=positions.get(p.path, (None, None))[1])
              for p in problems]
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
    """The active ruleset of each channel this server serves, and the numbered versions behind them.

    Channels are independent: deploying, rolling back or syncing one never swaps, stops or recompiles another's
    version. The active versions are one mapping, replaced whole on a swap, so a reader takes a consistent view
    without a lock."""

    def __init__(self, versions, announce: Callable[[int], None] = lambda version: None,
                 cache: CompiledCache | None = None):
        """`announce(version)` runs after a deploy activated `version` here, and returns once every other
        process serving the same versions has activated it too (`server.workers`). `cache` keeps compiled
        versions on disk, so a restart serves the active one without compiling it again."""
        self.versions = versions
        self.cache = cache
        self.announce = announce
        self._active: dict[str, ActiveVersion] = {}  # by channel
        self._previous: dict[str, ActiveVersion] = {}  # by channel: calls may still be finishing on them
        self._deploying = threading.Lock()

    def current(self, channel: str = "") -> ActiveVersion:
        """The active version of `channel` (see `active_of`)."""
        return active_of(self._active, channel)

    def served(self) -> dict[str, ActiveVersion]:
        """The active version of every channel served, by channel."""
        return self._active

    def version_of(self, channel: str) -> int:
        """The version serving `channel` here; 0 when none does."""
        active = self._active.get(channel)
        return 0 if active is None else active.version

    @property
    def ready(self) -> bool:
        return bool(self._active)

    def deploy(self, source: Source, author: str = "", comment: str = "") -> Deployment:
        """Compile and activate a ruleset for its channel. An unchanged one (same digest as the channel's active
        version) recompiles nothing."""
        with self._deploying:
            ruleset, loaded = _load(source, self.cache)
            digest = ruleset_digest(ruleset)
            stored = self.versions.active(ruleset.channel)
            held = self._active.get(ruleset.channel)
            clean = loaded is None or not loaded.errors
            if clean and held is not None and stored is not None and stored.digest == digest:
                return Deployment(stored, held.compiled, unchanged=True)
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

        The versions active when the server last ran are activated first. The file is deployed only when its
        ruleset was never deployed: one equal to its channel's active version changes nothing, and one equal
        to an older version (the active one is then a rollback, or a later deploy) is not redeployed by a
        restart.
        """
        self.sync()
        source = read(source, self.cache)
        ruleset = source.ruleset
        digest = ruleset_digest(ruleset)
        active, known = self.versions.active(ruleset.channel), self.versions.with_digest(digest)
        if active is not None and active.digest == digest:
            return f"the file is the active version {active.version}: nothing deployed"
        if active is not None and known is not None:
            return (f"the file is version {known.version}, but version {active.version} is active (deployed or "
                    f"rolled back to since): still serving version {active.version}; `segflow deploy` the file "
                    f"to serve it again")
        deployment = self.deploy(source, author, comment)
        return f"deployed the file as version {deployment.version.version}"

    def rollback(self, version: int, author: str = "", channel: str = "") -> Deployment:
        """Make an earlier version active again for its channel (as a new version, so the history stays a
        straight line); with `channel`, the version must be one of that channel's."""
        record = self.versions.get(version)
        if record is None or (channel and record.channel != channel):
            why = "no such version" if record is None else f"a version of channel {record.channel!r}"
            raise NotFound(f"no ruleset version {version}" + (f" of channel {channel!r}" if channel else ""),
                           reason="VERSION_NOT_FOUND", fields=[("version", why)])
        return self.deploy(_stored_source(record), author, f"rollback to version {version}")

    def sync(self) -> bool:
        """Activate, for each channel, the version the history database says is active, unless it already is:
        at start (the versions active when the server last ran), and periodically, so a deploy through any
        replica sharing the database reaches them all. False when no version was ever activated.

        Versions only move forward (a rollback is a new version): the active versions are read under the deploy
        lock, and one older than the version this server runs is left alone, so a sync that overlaps a deploy
        can never swap the version it replaces back in. A channel whose version cannot start here leaves the
        others syncing; its error is raised after them."""
        failed: Exception | None = None
        with self._deploying:
            records = self.versions.active_versions()
            for record in records:
                if self.version_of(record.channel) >= record.version:
                    continue
                try:
                    source = _stored_source(record)
                    ruleset, loaded = _load(source, self.cache)
                    self._swap(_start(ruleset, _compile(ruleset, loaded, self.cache, source.yaml), record.version))
                except Exception as exc:
                    log.exception("channel %r: version %d could not be activated", record.channel, record.version)
                    failed = failed or exc
        if failed is not None:
            raise failed
        return bool(records)

    def close(self) -> None:
        """Shut down the callouts of the versions still held (on server stop)."""
        with self._deploying:
            for held in (*self._previous.values(), *self._active.values()):
                held.close()
            self._previous, self._active = {}, {}

    def _swap(self, new: ActiveVersion) -> None:
        """Activate `new` for its channel; the channel's version before the previous one has no calls left, so
        its callouts stop."""
        channel = new.compiled.ruleset.channel
        retired = self._previous.get(channel)
        if channel in self._active:
            self._previous = {**self._previous, channel: self._active[channel]}
        self._active = {**self._active, channel: new}
        if retired is not None:
            retired.close()


def active_of(served: dict[str, ActiveVersion], channel: str) -> ActiveVersion:
    """The active version of `channel` among `served` (by channel), or of the only channel served when `channel`
    is empty. NOT_FOUND for a channel not served (or nothing deployed), INVALID_ARGUMENT for an empty one among
    several."""
    if channel:
        active = served.get(channel)
        if active is None:
            raise NotFound(f"no ruleset serves channel {channel!r} ({_serving(served)})",
                           reason="UNKNOWN_CHANNEL", fields=[("channel", f"unknown; {_serving(served)}")])
        return active
    if len(served) == 1:
        return next(iter(served.values()))
    if not served:
        raise NotFound("no ruleset is deployed", reason="NO_RULESET")
    raise InvalidArgument(f"channel: name the channel ({_serving(served)})", reason="CHANNEL_REQUIRED",
                          fields=[("channel", f"is required: {_serving(served)}")])


def _serving(served: dict[str, ActiveVersion]) -> str:
    return f"serving {', '.join(map(repr, sorted(served)))}" if served else "no ruleset is deployed"


def read(source: Source, cache: CompiledCache | None = None) -> Source:
    """The source with its ruleset read (from `cache` when it knows the text), so that deploying it, or asking
    its channel, reads nothing again (a 10,000-rule file takes seconds to read); YAML that does not parse raises
    CompileError."""
    ruleset, loaded = _load(source, cache)
    return dataclasses.replace(source, ruleset=ruleset, loaded=loaded)


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
