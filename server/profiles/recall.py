"""What the engine asks of customer memory: start a visit's memory, recall the customer's at identification,
and hand back the profile to write once a call has committed.

Precedence of a profile attribute at identification: the value this visit set (an anonymous visit's changes,
or the request's own parameters) wins; then the profile source's value; then the value segflow stored; then
the attribute's default. An anonymous visit's counters, contacts and met patterns are added to the
customer's. A session that switches from one customer to another starts from the new customer's memory (the
previous customer's was written when it last changed).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from segflow.rules.ruleset import CompiledRuleset
from segflow.rules.schema import type_problem
from segflow.server.history.writer import HistoryError
from segflow.server.profiles.memory import CustomerMemory
from segflow.server.profiles.sources import ProfileSources
from segflow.server.profiles.store import ProfileRecord, ProfileStore, StoredProfile, profile_record
from segflow.server.sessions.state import SessionState

log = logging.getLogger(__name__)


def memory_of(compiled: CompiledRuleset, session: SessionState) -> CustomerMemory | None:
    """The session's memory, started (from the session's current values) when the ruleset remembers."""
    memory = session.memory
    if memory is None and compiled.remembers:
        memory = session.memory = CustomerMemory(
            attributes={name: session.attributes.get(name) for name in compiled.profile_attributes})
    return memory


class Recall:
    """Customer memory for one engine; without a store (simulations), memory lives in the session only."""

    def __init__(self, store: ProfileStore | None):
        self.store = store

    def identify(self, compiled: CompiledRuleset, sources: ProfileSources | None, session: SessionState,
                 deadline: float | None, advise: Callable[[str, str], None]) -> bool:
        """Recall the customer the session now belongs to; False (nothing done) while anonymous or when the
        customer's memory is already the session's."""
        memory = memory_of(compiled, session)
        if memory is None:
            return False
        names = compiled.profile_attributes
        memory.sync(session.attributes, names)
        level, customer = session.audience_level, session.customer_id
        if not customer or (memory.audience_level, memory.customer_id) == (level, customer):
            return False
        stored = self.store.load(level, customer) if self.store is not None else None
        profile = recalled(compiled, level, customer, stored)
        sourced = sources.load(session, deadline, advise) if sources is not None else {}
        for name, value in sourced.items():
            attribute = compiled.schema.attributes.get(name)
            if name not in names or attribute is None or type_problem(value, attribute.type):
                advise("profile_source_value", f"the profile source's {name!r} is not a profile attribute of "
                                               f"that type: ignored")
                continue
            profile.attributes[name] = float(value) if attribute.type == "double" and value is not None else value
        if not memory.customer_id:
            profile.merge_visit(memory)
        for name in names:
            session.attributes[name] = profile.attributes.get(name, compiled.defaults.get(name))
            profile.attributes[name] = session.attributes[name]
        session.memory = profile
        return True

    def commit(self, compiled: CompiledRuleset, session: SessionState, now: datetime) -> ProfileRecord | None:
        """Take the call's changes into the memory; the record to write when an identified customer's changed.

        Called last while the session is held; the record is saved only after the call has committed."""
        memory = session.memory
        if memory is None:
            return None
        memory.sync(session.attributes, compiled.profile_attributes)
        if not (memory.dirty and memory.customer_id and self.store is not None):
            return None
        memory.dirty = False
        return profile_record(memory.audience_level, memory.customer_id, memory.attributes, memory.document(), now)

    def save(self, record: ProfileRecord | None) -> None:
        """Queue a committed call's profile. The call has committed: a refusal (the queue filled up since the
        call was admitted, or the server is stopping) is logged, not raised; the next change of the customer
        writes the whole profile again."""
        if record is None or self.store is None:
            return
        try:
            self.store.save(record)
        except HistoryError as exc:
            log.error("profile of %s not queued for writing: %s", record.customer_id, exc)


def recalled(compiled: CompiledRuleset, level: str, customer: str, stored: StoredProfile | None) -> CustomerMemory:
    """The customer's memory as stored (typed by the ruleset's declarations), or a new one."""
    if stored is None:
        return CustomerMemory(level, customer)
    declared = compiled.schema.attributes
    attributes: dict[str, Any] = {}
    for name, value in stored.attributes.items():
        attribute = declared.get(name)
        if name not in compiled.profile_attributes or attribute is None:
            continue  # no longer a profile attribute of this ruleset: left out of the session, dropped on write
        if attribute.type == "timestamp" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif attribute.type == "double" and type(value) is int:
            value = float(value)
        if type_problem(value, attribute.type) is None:
            attributes[name] = value
    return CustomerMemory.stored(level, customer, attributes, stored.memory)
