"""The callouts of one deployed ruleset, by name: what EXTERNALCALLOUT in compiled expressions calls."""

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from segflow.v1 import ruleset_pb2

from segflow.server import calls
from segflow.server.callouts.bounded import BoundedCallout, Outcome, Source
from segflow.server.callouts.local import PluginSource
from segflow.server.callouts.plugin import CalloutPlugin, InstalledPlugins
from segflow.server.callouts.remote import Channels, RemoteSource
from segflow.server.callouts.settings import CalloutSettings
from segflow.server.callouts.validation import Problem, validate_definitions
from segflow.server.observability.tracing import callout_span
from segflow.server.security.tls import ClientTLS

logger = logging.getLogger(__name__)


class InvalidCallouts(ValueError):
    """The callout definitions have problems; `problems` lists each at its path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


class CalloutRegistry:
    """Named, bounded callouts; build with `from_definitions`, call from any thread, `close` when replaced."""

    def __init__(self, callouts: Mapping[str, BoundedCallout], arities: Mapping[str, int], channels: Channels):
        self._callouts = dict(callouts)
        self._arities = dict(arities)
        self._channels = channels

    @classmethod
    def from_definitions(
        cls,
        defs: Iterable[ruleset_pb2.CalloutDefinition],
        *,
        clock: Callable[[], float] = time.monotonic,
        plugins: Mapping[str, type[CalloutPlugin]] | None = None,
    ) -> "CalloutRegistry":
        """Build the registry: initialize plugins, open channels.

        `plugins` maps plugin names to classes (default: the installed `segflow.callouts` entry points).
        `clock` drives cache expiry and the breaker; deadlines passed to `call` use time.monotonic().
        Raises InvalidCallouts if validate_definitions finds problems, or what a plugin's initialize raises.
        """
        defs = list(defs)
        if plugins is None:
            plugins = InstalledPlugins()
        problems = validate_definitions(defs, plugins)
        if problems:
            raise InvalidCallouts(problems)
        registry = cls({}, {}, Channels())
        try:
            for definition in defs:
                settings = CalloutSettings.from_definition(definition)
                source = _source(definition, settings, plugins, registry._channels)
                registry._callouts[definition.name] = BoundedCallout(definition.name, source, settings, clock=clock)
                registry._arities[definition.name] = definition.arity
        except BaseException:
            registry.close()
            raise
        return registry

    def arities(self) -> dict[str, int]:
        """Return {callout name: number of arguments}, for the compiler's arity checks."""
        return dict(self._arities)

    def call(
        self, name: str, args: tuple, *, audience: Any = None, session_id: str = "", deadline: float | None = None
    ) -> Any:
        """Return the callout's value for `args`, or its default on timeout, error, open breaker or rejection.

        `deadline` is an absolute time.monotonic() (e.g. now + the gRPC context's time_remaining()); the wait
        never exceeds the callout's timeout or the deadline. Raises KeyError for an unknown name and
        TypeError for a wrong number of arguments (both are caught by the compiler before this).
        """
        return self.call_with_outcome(name, args, audience=audience, session_id=session_id, deadline=deadline)[0]

    def call_with_outcome(
        self, name: str, args: tuple, *, audience: Any = None, session_id: str = "", deadline: float | None = None
    ) -> tuple[Any, Outcome]:
        """Like `call`, and also return the Outcome (a str enum: 'hit', 'miss', 'timeout'...) for traces."""
        callout = self._callouts[name]
        if len(args) != self._arities[name]:
            raise TypeError(f"callout {name!r} takes {self._arities[name]} argument(s), got {len(args)}")
        call = calls.current()
        if call is None or call.tracer is None:  # the common case: no span, no closure
            return callout.call(args, audience=audience, session_id=session_id, deadline=deadline)
        return callout_span(call.tracer, name, callout.remote, session_id,
                            lambda: callout.call(args, audience=audience, session_id=session_id, deadline=deadline))

    def stats(self) -> dict[str, dict[str, int]]:
        """Return {callout name: {outcome: count}} with every outcome present."""
        return {name: callout.stats() for name, callout in self._callouts.items()}

    def breaker_states(self) -> dict[str, str]:
        """Return {callout name: 'closed' | 'open' | 'half_open'}, for health and advisories."""
        return {name: callout.breaker.state for name, callout in self._callouts.items()}

    def close(self) -> None:
        """Shut every plugin down and close every channel; the registry must not be called afterwards."""
        for name, callout in self._callouts.items():
            try:
                callout.close()
            except Exception:  # one plugin's failing shutdown must not keep the others running
                logger.exception("callout %s: shutdown failed", name)
        self._channels.close()

    def __enter__(self) -> "CalloutRegistry":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _source(
    definition: ruleset_pb2.CalloutDefinition,
    settings: CalloutSettings,
    plugins: Mapping[str, type[CalloutPlugin]],
    channels: Channels,
) -> Source:
    if definition.WhichOneof("source") == "target":
        return RemoteSource(definition.name, channels.stub(definition.target, settings.breaker_reset,
                                                           ClientTLS.of(definition)),
                            definition.parameters)
    plugin = plugins[definition.plugin]()
    plugin.initialize(definition.parameters)
    return PluginSource(definition.name, plugin, definition.parameters, settings.max_concurrency)
