"""Rules indexed by the events they listen to, so an event runs only its own rules.

Looking up an event is one dict lookup returning a prebuilt tuple: its cost does not grow with the number of
rules listening to other events (measured in benchmarks/bench_engine.py).
"""

from __future__ import annotations

from typing import Generic, Iterable, TypeVar

T = TypeVar("T")


class RuleIndex(Generic[T]):
    """Maps event name -> tuple of (rule_id, payload) in the order the rules were given.

    Build it from (rule_id, event_names, payload) triples; the payload is typically the rule's compiled
    condition (an Evaluator) or the rule object itself. A rule listening to an event twice appears once.
    """

    def __init__(self, rules: Iterable[tuple[str, Iterable[str], T]]):
        by_event: dict[str, list[tuple[str, T]]] = {}
        count = 0
        for rule_id, event_names, payload in rules:
            count += 1
            for name in dict.fromkeys(event_names):
                by_event.setdefault(name, []).append((rule_id, payload))
        self._by_event = {name: tuple(entries) for name, entries in by_event.items()}
        self._count = count

    def for_event(self, name: str) -> tuple[tuple[str, T], ...]:
        """The (rule_id, payload) pairs listening to `name`; () for an event no rule listens to."""
        return self._by_event.get(name, ())

    @property
    def events(self) -> frozenset[str]:
        """Every event name some rule listens to."""
        return frozenset(self._by_event)

    def __len__(self) -> int:
        return self._count
