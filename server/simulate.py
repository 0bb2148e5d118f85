"""Run a scenario against a ruleset in a private engine, so rule authors can test rules with no side effects.

A scenario is a scripted visit (or several): a list of steps, each a `BatchCommand` and an `Expectation`.
`simulate` runs the steps in order through an `Engine` of its own (its own in-memory sessions, profiles and
history, actions captured, never published), so real sessions, history and subscribers never see it, and
reports for each step what fell short, and what the scenario never exercised (`Coverage`).

Scenario files are YAML: the `Scenario` message (protos/segflow/v1/ruleset_service.proto) in its JSON mapping,
with the friendly forms of ruleset files:

    name: big cart gets the warranty
    mocks: {propensity: 0.9}                  # EXTERNALCALLOUT('propensity', ...) is 0.9, never called
    steps:
      - start_session: {audience: {level: Customer, id_fields: {customer_id: C1}}}
        at: 2026-12-01T10:00:00Z              # the simulated clock (it stands still unless moved)
      - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
        expect:
          segments: [big_spenders]
          rules_fired: [cart-update, big-cart-alert]
          attributes: {cart_total: 700.0}
          actions: [{type: notify, rule_id: big-cart-alert, details: {topic: sales-desk}}]
          journeys: [{journey: cart_recovery, status: active, step: 1}]
      - name: the warranty is the one checkout offer
        advance: 10m
        mocks: {propensity: {value: 0.1, cases: [{arguments: [700.0, 0], value: 0.8}]}}
        get_offers: {slots: [{interaction_point: checkout_upsell, count: 1}]}
        expect: {offers: [UPSELL_WARRANTY]}
      - end_session
      - post_event: {event: {name: login}}
        expect: {error: {code: NOT_FOUND, reason: SESSION_NOT_FOUND}}
      - start_session: {audience: {level: Customer, id_fields: {customer_id: C1}}}   # the next visit

- A step names its command directly (`post_event: {...}`); the canonical `command: {post_event: {...}}` is
  accepted too. Besides the command a step may have a `name`, an `expect`, `mocks`, and `at` or `advance`
  (`10m`, `2h`, `1d`). A command with nothing to say is its bare name: `- start_session`, `- end_session`.
- A command without a `session_id` runs on the scenario's session, `scenario`; give ids to script several.
  `end_session` then `start_session` is the customer's next visit: what segflow remembers carries over.
- Values (event parameters, attributes, audience ids, mock values) are plain YAML scalars or lists
  (`price: 700.0`, `tags: [a, b]`, `at: 2026-03-01T12:00:00Z`); enum values may drop their prefix
  (`allow_duplicates`, `notify`, `active`).
- `mocks` (scenario-wide, or per step over them) replace callouts by name: a value for any arguments, or
  `{value: ..., cases: [{arguments: [...], value: ...}]}`; a mocked callout is never called (its trace
  outcome is "mock"); callouts not mocked are called for real.

Expectations, checked after the step: `segments` the session is in and `not_segments` it is not in,
`attributes` (values after the step; `null` for NULL), `journeys` (status and step), all read from the live
session; `rules_fired` (rule ids with an action in the step), `actions` (each matched by its type, state,
rule_id and a subset of its details), `advisories` (codes in the response), `offers` (codes, in order, across
all slots of a get_offers step), and `error` (the step must fail with this code and reason). A command that
fails without an `error` expectation is a failure. Segment, rule, attribute, journey and callout names that
the ruleset does not define are failures too, so a typo cannot make an expectation pass.
"""

from __future__ import annotations

from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Iterator

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from segflow.v1 import action_pb2, decision_service_pb2 as decisions, ruleset_service_pb2 as pb, trace_pb2

from segflow.rules.errors import suggest
from segflow.rules.ruleset import CompiledRuleset
from segflow.server.callouts import CalloutRegistry
from segflow.server.errors import NotFound
from segflow.server.expectations import Known, Outcome, check, unknown
from segflow.server.profiles.store import ProfileStore
from segflow.server.rulesets import ActiveVersion, Source, active_of, compile_source, start_callouts
from segflow.server.runtime.engine import Engine
from segflow.server.sessions.store import MemorySessionStore
from segflow.rules.ruleset_yaml import duration_seconds
from segflow.rules.values import from_value, to_value

SCENARIO_SESSION = "scenario"
_STEP_KEYS = ("name", "expect", "mocks", "at", "advance")
# The commands whose responses can carry an explain trace.
_EXPLAINED = frozenset({"start_session", "post_event", "get_offers", "set_audience"})
_COMMANDS = tuple(f.name for f in decisions.BatchCommand.DESCRIPTOR.oneofs_by_name["command"].fields)
# The server's default idle timeout: a step that advances the clock past it finds the session expired.
_IDLE_TIMEOUT = timedelta(minutes=30)
_MAX_SESSIONS = 1000
MAX_STEPS = 1000  # steps SimulateRuleset runs for one request


class ScenarioError(ValueError):
    """A scenario file that does not read as a Scenario; the message names the step and the problem."""


