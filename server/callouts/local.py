"""Runs an in-process plugin: inline on the caller's thread, or on its own small thread pool if it may block,
so that a caller can stop waiting at its timeout."""

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import MappingProxyType
from typing import Any

from segflow.server.callouts.plugin import CalloutPlugin


class PluginSource:
    """One initialized plugin instance; a `blocking` plugin sits behind a pool of `workers` threads.

    A pooled call that outlives its caller's timeout keeps its worker until the plugin returns; the registry's
    concurrency limit counts it until then, so stuck calls cannot pile up without bound.
    """

    def __init__(self, name: str, plugin: CalloutPlugin, config: Mapping[str, str], workers: int) -> None:
        self._plugin = plugin
        self._config = MappingProxyType(dict(config))
        self.inline = not plugin.blocking
        self._executor = None if self.inline else ThreadPoolExecutor(max_workers=workers,
                                                                     thread_name_prefix=f"callout-{name}")

    def get(self, args: tuple, *, audience: Any, session_id: str) -> Any:
        """Run `get_value` on this thread (an inline plugin) and return its value."""
        return self._plugin.get_value(audience, self._config, args)

    def submit(self, args: tuple, *, audience: Any, session_id: str, timeout: float) -> Future:
        """Start `get_value` on the pool; the timeout is enforced by the caller waiting on the future."""
        return self._executor.submit(self._plugin.get_value, audience, self._config, args)

    def close(self) -> None:
        """Drop queued calls, leave running ones to finish on their own, and shut the plugin down."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._plugin.shutdown()
