"""Event processing: statistics first, then the rules listening to the event, their actions, and chains.

Order within one event: the event's statistics and sequence number are updated before any rule runs, so
conditions see the event itself; journey triggers run next; then each rule listening to the event, in
priority then file order, runs `then` when its condition is TRUE and `else` otherwise (NULL included).
Actions run in order and see the effects of the actions before them. A `trigger_events` action processes the
chained events at once, depth first; past the ruleset's depth limit a chain is cut and reported as an
advisory, so a cycle never hangs. The work of one call is bounded too, whatever the ruleset's shape (a cycle
that branches grows exponentially with depth): past MAX_EVENTS_PER_CALL events a chain is cut the same way,
and past MAX_ACTIONS_PER_CALL actions the remaining actions are skipped with an advisory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from segflow.v1 import action_pb2

from segflow.rules.ruleset import MASK, CompiledAction, CompiledRuleset
from segflow.rules.schema import EXACT_TYPES, type_problem
from segflow.server.history.records import DataRecord
from segflow.server.profiles.patterns import pattern_met, watched
from segflow.server.runtime import journeys, offers
from segflow.server.runtime.context import SessionContext
from segflow.server.runtime.decision import (ERRORED, EVALUATION_ERRORS, FIRED, Decision, failure, field, tag,
                                              value_field, varint)
from segflow.server.runtime.segmentation import resegment_action
from segflow.server.sessions.state import EventStat, JourneyStep

JourneysOf = Callable[[Any], dict[str, JourneyStep]]

# Bounds on one call: events processed (the posted one and those it chains) and actions fired.
MAX_EVENTS_PER_CALL = 256
MAX_ACTIONS_PER_CALL = 2_000


class EventProcessor:
    """Processes one posted event (and the events it chains) against one ruleset for one session."""

    def __init__(self, compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
                 journeys_of: JourneysOf):
        self.compiled = compiled
        self.ctx = ctx
        self.decision = decision
        self.journeys_of = journeys_of
        self.events = 1  # admitted in this call: the posted one and the chained ones, processed or to be
        self.over_budget = False  # the action limit was reached (and advised)

    def process(self, name: str, params: Mapping[str, Any], when: datetime, depth: int = 0,
                fire: bool = True) -> None:
        """Record the event in the session's statistics and, when `fire`, run what listens to it."""
        session = self.ctx.session
        session.event_sequence += 1
        stat = session.event_stats.get(name)
        if stat is None:
            stat = session.event_stats[name] = EventStat(first_time=when)
        stat.count += 1
        stat.last_time = when
        stat.last_data = dict(params)
        memory = session.memory
        became = ()
        if name in self.compiled.remembered_events and memory is not None:
            watching = watched(self.compiled, name, depth) if fire else ()
            now = self.decision.now
            before = [pattern_met(pattern, memory, now) for pattern in watching]
            memory.count(name, when, params)
            became = [p for p, met in zip(watching, before) if not met and pattern_met(p, memory, now)]
        if not fire:
            return
        self.rules(name, params, depth)
        if became:
            self.patterns(became, depth, (name, params))

    def rules(self, name: str, params: Mapping[str, Any], depth: int) -> None:
        """Run the journey triggers and rules listening to `name` (an event, or `pattern:<name>`)."""
        session = self.ctx.session
        self.ctx.on_event(name, params, session.event_sequence)
        decision = self.decision
        decision.event_name = name
        for journey, transition in self.compiled.journey_triggers.get(name, ()):
            decision.rule_id = f"journey:{journey}"
            journeys.advance(self.journeys_of(session), journey, transition, decision)
        values = session.attributes
        tracer = decision.tracer
        ctx = self.ctx
        fired = decision.encoded_actions
        for _, rule in self.compiled.rules_for(name):
            decision.rule_id = rule.id
            try:
                if tracer is None:
                    matched = rule.condition is None or rule.condition.test(values, ctx)
                else:
                    matched, condition = tracer.condition(rule.condition, values, ctx)
                    first = decision.fired
            except EVALUATION_ERRORS as exc:
                decision.advise("evaluation_error", f"the condition of rule {rule.id!r} failed, so the rule did "
                                                    f"nothing: {failure(exc)}")
                continue
            actions = rule.then if matched else rule.otherwise
            for action in actions:  # each run by its handler: one whose expression fails is errored, the rule goes on
                if len(fired) >= MAX_ACTIONS_PER_CALL:
                    self._over_budget()
                    break
                try:
                    _HANDLERS[action.kind](self, action, depth)
                except EVALUATION_ERRORS as exc:
                    decision.action(_FAILED_TYPES[action.kind], error=("evaluation_error", failure(exc)))
            if tracer is not None:
                tracer.rule(rule.id, name, condition, matched, [a.action_id for a in decision.actions[first:]])
            # A chained event (or pattern) ran if the context moved to another name or sequence: restore this one.
            if actions and (ctx.event_name is not name or ctx.event_sequence != session.event_sequence):
                ctx.on_event(name, params, session.event_sequence)
                decision.event_name = name
        decision.rule_id = ""

    def identified(self, became: list[str]) -> None:
        """Fire the rules of the patterns the identification made met (the customer's memory with the visit's
        counts meets them, neither alone did)."""
        self.patterns([self.compiled.patterns[name] for name in became], 0)

    def patterns(self, became, depth: int, event: tuple[str, Mapping[str, Any]] | None = None) -> None:
        """Run the rules `on: pattern:<name>` of the patterns that just became met (by `event`, the event being
        processed, when there is one); see server/profiles/patterns.py for when that is."""
        for pattern in became:
            if depth + 1 > self.compiled.max_trigger_depth:
                self.decision.advise("trigger_depth", f"pattern {pattern.name!r} met at the depth limit: its "
                                                      f"rules did not run")
                continue
            rule_id = self.decision.rule_id
            self.rules(f"pattern:{pattern.name}", {}, depth + 1)
            self.decision.rule_id = rule_id
            if event is not None:
                self.ctx.on_event(event[0], event[1], self.ctx.session.event_sequence)
                self.decision.event_name = event[0]

    def _over_budget(self) -> None:
        """The action limit is reached: the call's remaining actions are not run, which is said once."""
        if not self.over_budget:
            self.over_budget = True
            self.decision.advise("action_limit", f"more than {MAX_ACTIONS_PER_CALL} actions in one call: the rest "
                                                 f"were not run")

    # -- one handler per action kind -------------------------------------------------------------

    def resegment(self, action: CompiledAction, depth: int) -> None:
        resegment_action(self.compiled, self.ctx, self.decision, action.definition.flowcharts, action.fixed)

    def offer_response(self, action: CompiledAction, depth: int) -> None:
        values = self.ctx.session.attributes
        expression = action.expressions.get("treatment_code")
        value = expression(values, self.ctx) if expression else None
        codes = [str(v) for v in value if v is not None] if isinstance(value, list) else (
            [str(value)] if value not in (None, "") else [])
        response_type = action.expressions.get("response_type")
        kind = response_type(values, self.ctx) if response_type else None
        offers.log_response(action.kind, codes, "" if kind is None else str(kind), self.ctx, self.decision)

    def expression(self, action: CompiledAction, depth: int) -> None:
        ctx = self.ctx
        values = ctx.session.attributes
        value = action.evaluate["expression"](values, ctx)
        fields = action.fixed + field(_USER_EXPRESSION, value_field(_VALUE, value))
        target = action.definition.assign_to
        if not target:
            self.decision.fire(USER_EXPRESSION, FIRED, fields)
            return
        kind = self.compiled.schema.attributes[target].type
        problem = type_problem(value, kind) if type(value) is not EXACT_TYPES.get(kind) else None
        if problem:
            self.decision.fire(USER_EXPRESSION, ERRORED, fields + _error("type", f"cannot assign {problem} to "
                                                                                 f"{target!r} ({kind})"))
            return
        self.decision.fire(USER_EXPRESSION, FIRED, fields)
        values[target] = float(value) if kind == "double" and value is not None else value

    def trigger_events(self, action: CompiledAction, depth: int) -> None:
        events = list(action.definition.events)
        limit = self.compiled.max_trigger_depth
        if depth + 1 > limit:
            self._cut(events, depth, "trigger_depth", f"chain cut at depth {limit}", f"trigger depth limit {limit} "
                                                                                   f"reached")
            return
        if self.events + len(events) > MAX_EVENTS_PER_CALL:
            self._cut(events, depth, "trigger_limit", f"chain cut at {self.events} events in one call",
                      f"limit of {MAX_EVENTS_PER_CALL} events per call reached")
            return
        self.events += len(events)
        self.decision.fire(TRIGGER_EVENTS, FIRED, action.fixed + _depth(depth + 1))
        rule_id = self.decision.rule_id
        for event in events:
            self.process(event, {}, self.decision.now, depth + 1)
        self.decision.rule_id = rule_id

    def _cut(self, events: list[str], depth: int, code: str, what: str, error: str) -> None:
        """A trigger_events action that is not run: an advisory and the action, errored."""
        self.decision.advise(code, f"{what}: {', '.join(events)} not triggered (a cycle of trigger_events?)")
        self.decision.action(action_pb2.ACTION_TYPE_TRIGGER_EVENTS, error=(code, error),
                             trigger_events={"events": events, "depth": depth + 1})

    def log_data(self, action: CompiledAction, depth: int) -> None:
        ctx, decision = self.ctx, self.decision
        session = ctx.session
        values = session.attributes
        sensitive = self.compiled.sensitive_attributes
        columns = {}  # one plain loop: a comprehension is a function call each
        entries = []
        for name, ev in action.expressions.items():
            value = columns[name] = (MASK if sensitive and not sensitive.isdisjoint(ev.names)
                                     else ev.evaluate(values, ctx))
            entries.append(field(_COLUMN, (_KEYS.get(name) or _key(name)) + value_field(_COLUMN_VALUE, value)))
        action_id = decision.fire(LOG_DATA, FIRED, action.fixed + field(_LOG_DATA, b"".join(entries)))
        decision.records.append(DataRecord(  # in field order (history.records): keys, time, action id, table, columns
            session.session_id, decision.customer_id, decision.id, decision.version, decision.now, action_id,
            action.definition.table, columns, trace_id=decision.trace_id))

    def journey(self, action: CompiledAction, depth: int) -> None:
        transition = action.kind.removeprefix("journey_")
        journeys.advance(self.journeys_of(self.ctx.session), action.definition.journey, transition, self.decision)

    def suppress_offer(self, action: CompiledAction, depth: int) -> None:
        self.ctx.session.suppressed.add(action.definition.offer)
        self.decision.fire(action_pb2.ACTION_TYPE_SUPPRESS_OFFER, FIRED, action.fixed)

    def notify(self, action: CompiledAction, depth: int) -> None:
        message = action.evaluate["message"](self.ctx.session.attributes, self.ctx)
        text = ("" if message is None else str(message)).encode()
        self.decision.fire(NOTIFY, FIRED, action.fixed + field(_NOTIFY, field(_MESSAGE, text)))


