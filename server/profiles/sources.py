"""Profile sources: a team's own customer data, asked for profile attributes when a session is identified.

A source is an in-process plugin (a `ProfilePlugin` registered in the `segflow.profiles` entry-point group)
or a remote `segflow.v1.ProfileService`, one per audience level. Each is bounded exactly like a callout
(`callouts.bounded.BoundedCallout`): a timeout capped by the caller's deadline, a result cache by customer,
single flight, a concurrency limit and a breaker; on any failure nothing is filled (the stored profile and
the defaults apply) and the response carries an advisory. A slow source holds only the session it loads.

    [project.entry-points."segflow.profiles"]
    crm = "my_package.crm:CrmProfiles"
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

import grpc
from segflow.v1 import profile_service_pb2, profile_service_pb2_grpc, ruleset_pb2

from segflow.rules.values import from_value
from segflow.server.callouts.bounded import BoundedCallout, Outcome
from segflow.server.callouts.remote import audience_proto
from segflow.server.callouts.settings import CalloutSettings
from segflow.server.callouts.validation import Problem, bound_problems, is_target, tls_problems
from segflow.server.security.tls import ClientTLS, open_channel

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "segflow.profiles"
_NOTHING: Mapping[str, Any] = MappingProxyType({})
DEGRADED = frozenset({Outcome.TIMEOUT, Outcome.ERROR, Outcome.BREAKER_OPEN, Outcome.REJECTED})


class ProfilePlugin(ABC):
    """Base class of in-process profile sources."""

    def initialize(self, config: Mapping[str, str]) -> None:
        """Prepare the plugin with its ruleset parameters; raise ValueError for bad ones."""

    def shutdown(self) -> None:
        """Release what `initialize` acquired; called when the ruleset is replaced or the server stops."""

    @abstractmethod
    def load(self, audience_level: str, ids: Mapping[str, Any], attributes: tuple[str, ...]) -> Mapping[str, Any]:
        """The values known for a customer of some of `attributes` (Python values; missing names are unknown)."""


class InstalledPlugins(Mapping[str, type]):
    """The plugin classes of the `segflow.profiles` entry-point group, by name; imported on first use."""

    def __init__(self) -> None:
        self._entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}

    def __getitem__(self, name: str) -> type:
        cls = self._entry_points[name].load()
        if not (isinstance(cls, type) and issubclass(cls, ProfilePlugin)):
            raise TypeError(f"profile plugin {name!r} is not a ProfilePlugin: {cls!r}")
        return cls

    def __iter__(self):
        return iter(self._entry_points)

    def __len__(self) -> int:
        return len(self._entry_points)


class _PluginSource:
    """A plugin behind its own small pool, so the caller can stop waiting at the timeout (profile plugins
    usually do I/O, so they never run inline)."""

    inline = False

    def __init__(self, plugin: ProfilePlugin, attributes: tuple[str, ...], workers: int) -> None:
        self._plugin = plugin
        self._attributes = attributes
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="profile-source")

    def submit(self, args: tuple, *, audience: Any, session_id: str, timeout: float) -> Future:
        level, ids = audience.audience_level, dict(audience.audience_ids)  # the session goes on changing
        return self._executor.submit(self._plugin.load, level, ids, self._attributes)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._plugin.shutdown()


class _RemoteSource:
    """A remote ProfileService; the call's deadline is the caller's timeout."""

    inline = False

    def __init__(self, target: str, attributes: tuple[str, ...], parameters: Mapping[str, str],
                 tls: ClientTLS | None = None) -> None:
        self._channel = open_channel(target, tls)
        self._stub = profile_service_pb2_grpc.ProfileServiceStub(self._channel)
        self._attributes = attributes
        self._parameters = dict(parameters)

    def submit(self, args: tuple, *, audience: Any, session_id: str, timeout: float) -> Future:
        request = profile_service_pb2.LoadProfileRequest(
            audience=audience_proto(audience), customer_id=args[1], attributes=self._attributes,
            parameters=self._parameters)
        result: Future = Future()
        result.set_running_or_notify_cancel()
        call = self._stub.LoadProfile.future(request, timeout=timeout)
        call.add_done_callback(lambda done: _settle(result, done))
        return result

    def close(self) -> None:
        self._channel.close()


def _settle(result: Future, call: grpc.Future) -> None:
    try:
        response = call.result()
        result.set_result({name: from_value(value) for name, value in response.attributes.items()})
    except grpc.RpcError as exc:
        timed_out = exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        result.set_exception(TimeoutError("profile source deadline exceeded") if timed_out else exc)
    except Exception as exc:  # a value that does not convert, a channel closing
        result.set_exception(exc)


class ProfileSources:
    """The profile sources of one deployed ruleset, by audience level."""

    def __init__(self, sources: Mapping[str, BoundedCallout]) -> None:
        self._sources = dict(sources)

    @classmethod
    def from_ruleset(cls, ruleset: ruleset_pb2.Ruleset, profile_attributes: tuple[str, ...], *,
                     plugins: Mapping[str, Any] | None = None,
                     clock: Callable[[], float] = time.monotonic) -> ProfileSources | None:
        """Start the ruleset's sources (None when it has none); assumes `validate_sources` passed."""
        if not ruleset.profile_sources:
            return None
        plugins = InstalledPlugins() if plugins is None else plugins
        sources: dict[str, BoundedCallout] = {}
        try:
            for definition in ruleset.profile_sources:
                settings = CalloutSettings.from_definition(definition, default=_NOTHING)
                if definition.WhichOneof("source") == "target":
                    source = _RemoteSource(definition.target, profile_attributes, definition.parameters,
                                           ClientTLS.of(definition))
                else:
                    plugin = plugins[definition.plugin]()
                    plugin.initialize(definition.parameters)
                    source = _PluginSource(plugin, profile_attributes, settings.max_concurrency)
                name = f"profile:{definition.audience_level}"
                sources[definition.audience_level] = BoundedCallout(name, source, settings, clock=clock)
        except BaseException:
            cls(sources).close()
            raise
        return cls(sources)

    def load(self, session: Any, deadline: float | None,
             advise: Callable[[str, str], None]) -> Mapping[str, Any]:
        """The source's attributes for the session's customer; nothing when there is no source for its
        level or the source failed (then with an advisory)."""
        source = self._sources.get(session.audience_level)
        if source is None:
            return _NOTHING
        value, outcome = source.call((session.audience_level, session.customer_id), audience=session,
                                     session_id=session.session_id, deadline=deadline)
        if outcome in DEGRADED:
            advise(f"profile_source_{outcome}", f"the profile source of {session.audience_level} gave nothing: "
                                                f"{outcome}; the stored profile and defaults apply")
            return _NOTHING
        if not isinstance(value, Mapping):
            advise("profile_source_error", "the profile source returned no mapping of attributes")
            return _NOTHING
        return value

    def close(self) -> None:
        for level, source in self._sources.items():
            try:
                source.close()
            except Exception:  # one source's failing shutdown must not keep the others running
                log.exception("profile source of %s: shutdown failed", level)


