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
    counts = {event: memory.event_count(event, tier, first, last) for event in pattern.weights}
    if pattern.kind == ruleset_pb2.PATTERN_KIND_ALL_OF:
        return all(counts.values())
    if pattern.kind == ruleset_pb2.PATTERN_KIND_COUNTER:
        return sum(counts.values()) >= pattern.target
    return sum(pattern.weights[event] * n for event, n in counts.items()) >= pattern.target


def met_patterns(compiled: CompiledRuleset, memory: CustomerMemory, now: datetime) -> set[str]:
    """The names of the ruleset's patterns that `memory` meets at `now`."""
    return {name for name, pattern in compiled.patterns.items() if pattern_met(pattern, memory, now)}