def _depth(depth: int) -> bytes:
    """A trigger_events action's details field with its depth."""
    return field(_TRIGGER_EVENTS, _DEPTH + varint(depth))


def _key(name: str) -> bytes:
    """A log_data column's name as its map entry's key field, kept (a ruleset has a few)."""
    if len(_KEYS) >= _KEYS_KEPT:
        _KEYS.clear()
    key = _KEYS[name] = field(_KEY, name.encode())
    return key


_KEYS: dict[str, bytes] = {}
_KEYS_KEPT = 4096  # then forgotten at once (columns of old ruleset versions)


def _error(code: str, message: str) -> bytes:
    """An action's error code and message, encoded."""
    return field(_ERROR_CODE, code.encode()) + field(_ERROR_MESSAGE, message.encode())


USER_EXPRESSION, TRIGGER_EVENTS = action_pb2.ACTION_TYPE_USER_EXPRESSION, action_pb2.ACTION_TYPE_TRIGGER_EVENTS
LOG_DATA, NOTIFY = action_pb2.ACTION_TYPE_LOG_DATA, action_pb2.ACTION_TYPE_NOTIFY
# The tags of the fields the handlers encode (the rest of each action is CompiledAction.fixed).
_USER_EXPRESSION, _TRIGGER_EVENTS = tag(action_pb2.Action, "user_expression"), tag(action_pb2.Action, "trigger_events")
_LOG_DATA, _NOTIFY = tag(action_pb2.Action, "log_data"), tag(action_pb2.Action, "notify")
_ERROR_CODE, _ERROR_MESSAGE = tag(action_pb2.Action, "error_code"), tag(action_pb2.Action, "error_message")
_VALUE, _DEPTH = tag(action_pb2.UserExpressionDetails, "value"), tag(action_pb2.TriggerEventsDetails, "depth")
_COLUMN, _MESSAGE = tag(action_pb2.LogDataDetails, "columns"), tag(action_pb2.NotifyDetails, "message")
_KEY = tag(action_pb2.LogDataDetails.ColumnsEntry, "key")
_COLUMN_VALUE = tag(action_pb2.LogDataDetails.ColumnsEntry, "value")

