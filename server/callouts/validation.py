"""Checks a ruleset's callout definitions so that the ruleset validator can report each problem at its path."""

import difflib
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from segflow.v1 import ruleset_pb2

from segflow.server.security.tls import ClientTLS

from segflow.server.callouts.plugin import CalloutPlugin, InstalledPlugins, PluginError, check_plugin_class

# A callout holds up the evaluation that needs it; longer than this is a mistake, not a setting.
MAX_TIMEOUT = 60.0
_URI_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:")


class Problem(NamedTuple):
    """One problem: where it is (e.g. `callouts[2].plugin`) and what is wrong, for the rule author."""

    path: str
    message: str


def validate_definitions(
    defs: Iterable[ruleset_pb2.CalloutDefinition],
    plugins: Mapping[str, type[CalloutPlugin]] | None = None,
) -> list[Problem]:
    """Return every problem of the definitions, in order; an empty list means they are usable.

    `plugins` maps plugin names to classes; by default the installed `segflow.callouts` entry points.
    """
    if plugins is None:
        plugins = InstalledPlugins()
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, definition in enumerate(defs):
        path = f"callouts[{index}]"
        if not definition.name:
            problems.append(Problem(f"{path}.name", "a callout needs a name"))
        elif definition.name in seen:
            problems.append(Problem(f"{path}.name", f"callout {definition.name!r} is defined twice"))
        seen.add(definition.name)
        if definition.arity < 0:
            problems.append(Problem(f"{path}.arity", f"arity must not be negative, got {definition.arity}"))
        problems.extend(_source_problems(path, definition, plugins))
        problems.extend(bound_problems(path, definition))
    return problems


def _source_problems(
    path: str, definition: ruleset_pb2.CalloutDefinition, plugins: Mapping[str, type[CalloutPlugin]]
) -> list[Problem]:
    source = definition.WhichOneof("source")
    if source is None:
        return [Problem(path, "a callout needs either a plugin or a target")]
    if source == "target":
        if not is_target(definition.target):
            return [Problem(f"{path}.target", f"target {definition.target!r} is not host:port")]
        return tls_problems(path, definition)
    name = definition.plugin
    if name not in plugins:
        close = difflib.get_close_matches(name, list(plugins), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; installed: {', '.join(sorted(plugins)) or 'none'}"
        return [Problem(f"{path}.plugin", f"unknown plugin {name!r}{hint}")]
    try:
        arity = check_plugin_class(plugins[name])
    except PluginError as exc:
        return [Problem(f"{path}.plugin", f"plugin {name!r} is unusable: {exc}")]
    if arity != definition.arity:
        return [
            Problem(
                f"{path}.arity",
                f"callout {definition.name!r} declares {definition.arity} arguments "
                f"but plugin {name!r} takes {arity}",
            )
        ]
    return []


def tls_problems(path: str, definition) -> list[Problem]:
    """A remote target's TLS files that cannot be read, or a certificate without its key."""
    tls = ClientTLS.of(definition)
    return [] if tls is None else [Problem(f"{path}.tls.{field}", problem) for field, problem in tls.problems()]


def is_target(target: str) -> bool:
    if not target or any(c.isspace() for c in target):
        return False
    if target.startswith(_URI_SCHEMES):
        return True
    host, sep, port = target.rpartition(":")
    return bool(host and sep and port.isdigit() and 0 < int(port) < 65536)


def bound_problems(path: str, definition) -> list[Problem]:
    """Problems of the bounds (timeout, cache_ttl, breaker, concurrency) of a callout or a profile source."""
    problems = []
    if definition.HasField("timeout"):
        timeout = definition.timeout.ToNanoseconds() / 1e9
        if not 0 < timeout <= MAX_TIMEOUT:
            problems.append(
                Problem(f"{path}.timeout", f"timeout must be above 0s and at most {MAX_TIMEOUT:g}s, got {timeout:g}s")
            )
    if definition.HasField("cache_ttl") and definition.cache_ttl.ToNanoseconds() < 0:
        problems.append(Problem(f"{path}.cache_ttl", "cache_ttl must not be negative (0s turns the cache off)"))
    if definition.HasField("breaker_reset") and definition.breaker_reset.ToNanoseconds() <= 0:
        problems.append(Problem(f"{path}.breaker_reset", "breaker_reset must be above 0s"))
    for field in ("max_concurrency", "breaker_failures"):
        if getattr(definition, field) < 0:
            problems.append(Problem(f"{path}.{field}", f"{field} must not be negative (0 means the default)"))
    return problems
