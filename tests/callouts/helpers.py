"""Test helpers for callouts: definitions in one call, a controllable plugin, a fake clock."""

import select
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import duration_pb2

from segflow.v1 import ruleset_pb2

from segflow.server.callouts import CalloutPlugin
from segflow.rules.values import to_value


ROOT = Path(__file__).resolve().parents[2]


def example_server(*flags: str, module: str = "segflow.server.callouts.example_server") -> Iterator[str]:
    """Run an example server (the callouts', or another `module`) in its own process on a free port; yield its
    target once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *flags],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("listening on "), f"example server did not start: {line!r}"
        target = line.split()[-1]
        with grpc.insecure_channel(target) as channel:
            grpc.channel_ready_future(channel).result(timeout=20)
        yield target
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        self.threads: list[str] = []  # the thread each get_value ran on
        self.release = threading.Event()  # get_value blocks until this is set
        self.release.set()
        self.entered = threading.Semaphore(0)  # released once per get_value started
        self._lock = threading.Lock()

    def record(self, audience: Any) -> None:
        with self._lock:
            self.calls += 1
            self.audiences.append(audience)
        self.entered.release()


def controlled_plugin(control: Control, arity: int = 1, blocking: bool = True) -> type[CalloutPlugin]:
    """A plugin class returning 'value:<first arg>', blocking and failing as `control` says; it declares
    `blocking` (so it runs on its pool) unless told otherwise."""

    class Controlled(CalloutPlugin):
        def initialize(self, config):
            control.config = dict(config)

        def shutdown(self):
            control.shutdowns += 1

        def get_value(self, audience, config, args):
            control.threads.append(threading.current_thread().name)
            control.record(audience)
            control.release.wait(10)
            if control.fail:
                raise RuntimeError("plugin failure")
            return f"value:{args[0] if args else ''}"

    Controlled.arity = arity
    Controlled.blocking = blocking
    return Controlled