# Each handler evaluates its expressions before it changes anything, so a failed action leaves the session
# as it was.
_FAILED_TYPES = {
    "resegment": action_pb2.ACTION_TYPE_RESEGMENT,
    "log_contact": action_pb2.ACTION_TYPE_LOG_CONTACT,
    "log_acceptance": action_pb2.ACTION_TYPE_LOG_ACCEPTANCE,
    "log_rejection": action_pb2.ACTION_TYPE_LOG_REJECTION,
    "expression": action_pb2.ACTION_TYPE_USER_EXPRESSION,
    "trigger_events": action_pb2.ACTION_TYPE_TRIGGER_EVENTS,
    "log_data": action_pb2.ACTION_TYPE_LOG_DATA,
    "journey_start": action_pb2.ACTION_TYPE_JOURNEY_START,
    "journey_continue": action_pb2.ACTION_TYPE_JOURNEY_CONTINUE,
    "journey_stop": action_pb2.ACTION_TYPE_JOURNEY_STOP,
    "suppress_offer": action_pb2.ACTION_TYPE_SUPPRESS_OFFER,
    "notify": action_pb2.ACTION_TYPE_NOTIFY,
}

_HANDLERS = {
    "resegment": EventProcessor.resegment,
    "log_contact": EventProcessor.offer_response,
    "log_acceptance": EventProcessor.offer_response,
    "log_rejection": EventProcessor.offer_response,
    "expression": EventProcessor.expression,
    "trigger_events": EventProcessor.trigger_events,
    "log_data": EventProcessor.log_data,
    "journey_start": EventProcessor.journey,
    "journey_continue": EventProcessor.journey,
    "journey_stop": EventProcessor.journey,
    "suppress_offer": EventProcessor.suppress_offer,
    "notify": EventProcessor.notify,
}