def validate_sources(definitions: Iterable[ruleset_pb2.ProfileSourceDefinition],
                     levels: Mapping[str, Iterable[str]], plugins: Mapping[str, Any] | None = None) -> list[Problem]:
    """Every problem of the profile source definitions, at its path."""
    plugins = InstalledPlugins() if plugins is None else plugins
    problems, seen = [], set()
    for i, definition in enumerate(definitions):
        path = f"profile_sources[{i}]"
        level = definition.audience_level
        if level not in levels:
            problems.append(Problem(f"{path}.audience_level", f"unknown audience level {level!r}"))
        elif not list(levels[level]):
            problems.append(Problem(f"{path}.audience_level", f"{level} has no id fields: it has no profiles"))
        if level in seen:
            problems.append(Problem(f"{path}.audience_level", f"{level} has two profile sources"))
        seen.add(level)
        source = definition.WhichOneof("source")
        if source is None:
            problems.append(Problem(path, "a profile source needs either a plugin or a target"))
        elif source == "target" and not is_target(definition.target):
            problems.append(Problem(f"{path}.target", f"target {definition.target!r} is not host:port"))
        elif source == "target":
            problems.extend(tls_problems(path, definition))
        elif source == "plugin" and definition.plugin not in plugins:
            installed = ", ".join(sorted(plugins)) or "none"
            problems.append(Problem(f"{path}.plugin", f"unknown profile plugin {definition.plugin!r}; "
                                                      f"installed: {installed}"))
        problems.extend(bound_problems(path, definition))
    return problems
