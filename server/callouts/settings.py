"""Reads the bounds of one callout (or profile source) from its definition, filling in the defaults for unset
fields."""

from dataclasses import dataclass
from typing import Any

from segflow.v1 import ruleset_pb2

from segflow.rules.values import from_value

DEFAULT_TIMEOUT = 0.2
# Unset cache_ttl means this; an explicit 0s turns the cache off.
DEFAULT_CACHE_TTL = 60.0
DEFAULT_MAX_CONCURRENCY = 16
DEFAULT_BREAKER_FAILURES = 5
DEFAULT_BREAKER_RESET = 30.0
CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class CalloutSettings:
    """The bounds of one callout, durations in seconds."""

    timeout: float
    default: Any
    cache_ttl: float
    max_concurrency: int
    breaker_failures: int
    breaker_reset: float

    @classmethod
    def from_definition(cls, definition: ruleset_pb2.CalloutDefinition, default: Any = None) -> "CalloutSettings":
        """Return the settings a definition asks for; assumes it passed validation. A definition without a
        `default` field (a ProfileSourceDefinition) uses `default`."""
        has_default = "default_value" in definition.DESCRIPTOR.fields_by_name
        return cls(
            timeout=_seconds(definition, "timeout", DEFAULT_TIMEOUT),
            default=from_value(definition.default_value) if has_default else default,
            cache_ttl=_seconds(definition, "cache_ttl", DEFAULT_CACHE_TTL),
            max_concurrency=definition.max_concurrency or DEFAULT_MAX_CONCURRENCY,
            breaker_failures=definition.breaker_failures or DEFAULT_BREAKER_FAILURES,
            breaker_reset=_seconds(definition, "breaker_reset", DEFAULT_BREAKER_RESET),
        )


def _seconds(definition: ruleset_pb2.CalloutDefinition, field: str, default: float) -> float:
    if not definition.HasField(field):
        return default
    return getattr(definition, field).ToNanoseconds() / 1e9
