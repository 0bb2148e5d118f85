"""EXTERNALCALLOUT: values from in-process plugins or remote CalloutServices, bounded, cached and counted."""

from server.callouts.bounded import Outcome
from server.callouts.plugin import ENTRY_POINT_GROUP, CalloutPlugin, InstalledPlugins, PluginError
from server.callouts.registry import CalloutRegistry, InvalidCallouts
from server.callouts.validation import Problem, validate_definitions

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
