"""EXTERNALCALLOUT: values from in-process plugins or remote CalloutServices, bounded, cached and counted."""

from segflow.server.callouts.bounded import Outcome
from segflow.server.callouts.plugin import ENTRY_POINT_GROUP, CalloutPlugin, InstalledPlugins, PluginError
from segflow.server.callouts.registry import CalloutRegistry, InvalidCallouts
from segflow.server.callouts.validation import Problem, validate_definitions

__all__ = [
    "ENTRY_POINT_GROUP",
    "CalloutPlugin",
    "CalloutRegistry",
    "InstalledPlugins",
    "InvalidCallouts",
    "Outcome",
    "PluginError",
    "Problem",
    "validate_definitions",
]
