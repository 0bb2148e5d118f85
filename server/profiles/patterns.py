"""Whether an event pattern is met, read from the customer's counters: no per-pattern state to keep.

A rule `on: pattern:x` fires on the event (or the identification) that makes the pattern met: met right
after it, not met right before it. A rolling pattern that stops being met as its window slides fires nothing
then (no event happened, and rules run only on a session's events); the next event that makes it met again
fires it again. `PATTERN_MET('x')` and GetProfile always answer for the moment they are asked.
"""

from __future__ import annotations

from datetime import datetime

from segflow.v1 import ruleset_pb2

from segflow.rules.ruleset import CompiledPattern, CompiledRuleset
from segflow.server.profiles.memory import DAYS, CustomerMemory, span


def pattern_met(pattern: CompiledPattern, memory: CustomerMemory, now: datetime) -> bool:
    """Met over the pattern's fixed days, or over its rolling window ending `now`."""
    if pattern.window_seconds is not None:
        tier, first, last = span(pattern.window_seconds, now)
    else:
        tier, first, last = DAYS, pattern.first_day, pattern.last_day
    count = memory.event_count
    if pattern.kind == ruleset_pb2.PATTERN_KIND_ALL_OF:
        return all(count(event, tier, first, last) for event in pattern.weights)
    if pattern.kind == ruleset_pb2.PATTERN_KIND_COUNTER:
        return sum(count(event, tier, first, last) for event in pattern.weights) >= pattern.target
    return sum(weight * count(event, tier, first, last) for event, weight in pattern.weights.items()) >= pattern.target


def watched(compiled: CompiledRuleset, event: str, depth: int) -> tuple[CompiledPattern, ...]:
    """The patterns counting `event` (processed at chain `depth`) that must be checked before and after it:
    those whose becoming met fires something, and at the trigger depth limit all of them, each met there
    being reported as cut (server.runtime.events). A ruleset whose patterns nothing listens to checks none."""
    if depth >= compiled.max_trigger_depth:
        return compiled.patterns_by_event.get(event, ())
    return compiled.fired_patterns_by_event.get(event, ())


def met_patterns(compiled: CompiledRuleset, memory: CustomerMemory, now: datetime) -> set[str]:
    """The names of the ruleset's patterns that `memory` meets at `now`."""
    return {name for name, pattern in compiled.patterns.items() if pattern_met(pattern, memory, now)}
