"""What the engine asks of customer memory: start a visit's memory, recall the customer's at identification,
drop what an erasure took away from a live session, and hand back the delta to write once a call committed.

Precedence of a profile attribute at identification: the value this visit set (an anonymous visit's changes,
or the request's own parameters) wins; then the profile source's value; then the value segflow stored; then
the attribute's default. An anonymous visit's counters and contacts are added to the customer's. A session
that switches from one customer to another starts from the new customer's memory (the previous customer's
changes were written after the calls that made them).

Erasure of a customer with a live session (ForgetCustomer): at the session's next call on a process that
knows of the erasure, the memory it loaded is dropped (profile attributes back to their defaults, no
counters, no offer memory), and what the visit does from then on is remembered as a new profile. Until then
the session may still decide with what it loaded, but never writes it back (`store`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from segflow.rules.ruleset import CompiledRuleset
from segflow.rules.schema import type_problem
from segflow.server.history.writer import HistoryError
from segflow.server.profiles.memory import CustomerMemory
from segflow.server.profiles.patterns import met_patterns
from segflow.server.profiles.sources import ProfileSources
from segflow.server.profiles.store import ProfileDelta, ProfileStore, StoredProfile, profile_delta
from segflow.server.sessions.state import SessionState

log = logging.getLogger(__name__)


def memory_of(compiled: CompiledRuleset, session: SessionState) -> CustomerMemory | None:
    """The session's memory, started (from the session's current values) when the ruleset remembers."""
    memory = session.memory
    if memory is None and compiled.remembers:
        memory = session.memory = CustomerMemory.live(
            attributes={name: session.attributes.get(name) for name in compiled.profile_attributes})
    return memory


class Recall:
    """Customer memory for one engine; without a store (simulations), memory lives in the session only."""

    def __init__(self, store: ProfileStore | None):
        self.store = store

    def current(self, compiled: CompiledRuleset, session: SessionState) -> CustomerMemory | None:
        """The session's memory at the start of a call: the one it loaded, unless the customer was erased
        since (then a new, empty one)."""
        memory = memory_of(compiled, session)
        store = self.store
        if memory is None or not memory.customer_id or store is None:
            return memory
        generation = store.generation(memory.audience_level, memory.customer_id)
        if generation == memory.generation:
            return memory
        for name in compiled.profile_attributes:
            session.attributes[name] = compiled.defaults.get(name)
        session.memory = CustomerMemory.live(
            memory.audience_level, memory.customer_id,
            {name: session.attributes[name] for name in compiled.profile_attributes}, generation)
        log.info("session %s: customer %s was erased; the memory it had loaded is dropped", session.session_id,
                 memory.customer_id)
        return session.memory

    def identify(self, compiled: CompiledRuleset, sources: ProfileSources | None, session: SessionState,
                 now: datetime, deadline: float | None, advise: Callable[[str, str], None]) -> list[str] | None:
        """Recall the customer the session now belongs to; returns the patterns that became met by it (the
        customer's memory with the visit's counts meets them, neither alone did), or None (nothing done)
        while anonymous or when the customer's memory is already the session's."""
        memory = memory_of(compiled, session)
        if memory is None:
            return None
        names = compiled.profile_attributes
        memory.sync(session.attributes, names, now)
        level, customer = session.audience_level, session.customer_id
        if not customer or (memory.audience_level, memory.customer_id) == (level, customer):
            return None
        stored = self.store.load(level, customer) if self.store is not None else None
        generation = self.store.generation(level, customer) if self.store is not None else 0
        profile = recalled(compiled, level, customer, stored, generation)
        visit = memory.unsaved if not memory.customer_id and memory.unsaved is not None else None
        before = met_patterns(compiled, profile, now) | (met_patterns(compiled, memory, now) if visit else set())
        sourced = sources.load(session, deadline, advise) if sources is not None else {}
        values = {}
        for name, value in sourced.items():
            attribute = compiled.schema.attributes.get(name)
            if name not in names or attribute is None or type_problem(value, attribute.type):
                advise("profile_source_value", f"the profile source's {name!r} is not a profile attribute of "
                                               f"that type: ignored")
                continue
            if visit is None or name not in visit.attributes:  # what the visit set wins over the source
                values[name] = float(value) if attribute.type == "double" and value is not None else value
        profile.sync(values, values, now)
        if visit is not None:
            profile.merge(visit)
            profile.unsaved.merge(visit)
        for name in names:
            session.attributes[name] = profile.attributes.setdefault(name, compiled.defaults.get(name))
        session.memory = profile
        after = met_patterns(compiled, profile, now)
        return [name for name in compiled.patterns if name in after and name not in before]

    def commit(self, compiled: CompiledRuleset, session: SessionState, now: datetime) -> ProfileDelta | None:
        """Take the call's changes into the memory; the delta to write when an identified customer's changed.

        Called last while the session is held; the delta is saved only after the call has committed."""
        memory = session.memory
        if memory is None:
            return None
        memory.sync(session.attributes, compiled.profile_attributes, now)
        if not memory.customer_id or self.store is None:
            return None  # an anonymous visit's changes wait for its identification
        delta = memory.take_unsaved()
        return None if delta is None else profile_delta(delta, now)

    def save(self, delta: ProfileDelta | None) -> None:
        """Queue a committed call's delta. The call has committed: a refusal (the queue filled up since the
        call was admitted, or the server is stopping) is logged, not raised; that change is not remembered."""
        if delta is None or self.store is None:
            return
        try:
            self.store.save(delta)
        except HistoryError as exc:
            log.error("profile of %s not queued for writing: %s", delta.customer_id, exc)


def recalled(compiled: CompiledRuleset, level: str, customer: str, stored: StoredProfile | None,
             generation: int = 0) -> CustomerMemory:
    """The customer's memory as stored (typed by the ruleset's declarations), or a new one, live."""
    if stored is None:
        return CustomerMemory.live(level, customer, generation=generation)
    declared = compiled.schema.attributes
    memory = stored.memory
    attributes: dict[str, Any] = {}
    for name, value in memory.attributes.items():
        attribute = declared.get(name)
        if name not in compiled.profile_attributes or attribute is None:
            continue  # no longer a profile attribute of this ruleset: left out of the session, kept stored
        if attribute.type == "timestamp" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif attribute.type == "double" and type(value) is int:
            value = float(value)
        if type_problem(value, attribute.type) is None:
            attributes[name] = value
    memory.attributes = attributes
    memory.unsaved = CustomerMemory.new_delta(level, customer, memory.generation)
    return memory
