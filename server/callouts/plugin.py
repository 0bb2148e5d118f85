"""The interface an in-process EXTERNALCALLOUT plugin implements, and how installed plugins are found.

A plugin is a class registered in the `segflow.callouts` entry-point group, e.g. in its pyproject.toml:

    [project.entry-points."segflow.callouts"]
    propensity = "segflow.server.callouts.examples:PropensityPlugin"

The registry makes one instance per callout definition that names it, calls `initialize` with the
definition's parameters, calls `get_value` and calls `shutdown` on close. A plugin that computes (a model, a
table lookup) runs inline on the calling thread: no hand-off, no wait. One that may block (I/O, a lock, a
network client) sets `blocking = True` and runs on a small worker pool of its own, so a call that outlives
the callout's timeout is abandoned and the default is used. An inline call cannot be abandoned: one that
overran its timeout is counted a timeout, its value discarded for the default, and repeated overruns open the
breaker like any failure.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

ENTRY_POINT_GROUP = "segflow.callouts"


class PluginError(Exception):
    """A plugin could not be loaded, or its class does not honour the CalloutPlugin interface."""


class CalloutPlugin(ABC):
    """Base class of in-process callouts: a value computed from an audience and some arguments.

    Subclasses set the class attribute `arity` (how many arguments EXTERNALCALLOUT passes), `blocking = True`
    if `get_value` may wait on anything but the CPU, and implement `get_value`. Values returned must be None, str, int, float, bool, an aware datetime, or a list of them.
    Results are cached by (callout name, arguments): a value must depend on the arguments only, so pass
    the customer id as an argument rather than reading it from the audience.
    """

    arity: ClassVar[int]
    blocking: ClassVar[bool] = False  # True: run get_value on a worker pool, where a timeout can abandon it

    def initialize(self, config: Mapping[str, str]) -> None:
        """Prepare the plugin with its ruleset parameters; raise ValueError for bad ones."""

    def shutdown(self) -> None:
        """Release what `initialize` acquired; called once when the ruleset is replaced or the server stops."""

    @abstractmethod
    def get_value(self, audience: Any, config: Mapping[str, str], args: tuple) -> Any:
        """Return the callout's value for `args` (a tuple of `arity` Python values, any of them None)."""


def check_plugin_class(cls: object) -> int:
    """Return the arity of a plugin class, or raise PluginError if it is not a usable CalloutPlugin."""
    if not (isinstance(cls, type) and issubclass(cls, CalloutPlugin)):
        raise PluginError(f"{cls!r} is not a subclass of CalloutPlugin")
    arity = getattr(cls, "arity", None)
    if type(arity) is not int or arity < 0:
        raise PluginError(f"{cls.__name__}.arity must be a non-negative int, not {arity!r}")
    if type(cls.blocking) is not bool:
        raise PluginError(f"{cls.__name__}.blocking must be True or False, not {cls.blocking!r}")
    return arity


class InstalledPlugins(Mapping[str, type[CalloutPlugin]]):
    """The plugins of the `segflow.callouts` entry-point group, by name; a class is imported on first use."""

    def __init__(self) -> None:
        self._entry_points: dict[str, EntryPoint] = {
            ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)
        }

    def __getitem__(self, name: str) -> type[CalloutPlugin]:
        entry_point = self._entry_points[name]
        try:
            cls = entry_point.load()
        except Exception as exc:
            raise PluginError(f"cannot load {entry_point.value}: {exc}") from exc
        check_plugin_class(cls)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._entry_points)

    def __len__(self) -> int:
        return len(self._entry_points)
