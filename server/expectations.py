"""Checks a scenario step's outcome against its `Expectation`, each unmet part as one readable sentence.

A name the ruleset does not define (segment, rule, journey) is a failure of its own, so a typo cannot make an
expectation pass vacuously. Session state (segments, attributes, journeys) is read from the live session after
the step; actions are every action the step published; advisories come from the step's response.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from google.protobuf import json_format
from google.protobuf.message import Message
from segflow.v1 import action_pb2, decision_service_pb2 as decisions, ruleset_service_pb2 as pb, session_pb2

from segflow.rules.errors import suggest
from segflow.rules.ruleset import CompiledRuleset
from segflow.rules.unparse import literal
from segflow.rules.values import from_value


class Known:
    """The names an expectation may use."""

    def __init__(self, compiled: CompiledRuleset):
        ruleset = compiled.ruleset
        self.segments = {s.name for f in ruleset.flowcharts for s in f.segments}
        # journey transitions fire actions under the rule id `journey:<name>`
        self.rules = {r.id for r in ruleset.rules} | {f"journey:{j.name}" for j in ruleset.journeys}
        self.journeys = {j.name for j in ruleset.journeys}
        self.attributes = set(compiled.schema.attributes)
        self.callouts = {c.name for c in ruleset.callouts}


@dataclass
class Outcome:
    """What one step did: its result, the actions it published and the session after it (None: gone)."""

    kind: str
    result: decisions.BatchResult
    actions: list[action_pb2.Action]
    session: session_pb2.Session | None
    session_id: str
    offered: list[str]


def unknown(names: Iterable[str], known: set[str], what: str) -> list[str]:
    problems = []
    for name in names:
        if name not in known:
            hint = suggest(name, known)
            problems.append(f"the ruleset has no {what} {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    return problems


def check(known: Known, expect: pb.Expectation, outcome: Outcome) -> list[str]:
    """Every unmet part of `expect`, as sentences; empty when the step met it."""
    result = outcome.result
    if expect.HasField("error"):
        return _check_error(expect.error, result)
    if result.HasField("error"):
        return [f"{outcome.kind or 'the step'} failed: {result.error.code}: {result.error.message}"]
    failures = unknown([*expect.segments, *expect.not_segments], known.segments, "segment")
    failures += unknown([*expect.rules_fired, *(a.rule_id for a in expect.actions if a.rule_id)], known.rules, "rule")
    failures += unknown(expect.attributes, known.attributes, "attribute")
    failures += unknown((j.journey for j in expect.journeys), known.journeys, "journey")
    failures += _check_session(known, expect, outcome)
    fired = {action.rule_id for action in outcome.actions}
    missing = [rule for rule in expect.rules_fired if rule in known.rules and rule not in fired]
    if missing:
        failures.append(f"rules_fired: {', '.join(missing)} did not fire (fired: {_listed(sorted(fired - {''}))})")
    failures += [problem for wanted in expect.actions if (problem := _check_action(wanted, outcome.actions))]
    codes = {a.code for a in _advisories(result)}
    absent = [code for code in expect.advisories if code not in codes]
    if absent:
        failures.append(f"advisories: no {', '.join(absent)} (got: {_listed(sorted(codes))})")
    if expect.offers:
        if outcome.kind != "get_offers":
            failures.append(f"offers: only a get_offers step recommends offers, this step is {outcome.kind}")
        elif outcome.offered != list(expect.offers):
            failures.append(f"offers: expected {_listed(expect.offers)}, got {_listed(outcome.offered)}")
    return failures


def _check_error(expected: pb.ErrorExpectation, result: decisions.BatchResult) -> list[str]:
    wanted = expected.code + (f" ({expected.reason})" if expected.reason else "")
    if not result.HasField("error"):
        return [f"error: expected {wanted}, the step succeeded"]
    got = result.error
    if got.code != expected.code or (expected.reason and got.reason != expected.reason):
        return [f"error: expected {wanted}, got {got.code} ({got.reason}): {got.message}"]
    return []


def _check_session(known: Known, expect: pb.Expectation, outcome: Outcome) -> list[str]:
    wanted = [name for name in expect.segments if name in known.segments]
    unwanted = [name for name in expect.not_segments if name in known.segments]
    attributes = {name: v for name, v in expect.attributes.items() if name in known.attributes}
    journeys = [j for j in expect.journeys if j.journey in known.journeys]
    if not (wanted or unwanted or attributes or journeys):
        return []
    session = outcome.session
    if session is None:
        what = "segments" if wanted or unwanted else "attributes" if attributes else "journeys"
        return [f"{what}: no live session {outcome.session_id!r} to check (ended, or never started)"]
    current = set(session.segments)
    failures = [f"segments: not in {name} (in: {_listed(sorted(current))})" for name in wanted if name not in current]
    failures += [f"not_segments: in {name}" for name in unwanted if name in current]
    for name, value in sorted(attributes.items()):
        expected, got = from_value(value), from_value(session.attributes[name]) if name in session.attributes else None
        if expected != got or (expected is None) != (got is None):
            failures.append(f"attributes: {name} is {literal(got)}, expected {literal(expected)}")
    states = {j.journey: j for j in session.journeys}
    for journey in journeys:
        state = states.get(journey.journey)
        if state is None:
            failures.append(f"journeys: {journey.journey} was never started")
            continue
        status = session_pb2.JourneyStatus.Name(state.status).removeprefix("JOURNEY_STATUS_").lower()
        if journey.status and journey.status != state.status:
            wanted_status = session_pb2.JourneyStatus.Name(journey.status).removeprefix("JOURNEY_STATUS_").lower()
            failures.append(f"journeys: {journey.journey} is {status}, expected {wanted_status}")
        if journey.step and journey.step != state.step:
            failures.append(f"journeys: {journey.journey} is at step {state.step}, expected {journey.step}")
    return failures


def _check_action(wanted: pb.ActionExpectation, actions: list[action_pb2.Action]) -> str:
    """'' when an action matches `wanted`, else why none did, listing what fired."""
    details = json_format.MessageToDict(wanted.details) if wanted.HasField("details") else {}
    for action in actions:
        if ((not wanted.type or action.type == wanted.type) and (not wanted.state or action.state == wanted.state)
                and (not wanted.rule_id or action.rule_id == wanted.rule_id)
                and _contains(plain(action, "details"), details)):
            return ""
    fired = "; ".join(describe_action(a) for a in actions) or "none"
    return f"actions: none matched {_describe_wanted(wanted, details)} (fired: {fired})"


def _contains(actual: Any, wanted: Any) -> bool:
    """`wanted` is `actual`, or for mappings a subset of it (numbers compared by value)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _contains(actual[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(actual) == len(wanted) and all(map(_contains, actual, wanted))
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == wanted
    return actual == wanted


def plain(message: Message, oneof: str = "") -> Any:
    """A message as plain Python values (Values unwrapped, times as ISO text); with `oneof`, just that field."""
    if oneof:
        chosen = message.WhichOneof(oneof)
        return plain(getattr(message, chosen)) if chosen else {}
    name = message.DESCRIPTOR.full_name
    if name == "segflow.v1.Value":
        value = from_value(message)
        return value.isoformat() if isinstance(value, datetime) else value
    if name == "google.protobuf.Timestamp":
        return message.ToDatetime().isoformat()
    out = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            out[field.name] = {k: plain(v) if entry.message_type else v for k, v in value.items()}
        elif field.is_repeated:
            out[field.name] = [plain(v) if field.message_type else v for v in value]
        else:
            out[field.name] = plain(value) if field.message_type else value
    return out


def describe_action(action: action_pb2.Action) -> str:
    kind = action_pb2.ActionType.Name(action.type).removeprefix("ACTION_TYPE_").lower()
    state = action_pb2.ActionState.Name(action.state).removeprefix("ACTION_STATE_").lower()
    rule = f" by {action.rule_id}" if action.rule_id else ""
    return f"{kind} {state}{rule} {plain(action, 'details')}"


def _describe_wanted(wanted: pb.ActionExpectation, details: dict) -> str:
    parts = [action_pb2.ActionType.Name(wanted.type).removeprefix("ACTION_TYPE_").lower() if wanted.type else "any"]
    if wanted.state:
        parts.append(action_pb2.ActionState.Name(wanted.state).removeprefix("ACTION_STATE_").lower())
    if wanted.rule_id:
        parts.append(f"by {wanted.rule_id}")
    if details:
        parts.append(str(details))
    return " ".join(parts)


def _advisories(result: decisions.BatchResult) -> list[action_pb2.Advisory]:
    kind = result.WhichOneof("result")
    response = getattr(result, kind) if kind else None
    return list(getattr(response, "advisories", ()))


def _listed(names) -> str:
    return ", ".join(names) or "none"
