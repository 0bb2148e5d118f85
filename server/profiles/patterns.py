"""Whether an event pattern is met, read from the customer's daily counters: no per-event state to keep."""

from __future__ import annotations

from segflow.v1 import ruleset_pb2

from segflow.rules.ruleset import CompiledPattern
from segflow.server.profiles.memory import CustomerMemory


def pattern_met(pattern: CompiledPattern, memory: CustomerMemory, today: int) -> bool:
    """Met over the pattern's fixed days, or over its rolling window ending `today` (a UTC day number)."""
    if pattern.window_days is not None:
        first, last = today - pattern.window_days + 1, today
    else:
        first, last = pattern.first_day, pattern.last_day
    counts = {event: memory.event_count(event, first, last) for event in pattern.weights}
    if pattern.kind == ruleset_pb2.PATTERN_KIND_ALL_OF:
        return all(counts.values())
    if pattern.kind == ruleset_pb2.PATTERN_KIND_COUNTER:
        return sum(counts.values()) >= pattern.target
    return sum(pattern.weights[event] * n for event, n in counts.items()) >= pattern.target