def load_scenario(text: str) -> pb.Scenario:
    """Read a scenario file's YAML text; raises ScenarioError naming the first bad step."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ScenarioError("a scenario is a mapping with a name and a list of steps")
    scenario = pb.Scenario()
    _parse({k: v for k, v in data.items() if k != "steps"}, scenario, "scenario")
    for i, step in enumerate(data["steps"]):
        _parse(_canonical_step(step, f"steps[{i}]"), scenario.steps.add(), f"steps[{i}]")
    return scenario


def _parse(data: dict, message, where: str) -> None:
    try:
        json_format.ParseDict(_json(data, message.DESCRIPTOR), message)
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _canonical_step(step: Any, where: str) -> dict:
    """`{post_event: ..., expect: ...}` -> `{command: {post_event: ...}, expect: ...}`; `end_session` alone is
    `{command: {end_session: {}}}`."""
    if isinstance(step, str):
        step = {step: None}
    if not isinstance(step, dict):
        raise ScenarioError(f"{where}: a step is a mapping: one command ({', '.join(_COMMANDS)}), "
                            f"and optionally a name and an expect")
    if "command" in step:
        return step
    command = {k: v for k, v in step.items() if k not in _STEP_KEYS}
    if len(command) != 1:
        raise ScenarioError(f"{where}: a step has exactly one command, not {', '.join(command) or 'none'}")
    (kind,) = command
    if kind not in _COMMANDS:
        hint = suggest(kind, _COMMANDS)
        raise ScenarioError(f"{where}: unknown command {kind!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    return {**{k: step[k] for k in _STEP_KEYS if k in step}, "command": {kind: command[kind] or {}}}


def _json(data: Any, descriptor: Descriptor) -> Any:
    """The JSON mapping of a message from friendly YAML data, guided by the message's descriptor."""
    if descriptor.full_name == "segflow.v1.Value" and not isinstance(data, dict):
        return json_format.MessageToDict(to_value(_aware(data)), preserving_proto_field_name=True)
    if descriptor.full_name == "segflow.v1.CalloutMock" and not isinstance(data, dict):
        data = {"value": data}  # `propensity: 0.9`: that value for any arguments
    if descriptor.full_name == "google.protobuf.Duration" and isinstance(data, (str, int, float)):
        seconds = duration_seconds(str(data))
        if seconds is None:
            raise ScenarioError(f"{data!r} is not a duration such as 250ms, 10m, 2h or 1d")
        return f"{seconds:.9f}s"
    if isinstance(data, datetime):
        return _aware(data).isoformat().replace("+00:00", "Z")
    if not isinstance(data, dict):
        return data
    converted = {}
    for key, value in data.items():
        fd = descriptor.fields_by_name.get(key) or descriptor.fields_by_camelcase_name.get(key)
        if fd is None or (fd.message_type is None and fd.enum_type is None):
            converted[key] = value
        elif fd.enum_type is not None:
            converted[key] = [_enum(fd.enum_type, v) for v in value] if isinstance(value, list) else _enum(
                fd.enum_type, value)
        elif fd.message_type.GetOptions().map_entry:
            value_type = fd.message_type.fields_by_name["value"].message_type
            converted[key] = ({k: _json(v, value_type) for k, v in value.items()}
                              if value_type is not None and isinstance(value, dict) else value)
        elif fd.is_repeated and isinstance(value, list):
            converted[key] = [_json(item, fd.message_type) for item in value]
        else:
            converted[key] = _json(value, fd.message_type)
    return converted


