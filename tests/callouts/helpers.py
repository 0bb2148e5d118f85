"""Test helpers for callouts: definitions in one call, a controllable plugin, a fake clock."""

import threading
from datetime import timedelta
from typing import Any

from google.protobuf import duration_pb2

from segflow.v1 import ruleset_pb2

from server.callouts import CalloutPlugin
from server.values import to_value


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromTimedelta(timedelta(seconds=seconds))
    return duration


def definition(
    name: str,
    *,
    plugin: str | None = None,
    target: str | None = None,
    arity: int = 1,
    default: Any = None,
    parameters: dict[str, str] | None = None,
    max_concurrency: int = 0,
    breaker_failures: int = 0,
    **durations: float,
) -> ruleset_pb2.CalloutDefinition:
    """A CalloutDefinition; `durations` are timeout, cache_ttl and breaker_reset in seconds."""
    result = ruleset_pb2.CalloutDefinition(
        name=name,
        arity=arity,
        parameters=parameters or {},
        max_concurrency=max_concurrency,
        breaker_failures=breaker_failures,
        **{field: _duration(seconds) for field, seconds in durations.items()},
    )
    if plugin is not None:
        result.plugin = plugin
    if target is not None:
        result.target = target
    if default is not None:
        result.default_value.CopyFrom(to_value(default))
    return result


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Control:
    """Steers and observes the plugin class made by `controlled_plugin`."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False
        self.config: dict[str, str] | None = None
        self.shutdowns = 0
        self.audiences: list[Any] = []
        self.release = threading.Event()  # get_value blocks until this is set
        self.release.set()
        self.entered = threading.Semaphore(0)  # released once per get_value started
        self._lock = threading.Lock()

    def record(self, audience: Any) -> None:
        with self._lock:
            self.calls += 1
            self.audiences.append(audience)
        self.entered.release()


def controlled_plugin(control: Control, arity: int = 1) -> type[CalloutPlugin]:
    """A plugin class returning 'value:<first arg>', blocking and failing as `control` says."""

    class Controlled(CalloutPlugin):
        def initialize(self, config):
            control.config = dict(config)

        def shutdown(self):
            control.shutdowns += 1

        def get_value(self, audience, config, args):
            control.record(audience)
            control.release.wait(10)
            if control.fail:
                raise RuntimeError("plugin failure")
            return f"value:{args[0] if args else ''}"

    Controlled.arity = arity
    return Controlled
