"""Run a scenario against a ruleset in a private engine, so rule authors can test rules with no side effects.

A scenario is a scripted visit: a list of steps, each a `BatchCommand` and an `Expectation`. `simulate` runs
the steps in order through an `Engine` of its own (its own in-memory sessions, history and actions dropped),
so real sessions, history and subscribers never see it, and reports for each step what fell short.

Scenario files are YAML: the `Scenario` message (protos/segflow/v1/ruleset_service.proto) in its JSON mapping,
with the friendly forms of ruleset files:

    name: big cart gets the warranty
    steps:
      - start_session: {}
      - post_event: {event: {name: add_to_cart, parameters: {sku: TV, price: 700.0}}}
        expect: {segments: [big_spenders], rules_fired: [cart-update, big-cart-alert]}
      - name: the warranty is the one checkout offer
        get_offers: {slots: [{interaction_point: checkout_upsell, count: 1}]}
        expect: {offers: [UPSELL_WARRANTY]}

- A step names its command directly (`post_event: {...}`); the canonical `command: {post_event: {...}}` is
  accepted too. Besides the command a step may have a `name` and an `expect`. A command with nothing to say
  is its bare name: `- start_session`, `- end_session`.
- A command without a `session_id` runs on the scenario's session, `scenario`; give ids to script several.
- Values (event parameters, attributes, audience ids) are plain YAML scalars or lists (`price: 700.0`,
  `tags: [a, b]`, `at: 2026-03-01T12:00:00Z`); enum values may drop their prefix (`allow_duplicates`).

Expectations, checked after the step: `segments` the session is in and `not_segments` it is not in (read
from the live session), `rules_fired` (rule ids with an action in the step), and `offers` (codes, in order,
across all slots of a get_offers step). A command that fails is a failure. Segment and rule names that the
ruleset does not define are failures too, so a typo cannot make an expectation pass.
"""

from __future__ import annotations

from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import yaml
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor
from segflow.v1 import decision_service_pb2 as decisions, ruleset_service_pb2 as pb

from segflow.rules.errors import suggest
from segflow.rules.ruleset import CompiledRuleset
from segflow.server.callouts import CalloutRegistry
from segflow.server.errors import NotFound
from segflow.server.profiles.store import ProfileStore
from segflow.server.rulesets import ActiveVersion, Source, compile_source, start_callouts
from segflow.server.runtime.engine import Engine
from segflow.server.sessions.store import MemorySessionStore
from segflow.rules.values import to_value

SCENARIO_SESSION = "scenario"
_STEP_KEYS = ("name", "expect")
# The commands whose responses can carry an explain trace.
_EXPLAINED = frozenset({"start_session", "post_event", "get_offers", "set_audience"})
_COMMANDS = tuple(f.name for f in decisions.BatchCommand.DESCRIPTOR.oneofs_by_name["command"].fields)
# A simulation is one scripted visit: sessions never idle out, and a scenario never needs more than a few.
_IDLE_TIMEOUT = timedelta(days=1)
_MAX_SESSIONS = 1000


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
    """A ruleset provider that always returns the one version being simulated."""

    def __init__(self, version: ActiveVersion):
        self.version = version

    def current(self) -> ActiveVersion:
        return self.version


def simulate(compiled: CompiledRuleset, scenario: pb.Scenario, *, clock: Callable[[], datetime],
             callouts: CalloutRegistry | None = None) -> pb.SimulateRulesetResponse:
    """Run `scenario` on `compiled` (version 0) in a private engine; `passed` when every step met its expectation.

    `callouts` serve EXTERNALCALLOUT (NULL without them); the caller owns and closes them.
    """
    store = MemorySessionStore(idle_timeout=_IDLE_TIMEOUT, max_sessions=_MAX_SESSIONS, clock=clock)
    with closing(ProfileStore.in_memory()) as profiles:  # customers are remembered across the scenario's visits
        engine = Engine(_Fixed(ActiveVersion(compiled, 0, callouts)), store, clock=clock, profiles=profiles)
        known = _Known(compiled)
        steps = [_run_step(engine, known, step, i) for i, step in enumerate(scenario.steps)]
    return pb.SimulateRulesetResponse(passed=all(not s.failures for s in steps), steps=steps)


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


class _Known:
    """The names an expectation may use, so a misspelt one fails instead of passing vacuously."""

    def __init__(self, compiled: CompiledRuleset):
        ruleset = compiled.ruleset
        self.segments = {s.name for f in ruleset.flowcharts for s in f.segments}
        # journey transitions fire actions under the rule id `journey:<name>`
        self.rules = {r.id for r in ruleset.rules} | {f"journey:{j.name}" for j in ruleset.journeys}


def _unknown(names, known: set[str], what: str) -> list[str]:
    problems = []
    for name in names:
        if name not in known:
            hint = suggest(name, known)
            problems.append(f"the ruleset has no {what} {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
    return problems


def _run_step(engine: Engine, known: _Known, step: pb.ScenarioStep, index: int) -> pb.StepResult:
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
    if result.HasField("error"):
        failures = [f"{kind or 'the step'} failed: {result.error.code}: {result.error.message}"]
    else:
        failures = _check(engine, known, step.expect, kind, result, session_id, [o.code for o in offers])
    return pb.StepResult(name=name, result=result, failures=failures, offers=offers, trace=trace)


def _describe(command: decisions.BatchCommand, kind: str | None) -> str:
    if kind == "post_event":
        return f"post_event {command.post_event.event.name}"
    return kind or "empty step"


def _check(engine: Engine, known: _Known, expect: pb.Expectation, kind: str, result: decisions.BatchResult,
           session_id: str, offered: list[str]) -> list[str]:
    failures = _unknown([*expect.segments, *expect.not_segments], known.segments, "segment")
    failures += _unknown(expect.rules_fired, known.rules, "rule")
    wanted = [name for name in expect.segments if name in known.segments]
    unwanted = [name for name in expect.not_segments if name in known.segments]
    if wanted or unwanted:
        failures += _check_segments(engine, session_id, wanted, unwanted)
    fired = {action.rule_id for action in result.post_event.actions}
    missing = [rule for rule in expect.rules_fired if rule in known.rules and rule not in fired]
    if missing:
        failures.append(f"rules_fired: {', '.join(missing)} did not fire (fired: {_listed(sorted(fired))})")
    if expect.offers:
        if kind != "get_offers":
            failures.append(f"offers: only a get_offers step recommends offers, this step is {kind}")
        elif offered != list(expect.offers):
            failures.append(f"offers: expected {_listed(expect.offers)}, got {_listed(offered)}")
    return failures


def _check_segments(engine: Engine, session_id: str, wanted: list[str], unwanted: list[str]) -> list[str]:
    try:
        session = engine.get_session(decisions.GetSessionRequest(session_id=session_id)).session
    except NotFound:
        return [f"segments: no live session {session_id!r} to check (ended, or never started)"]
    current = set(session.segments)
    failures = [f"segments: not in {name} (in: {_listed(sorted(current))})"
                for name in wanted if name not in current]
    failures += [f"not_segments: in {name}" for name in unwanted if name in current]
    return failures


def _listed(names) -> str:
    return ", ".join(names) or "none"