def _aware(value: Any) -> Any:
    """YAML timestamps without a zone are UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    if isinstance(value, list):
        return [_aware(item) for item in value]
    return value


def _enum(enum: EnumDescriptor, value: Any) -> Any:
    """`allow_duplicates` -> `DUPLICATION_POLICY_ALLOW_DUPLICATES` (the prefix is the zero value's)."""
    if not isinstance(value, str):
        return value
    prefixed = enum.values[0].name.removesuffix("UNSPECIFIED") + value.upper()
    return prefixed if prefixed in enum.values_by_name else value


class _Fixed:
    """A ruleset provider that always returns the one version being simulated (its callouts swapped per step)."""

    def __init__(self, version: ActiveVersion):
        self.version = version

    def current(self, channel: str = "") -> ActiveVersion:
        return active_of(self.served(), channel)  # another channel is NOT_FOUND, as on a server

    def served(self) -> dict[str, ActiveVersion]:
        return {self.version.compiled.ruleset.channel: self.version}


class _Clock:
    """The simulated clock: it starts at the real time, stands still, and steps set or move it."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def move(self, step: pb.ScenarioStep) -> None:
        if step.HasField("at"):
            self.now = step.at.ToDatetime(tzinfo=timezone.utc)
        if step.HasField("advance"):
            self.now += step.advance.ToTimedelta()


class _Mocked:
    """Callouts with some replaced by scenario mocks; the others go to the real registry (or are NULL)."""

    def __init__(self, real: CalloutRegistry | None, mocks):
        self.real = real
        self.mocks = mocks

    def call_with_outcome(self, name: str, args: tuple, **context) -> tuple[Any, str]:
        mock = self.mocks.get(name)
        if mock is None:
            return self.real.call_with_outcome(name, args, **context) if self.real else (None, "miss")
        for case in mock.cases:
            if [from_value(v) for v in case.arguments] == list(args):
                return from_value(case.value), "mock"
        return from_value(mock.value), "mock"


def simulate(compiled: CompiledRuleset, scenario: pb.Scenario, *, clock: Callable[[], datetime],
             callouts: CalloutRegistry | None = None) -> pb.SimulateRulesetResponse:
    """Run `scenario` on `compiled` (version 0) in a private engine; `passed` when every step met its expectation.

    `clock` gives the simulation's start time. `callouts` serve EXTERNALCALLOUT where the scenario mocks
    nothing (NULL without them); the caller owns and closes them.
    """
    time = _Clock(clock())
    store = MemorySessionStore(idle_timeout=_IDLE_TIMEOUT, max_sessions=_MAX_SESSIONS, clock=time)
    published: list = []
    provider = _Fixed(ActiveVersion(compiled, 0, callouts))
    with closing(ProfileStore.in_memory()) as profiles:  # customers are remembered across the scenario's visits
        engine = Engine(provider, store, clock=time, profiles=profiles, publish=lambda actions: published.extend(map(action_pb2.Action.FromString, actions)))
        known = Known(compiled)
        steps = []
        for i, step in enumerate(scenario.steps):
            mocks = {**scenario.mocks, **step.mocks}
            provider.version = ActiveVersion(compiled, 0, _Mocked(callouts, mocks) if mocks else callouts)
            time.move(step)
            published.clear()
            steps.append(_run_step(engine, known, step, i, published, unknown(mocks, known.callouts, "callout")))
    return pb.SimulateRulesetResponse(passed=all(not s.failures for s in steps), steps=steps,
                                      coverage=coverage(compiled, steps))


@contextmanager
def simulation_version(source: Source) -> Iterator[tuple[CompiledRuleset, CalloutRegistry | None]]:
    """Compile `source` and start its callouts for the length of the block; raises CompileError."""
    compiled = compile_source(source)
    callouts = start_callouts(compiled.ruleset)
    try:
        yield compiled, callouts
    finally:
        if callouts is not None:
            callouts.close()


def _run_step(engine: Engine, known: Known, step: pb.ScenarioStep, index: int, published: list,
              failures: list[str]) -> pb.StepResult:
    kind = step.command.WhichOneof("command")
    session_id = (getattr(step.command, kind).session_id if kind else "") or SCENARIO_SESSION
    command = decisions.BatchCommand()
    command.CopyFrom(step.command)
    if kind in _EXPLAINED:  # every decision of a simulation says why it came out as it did
        getattr(command, kind).explain = True
    request = decisions.ExecuteBatchRequest(session_id=SCENARIO_SESSION, commands=[command])
    result = engine.execute_batch(request).results[0]
    trace = getattr(result, kind).trace if kind in _EXPLAINED and result.HasField(kind) else None
    offers = [o for listed in result.get_offers.offer_lists for o in listed.offers]
    name = step.name or f"{index + 1}. {_describe(step.command, kind)}"
    try:
        session = engine.get_session(decisions.GetSessionRequest(session_id=session_id)).session
    except NotFound:
        session = None
    outcome = Outcome(kind or "", result, list(published), session, session_id, [o.code for o in offers])
    return pb.StepResult(name=name, result=result, failures=failures + check(known, step.expect, outcome),
                         offers=offers, trace=trace)


def _describe(command: decisions.BatchCommand, kind: str | None) -> str:
    if kind == "post_event":
        return f"post_event {command.post_event.event.name}"
    return kind or "empty step"


def coverage(compiled: CompiledRuleset, steps: Iterable[pb.StepResult]) -> pb.Coverage:
    """What no step exercised: rules never matched, segments never held, treatment rules never offered."""
    ruleset = compiled.ruleset
    matched, held, offered = set(), set(), set()
    for step in steps:
        matched.update(r.rule_id for r in step.trace.rules if r.matched)
        held.update(s.segment for s in step.trace.segments if s.change in _HELD)
        held.update(step.result.start_session.session.segments, step.result.set_audience.session.segments)
        offered.update(o.treatment_rule_id for o in step.offers)
    return pb.Coverage(
        rules_not_matched=sorted({r.id for r in ruleset.rules if not r.disabled} - matched),
        segments_never_entered=sorted({s.name for f in ruleset.flowcharts for s in f.segments} - held),
        treatments_never_offered=sorted({t.id for t in ruleset.treatment_rules} - offered))


def merge_coverage(reports: Iterable[pb.Coverage]) -> pb.Coverage:
    """What none of several scenarios exercised."""
    reports = list(reports)
    if not reports:
        return pb.Coverage()
    fields = ("rules_not_matched", "segments_never_entered", "treatments_never_offered")
    return pb.Coverage(**{f: sorted(set.intersection(*(set(getattr(r, f)) for r in reports))) for f in fields})


_HELD = frozenset({trace_pb2.MEMBERSHIP_CHANGE_ENTERED, trace_pb2.MEMBERSHIP_CHANGE_STAYED_IN})
