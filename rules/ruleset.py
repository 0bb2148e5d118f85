"""Check a whole ruleset and compile it into the indexed, ready-to-run form the runtime serves.

`compile_ruleset` is the one entry point: it checks every reference (events, attributes, segments, offers,
interaction points, journeys, callout arities), compiles every expression against a schema built from the ruleset's
own declarations, and collects every problem before raising. What comes back is immutable, so a deployed
version can be swapped in atomically and shared by all threads.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable, Mapping

from google.protobuf.message import Message
from segflow.v1 import action_pb2, ruleset_pb2, value_pb2

from segflow.rules import Attribute, CompileError, Schema, compile_expression, compile_segments
from segflow.rules.errors import RuleError, suggest
from segflow.rules.expression import restore_expression
from segflow.rules.functions import MAX_WINDOW_DAYS, MAX_WINDOW_SECONDS
from segflow.rules.schema import type_problem
from segflow.rules.values import from_value
from segflow.rules.index import RuleIndex
from segflow.rules.ruleset_yaml import LoadedRuleset, field_key, load_ruleset_yaml
from segflow.rules.segments import restore_segments

log = logging.getLogger(__name__)

TYPE_NAMES = {
    value_pb2.VALUE_TYPE_STRING: "string",
    value_pb2.VALUE_TYPE_INT: "int",
    value_pb2.VALUE_TYPE_DOUBLE: "double",
    value_pb2.VALUE_TYPE_BOOL: "bool",
    value_pb2.VALUE_TYPE_TIMESTAMP: "timestamp",
    value_pb2.VALUE_TYPE_LIST: "list",
}
_UTC = timezone.utc
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
DEFAULT_MAX_TRIGGER_DEPTH = 8
DEFAULT_MAX_PRESENTATIONS = 3
MASK = "***"  # what logs and history show of a `sensitive: true` attribute

# Bounds on one ruleset, so a hostile or runaway one is refused with a clear error instead of stalling a
# deploy or every call after it (each expression has its own bounds in parse.py and generate.py).
MAX_RULESET_BYTES = 4 * 1024 * 1024   # the serialized Ruleset message
MAX_LIST_ITEMS = {"rules": 20_000, "segments": 20_000, "offers": 20_000, "treatment_rules": 50_000}
MAX_OTHER_LIST_ITEMS = 10_000          # any other list or map in the ruleset, list values included
MAX_TRIGGER_DEPTH = 16                 # settings.max_trigger_depth: chains fan out, so depth is costly
MAX_GENERATED_CHARS = 64_000_000       # generated Python source of all the ruleset's expressions together
COMPILE_BUDGET_SECONDS = 120.0         # wall time to compile one ruleset

# The expression fields of each action kind, by their YAML key.
# A bare word in `response_type` that is not SQL and names no attribute is the older, literal form.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SQL_WORDS = frozenset({"NULL", "TRUE", "FALSE", "CURRENT_TIMESTAMP"})
_ACTION_EXPRESSIONS = {
    "log_contact": ("treatment_code", "response_type"),
    "log_acceptance": ("treatment_code", "response_type"),
    "log_rejection": ("treatment_code", "response_type"),
    "expression": ("expression",),
    "notify": ("message",),
}


@dataclass(frozen=True)
class CompiledAction:
    """One action of a rule: its kind (the ActionDefinition oneof name), its definition and its expressions.

    `fixed` is the encoding of the segflow.v1.Action fields the action fires with every time (see `fixed_fields`),
    so the runtime encodes only what a call decides, and `evaluate` is its expressions' bare functions."""

    kind: str
    definition: Message
    path: str
    expressions: Mapping[str, Callable] = field(default_factory=dict)
    fixed: bytes = b""
    evaluate: Mapping[str, Callable] = field(default_factory=dict)


def fixed_fields(kind: str, body: Message) -> bytes:
    """The encoded Action fields an action of `kind` defined by `body` always has: its details' fields that
    come from the definition (a resegment of named flowcharts names them; one of all a level's names them at
    run time), and a notify's media type. The runtime adds the rest of the same details field, which the
    parser merges into one."""
    if kind == "expression":
        fields = {"user_expression": {"expression": body.expression, "assigned_attribute": body.assign_to}}
    elif kind == "log_data":
        fields = {"log_data": {"table": body.table}}
    elif kind == "notify":
        fields = {"media_type": body.media_type, "notify": {"topic": body.topic}}
    elif kind == "trigger_events":
        fields = {"trigger_events": {"events": list(body.events)}}
    elif kind == "suppress_offer":
        fields = {"suppress_offer": {"offer_code": body.offer, "reason": body.reason}}
    elif kind == "resegment" and body.flowcharts:
        fields = {"resegment": {"flowcharts": list(body.flowcharts)}}
    else:
        return b""
    return action_pb2.Action(**fields).SerializeToString()


@dataclass(frozen=True)
class CompiledRule:
    id: str
    path: str
    events: tuple[str, ...]
    condition: Callable | None
    then: tuple[CompiledAction, ...]
    otherwise: tuple[CompiledAction, ...]


@dataclass(frozen=True)
class CompiledFlowchart:
    name: str
    audience_level: str
    segments: Callable  # a SegmentEvaluator: .bits(values, ctx), .names, .names_of(bits)


@dataclass(frozen=True)
class CompiledTreatment:
    rule: ruleset_pb2.TreatmentRule
    offer: ruleset_pb2.OfferDefinition
    score: Callable
    eligibility: Callable | None
    # (starts, ends) of the treatment rule and of its offer; None where a date is not set
    windows: tuple[tuple[datetime | None, datetime | None], ...]


@dataclass(frozen=True)
class CompiledPattern:
    """An event pattern: `weights` by event; met when, over the days from `first_day` to `last_day` (or the
    last `window_seconds`), ALL_OF saw each event, COUNTER counted `target` events, or WEIGHTED_COUNTER
    summed weights up to `target`."""

    name: str
    kind: int
    weights: Mapping[str, float]
    target: float
    window_seconds: int | None
    first_day: int | None
    last_day: int | None


@dataclass(frozen=True)
class OfferMemory:
    """What a customer's memory caps of one offer: contacts over `per_days`, suppression after a response."""

    per_days: int | None
    suppress_seconds: float | None


@dataclass(frozen=True)
class CompiledRuleset:
    """A checked ruleset with every expression compiled and every lookup the hot path needs indexed."""

    ruleset: ruleset_pb2.Ruleset
    digest: str
    schema: Schema
    warnings: tuple[RuleError, ...]
    defaults: Mapping[str, object]
    events: Mapping[str, ruleset_pb2.EventDefinition]
    parameters: Mapping[str, tuple[tuple[str, bool, str], ...]]  # event -> its parameters' (name, required, type)
    rules: RuleIndex
    flowcharts: Mapping[str, tuple[CompiledFlowchart, ...]]  # by audience level
    treatments: Mapping[str, tuple[CompiledTreatment, ...]]  # by interaction point
    offers: Mapping[str, ruleset_pb2.OfferDefinition]
    journeys: Mapping[str, ruleset_pb2.Journey]
    journey_triggers: Mapping[str, tuple[tuple[str, str], ...]]  # event -> ((journey, transition), ...)
    audience_levels: Mapping[str, tuple[str, ...]]  # level -> id fields
    max_trigger_depth: int
    default_max_presentations: int
    default_audience_level: str
    # Customer memory across visits (server/profiles): the `scope: profile` attributes, the events whose
    # daily counters are kept (windowed functions and patterns name them), patterns, per-customer offer caps.
    profile_attributes: tuple[str, ...] = ()
    remembered_events: frozenset[str] = frozenset()
    patterns: Mapping[str, CompiledPattern] = field(default_factory=dict)
    patterns_by_event: Mapping[str, tuple[CompiledPattern, ...]] = field(default_factory=dict)
    # The same, of only the patterns whose becoming met fires something (rules or journey triggers on
    # `pattern:<name>`): the others need no check around each event (server.profiles.patterns.watched).
    fired_patterns_by_event: Mapping[str, tuple[CompiledPattern, ...]] = field(default_factory=dict)
    offer_memory: Mapping[str, OfferMemory] = field(default_factory=dict)
    sensitive_attributes: frozenset[str] = frozenset()

    def masked(self, attributes: Mapping[str, object]) -> dict[str, object]:
        """`attributes` as a log or history row may show them: each set sensitive attribute's value is MASK."""
        sensitive = self.sensitive_attributes
        return {name: MASK if name in sensitive and value is not None else value for name, value in attributes.items()}

    @property
    def remembers(self) -> bool:
        """Whether sessions of this ruleset keep a customer memory at all."""
        return bool(self.profile_attributes or self.remembered_events or self.offer_memory)

    def rules_for(self, event_name: str) -> tuple[tuple[str, CompiledRule], ...]:
        """(rule id, rule) of the rules listening to an event, in the order they run."""
        return self.rules.for_event(event_name)

    def flowcharts_for(self, level: str, names: Iterable[str] = ()) -> tuple[CompiledFlowchart, ...]:
        """The flowcharts of an audience level; only the named ones when names are given."""
        charts = self.flowcharts.get(level, ())
        wanted = set(names)
        return tuple(c for c in charts if c.name in wanted) if wanted else charts

    @property
    def strict_events(self) -> bool:
        return self.ruleset.settings.strict_events


@dataclass
class Stored:
    """Compiled evaluators as plain values, by ruleset path (rules.stored keeps them on disk): a compile given
    `entries` restores each evaluator whose text is unchanged instead of compiling it, and fills `kept` with
    the state of every evaluator it used, counting in `compiled` those it had to compile."""

    entries: Mapping[str, tuple] = field(default_factory=dict)  # path -> (text, state)
    kept: dict[str, tuple] = field(default_factory=dict)
    compiled: int = 0


def fired_patterns_by_event(patterns: list[CompiledPattern], rules: list[CompiledRule],
                            triggers: Mapping[str, tuple]) -> dict[str, tuple[CompiledPattern, ...]]:
    """Per event, the patterns counting it that a rule or a journey trigger listens to (`pattern:<name>`)."""
    listened = {event for rule in rules for event in rule.events} | set(triggers)
    fired = [p for p in patterns if f"pattern:{p.name}" in listened]
    return {event: tuple(p for p in fired if event in p.weights) for event in {e for p in fired for e in p.weights}}


def ruleset_digest(ruleset: ruleset_pb2.Ruleset) -> str:
    """sha256 of the ruleset's deterministic serialization: equal rulesets, equal digests."""
    return hashlib.sha256(ruleset.SerializeToString(deterministic=True)).hexdigest()


def load_and_compile(text: str) -> CompiledRuleset:
    """Compile a YAML ruleset; raises CompileError with every problem, file positions included."""
    loaded = load_ruleset_yaml(text)
    if loaded.errors:
        raise CompileError(loaded.errors)
    return compile_ruleset(loaded.ruleset, loaded)


def compile_ruleset(ruleset: ruleset_pb2.Ruleset, loaded: LoadedRuleset | None = None, *,
                    budget: float = COMPILE_BUDGET_SECONDS, stored: Stored | None = None) -> CompiledRuleset:
    """Check and compile a Ruleset message; `loaded` supplies file positions when it came from YAML, `stored`
    evaluators compiled before (and receives those of this compile).

    Raises CompileError with every problem; past `budget` seconds of compiling, with a "compile_budget" error
    at the expression reached."""
    return _Compiler(ruleset, loaded, budget, stored if stored is not None else Stored()).run()


class _OverBudget(Exception):
    """Compiling ran past a ruleset bound; the error is recorded, the rest is not compiled."""


class _Compiler:
    """One compilation: collects errors and warnings while building the compiled parts."""

    def __init__(self, ruleset: ruleset_pb2.Ruleset, loaded: LoadedRuleset | None, budget: float, stored: Stored):
        self.ruleset = ruleset
        self.stored = stored
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.generated = 0  # characters of generated source so far
        self.positions = loaded.positions if loaded else {}
        self.origins = loaded.origins if loaded else {}
        self.errors: list[RuleError] = []
        self.warnings: list[RuleError] = []
        self.used_segments: set[str] = set()
        self.used_events: set[str] = set()
        self.windowed_events: set[str] = set()

    # -- reporting --------------------------------------------------------------------------------

    def problem(self, sink: list, code: str, message: str, path: str, suggestion: str | None = None) -> None:
        line, column = self.positions.get(path, (None, None))
        sink.append(RuleError(code=code, message=message, path=path, expression="", expr_line=0, expr_column=0,
                              line=line, column=column, suggestion=suggestion))

    def error(self, code: str, message: str, path: str, suggestion: str | None = None) -> None:
        self.problem(self.errors, code, message, path, suggestion)

    def warn(self, code: str, message: str, path: str) -> None:
        self.problem(self.warnings, code, message, path)

    def check_known(self, name: str, known: Iterable[str], what: str, path: str) -> bool:
        if name in known:
            return True
        known = list(known)
        self.error("unknown_name", f"unknown {what} {name!r}", path, suggest(name, known))
        return False

    def unique(self, items, key: str, what: str, path: str) -> dict:
        """Map items by a key field, reporting empty and duplicate keys."""
        seen = {}
        for i, item in enumerate(items):
            name = getattr(item, key)
            where = f"{path}[{i}].{key}"
            if not name:
                self.error("missing", f"{what} needs {key!r}", f"{path}[{i}]")
            elif name in seen:
                self.error("duplicate", f"duplicate {what} {name!r}", where)
            else:
                seen[name] = item
        return seen

    def expression(self, text: str, schema: Schema, path: str, condition: bool = False):
        """Compile one expression (a boolean one with `condition`), its errors ruleset errors at its position."""
        self.spend(path)
        try:
            evaluator = self.evaluator(
                path, (text, condition),
                lambda: compile_expression(text, schema, path=path, origin=self.origins.get(path), condition=condition),
                lambda state: restore_expression(state, text, schema, condition=condition))
        except CompileError as exc:
            self.errors.extend(exc.errors)
            return None
        self.spend(path, len(evaluator.source))
        self.used_segments.update(evaluator.segment_names)
        self.used_events.update(evaluator.event_names)
        self.windowed_events.update(evaluator.windowed_events)
        return evaluator

    def evaluator(self, path: str, text: tuple, build: Callable, restore: Callable):
        """The evaluator at `path`: restored from `self.stored` when it holds one for this text, else built
        (raising CompileError). Built ones have a condition's `test` or a flowchart's gated function too, so no
        call compiles anything."""
        entry = self.stored.entries.get(path)
        evaluator = None
        if entry is not None and entry[0] == text:
            try:
                evaluator = restore(entry[1])
            except Exception:  # noqa: BLE001 - a stored state that is not whole or not ours is never trusted
                log.warning("the stored compiled form of %s is unusable: compiling it", path)
        if evaluator is None:
            evaluator = build()
            self.stored.compiled += 1
        self.stored.kept[path] = (text, evaluator.stored())
        return evaluator

    def spend(self, path: str, generated: int = 0) -> None:
        """Account for compiling at `path`; past the time or generated-code budget, stop with an error there."""
        self.generated += generated
        if self.generated > MAX_GENERATED_CHARS:
            self.error("too_large", f"the ruleset's expressions generate more than {MAX_GENERATED_CHARS} "
                                    "characters of code", path)
            raise _OverBudget
        if time.monotonic() > self.deadline:
            self.error("compile_budget", f"the ruleset took more than {self.budget:g}s to compile; "
                                         "compiling stopped here", path)
            raise _OverBudget

    def bounds(self) -> None:
        """Refuse a ruleset past its size bounds before compiling any of it."""
        size = self.ruleset.ByteSize()
        if size > MAX_RULESET_BYTES:
            self.error("too_large", f"the ruleset is {size} bytes; the limit is {MAX_RULESET_BYTES}", "")
            return
        segments = sum(len(chart.segments) for chart in self.ruleset.flowcharts)
        if segments > MAX_LIST_ITEMS["segments"]:
            self.error("too_large", f"the flowcharts have {segments} segments; the limit is "
                                    f"{MAX_LIST_ITEMS['segments']}", "flowcharts")
        for path, count, limit in _long_lists(self.ruleset, ""):
            self.error("too_large", f"{count} items; the limit is {limit}", path)
        depth = self.ruleset.settings.max_trigger_depth
        if not 0 <= depth <= MAX_TRIGGER_DEPTH:
            self.error("invalid", f"max_trigger_depth must be 1 to {MAX_TRIGGER_DEPTH} (0: the default, "
                                  f"{DEFAULT_MAX_TRIGGER_DEPTH})", "settings.max_trigger_depth")
        if self.ruleset.settings.default_max_presentations < 0:
            self.error("invalid", "default_max_presentations must not be negative",
                       "settings.default_max_presentations")

    def moment(self, message, name: str, path: str) -> datetime | None:
        """A Timestamp field as an aware datetime (None when unset); one past year 9999 is an error."""
        if not message.HasField(name):
            return None
        try:
            return getattr(message, name).ToDatetime(tzinfo=_UTC)
        except (ValueError, OverflowError, OSError):
            self.error("invalid", f"{name} is out of range (years 1 to 9999)", f"{path}.{name}")
            return None

    def window(self, dated, path: str) -> tuple[datetime | None, datetime | None]:
        """(effective_at, expires_at) of a treatment rule or offer as aware datetimes, None where unset."""
        return self.moment(dated, "effective_at", path), self.moment(dated, "expires_at", path)

    # -- the pipeline -------------------------------------------------------------------------------

    def run(self) -> CompiledRuleset:
        self.bounds()
        if self.errors:
            raise CompileError(self.errors)
        try:
            return self.compile()
        except _OverBudget:
            raise CompileError(self.errors) from None

    def compile(self) -> CompiledRuleset:
        rs = self.ruleset
        if not rs.channel:
            self.error("missing", "a ruleset needs a channel", "channel")
        levels = self.audience_levels()
        attributes = self.unique(rs.attributes, "name", "attribute", "attributes")
        events = self.unique(rs.events, "name", "event", "events")
        triggered = {e for r in rs.rules for a in [*r.then_actions, *r.else_actions]
                     if a.WhichOneof("kind") == "trigger_events" for e in a.trigger_events.events}
        patterns = self.unique(rs.patterns, "name", "pattern", "patterns")
        self.event_names = set(events) | triggered | {f"pattern:{name}" for name in patterns}
        flowchart_segments = {s.name for f in rs.flowcharts for s in f.segments if s.name}
        self.offers = self.unique(rs.offers, "code", "offer", "offers")
        self.points = self.unique(rs.interaction_points, "name", "interaction point", "interaction_points")
        self.journeys = self.unique(rs.journeys, "name", "journey", "journeys")
        self.flowchart_names = {f.name for f in rs.flowcharts}
        self.attribute_names = set(attributes)
        self.base_schema = Schema(
            attributes={name: Attribute(type=self.attribute_type(a, f"attributes[{i}]"))
                        for i, (name, a) in enumerate(attributes.items())},
            event_params={},
            segments=frozenset(flowchart_segments),
            events=frozenset(self.event_names),
            callouts={c.name: c.arity for c in rs.callouts},  # the server validates callouts themselves
            patterns=frozenset(patterns),
            audience_fields=frozenset(f for fields in levels.values() for f in fields),
        )
        self.events = events
        defaults = self.defaults(attributes)
        rules = self.rules()
        flowcharts = self.flowcharts(levels)
        treatments = self.treatments()
        triggers = self.journey_triggers()
        compiled_patterns = self.patterns()
        offer_memory = self.offer_memory()
        settings = rs.settings
        default_level = settings.default_audience_level or (rs.audience_levels[0].name if rs.audience_levels else "")
        if settings.default_audience_level:
            self.check_known(default_level, levels, "audience level", "settings.default_audience_level")
        if self.errors:
            raise CompileError(self.errors)
        self.unused_warnings(flowcharts)
        return CompiledRuleset(
            ruleset=rs,
            digest=ruleset_digest(rs),
            schema=self.base_schema,
            warnings=tuple(self.warnings),
            defaults=defaults,
            events=events,
            parameters={name: tuple((p.name, p.required, TYPE_NAMES.get(p.type, "any")) for p in event.parameters)
                        for name, event in events.items()},
            rules=RuleIndex((r.id, r.events, r) for r in rules),
            flowcharts=flowcharts,
            treatments=treatments,
            offers=self.offers,
            journeys=self.journeys,
            journey_triggers=triggers,
            audience_levels=levels,
            max_trigger_depth=settings.max_trigger_depth or DEFAULT_MAX_TRIGGER_DEPTH,
            default_max_presentations=settings.default_max_presentations or DEFAULT_MAX_PRESENTATIONS,
            default_audience_level=default_level,
            profile_attributes=tuple(a.name for a in attributes.values()
                                     if a.scope == ruleset_pb2.ATTRIBUTE_SCOPE_PROFILE),
            remembered_events=frozenset(self.windowed_events | {e for p in compiled_patterns for e in p.weights}),
            patterns={p.name: p for p in compiled_patterns},
            patterns_by_event={event: tuple(p for p in compiled_patterns if event in p.weights)
                               for event in {e for p in compiled_patterns for e in p.weights}},
            fired_patterns_by_event=fired_patterns_by_event(compiled_patterns, rules, triggers),
            offer_memory=offer_memory,
            sensitive_attributes=frozenset(a.name for a in attributes.values() if a.sensitive),
        )

    def audience_levels(self) -> dict[str, tuple[str, ...]]:
        levels = self.unique(self.ruleset.audience_levels, "name", "audience level", "audience_levels")
        return {name: tuple(level.id_fields) for name, level in levels.items()}

    def defaults(self, attributes: Mapping[str, ruleset_pb2.AttributeDefinition]) -> dict[str, object]:
        """The attributes' default values, each checked against its declared type."""
        defaults = {}
        for i, (name, definition) in enumerate(attributes.items()):
            if not definition.HasField("default_value"):
                continue
            value = from_value(definition.default_value)
            kind = self.base_schema.attributes[name].type
            problem = type_problem(value, kind)
            if problem:
                hint = " (write timestamps unquoted, e.g. 2030-01-31T00:00:00Z)" if kind == "timestamp" else ""
                self.error("type", f"the default of {name!r} is {problem}, not {kind}{hint}", f"attributes[{i}].default")
            else:
                defaults[name] = float(value) if kind == "double" and value is not None else value
        return defaults

    def attribute_type(self, definition, path: str) -> str:
        if definition.type == value_pb2.VALUE_TYPE_UNSPECIFIED:
            self.error("missing", f"attribute {definition.name!r} needs a type", f"{path}.type")
            return "any"
        return TYPE_NAMES[definition.type]

    def event_schema(self, event_names: Iterable[str]) -> Schema:
        """The schema for expressions run on these events: their parameters are readable as event.<name>."""
        params: dict[str, Attribute] = {}
        for name in event_names:
            definition = self.events.get(name)
            for p in definition.parameters if definition else ():
                kind = TYPE_NAMES.get(p.type, "any")
                previous = params.get(p.name)
                params[p.name] = Attribute(type=kind if previous in (None, kind) or previous.type == kind else "any",
                                           nullable=not p.required or previous is not None)
            if definition is None:  # an internal event, only triggered by rules: any parameter
                return Schema(**{**self.base_schema.__dict__, "event_params": None})
        return Schema(**{**self.base_schema.__dict__, "event_params": params})

    def rules(self) -> list[CompiledRule]:
        compiled = []
        self.unique(self.ruleset.rules, "id", "rule", "rules")
        ordered = sorted(enumerate(self.ruleset.rules), key=lambda pair: (pair[1].priority, pair[0]))
        for i, rule in ordered:
            path = f"rules[{i}]"
            if not rule.on:
                self.error("missing", f"rule {rule.id!r} listens to no event: give it `on`", path)
            for j, event in enumerate(rule.on):
                self.check_known(event, self.event_names, "event", f"{path}.on[{j}]")
            self.used_events.update(rule.on)
            schema = self.event_schema(rule.on)
            condition = self.expression(rule.condition, schema, f"{path}.if", condition=True) if rule.condition else None
            then = self.actions(rule.then_actions, schema, f"{path}.then")
            otherwise = self.actions(rule.else_actions, schema, f"{path}.else")
            if rule.disabled:
                self.warn("unreachable_rule", f"rule {rule.id!r} is disabled", path)
                continue
            if condition is not None and _constant_not_true(condition):
                self.warn("unreachable_rule", f"the condition of rule {rule.id!r} is never TRUE", f"{path}.if")
            compiled.append(CompiledRule(rule.id, path, tuple(rule.on), condition, then, otherwise))
        return compiled

    def actions(self, definitions, schema: Schema, path: str) -> tuple[CompiledAction, ...]:
        compiled = []
        for i, definition in enumerate(definitions):
            where = f"{path}[{i}]"
            kind = definition.WhichOneof("kind")
            if kind is None:
                self.error("missing", "an action needs a kind (resegment, log_contact, expression, ...)", where)
                continue
            body = getattr(definition, kind)
            where = f"{where}.{kind}"
            expressions = {}
            for key in _ACTION_EXPRESSIONS.get(kind, ()):
                text = getattr(body, key)
                if key == "response_type":
                    text = self.response_type(text, schema, f"{where}.{key}")
                if text:
                    evaluator = self.expression(text, schema, f"{where}.{key}")
                    if evaluator is not None:
                        expressions[key] = evaluator
                elif key in ("expression", "message"):
                    self.error("missing", f"{kind} needs {key!r}", where)
            self.check_action(kind, body, where, schema, expressions)
            compiled.append(CompiledAction(kind, body, where, expressions, fixed_fields(kind, body),
                                           {key: e.evaluate for key, e in expressions.items()}))
        return tuple(compiled)

    def response_type(self, text: str, schema: Schema, path: str) -> str:
        """`response_type` is an expression like `treatment_code`; a bare word that names no attribute (the
        older form, `response_type: click`) still means that text, with a deprecation warning."""
        word = text.strip()
        if _WORD.fullmatch(word) and word.upper() not in _SQL_WORDS and word not in (schema.attributes or {}):
            self.warn("deprecated", f"response_type {word!r} is read as the text '{word}'; write it as an "
                                    f"expression: \"'{word}'\"", path)
            return f"'{word}'"
        return text

    def check_action(self, kind: str, body, path: str, schema: Schema, expressions: dict) -> None:
        if kind == "resegment":
            for j, name in enumerate(body.flowcharts):
                self.check_known(name, self.flowchart_names, "flowchart", f"{path}.flowcharts[{j}]")
        elif kind == "expression" and body.assign_to:
            self.check_known(body.assign_to, self.attribute_names, "attribute", f"{path}.assign_to")
        elif kind == "trigger_events" and not body.events:
            self.error("missing", "trigger_events needs events", path)
        elif kind == "log_data":
            if not _TABLE_NAME.match(body.table):
                self.error("invalid", f"table name {body.table!r} must be a letter or _ then letters, "
                                      "digits or _ (at most 63)", f"{path}.table")
            for column, text in body.columns.items():
                evaluator = self.expression(text, schema, f"{path}.columns.{column}")
                if evaluator is not None:
                    expressions[column] = evaluator
        elif kind.startswith("journey_"):
            self.check_known(body.journey, self.journeys, "journey", f"{path}.journey")
        elif kind == "suppress_offer":
            self.check_known(body.offer, self.offers, "offer", f"{path}.offer")
        elif kind == "notify" and not body.topic:
            self.error("missing", "notify needs a topic", path)

    def flowcharts(self, levels: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[CompiledFlowchart, ...]]:
        by_level: dict[str, list[CompiledFlowchart]] = {}
        seen = set()
        for i, chart in enumerate(self.ruleset.flowcharts):
            path = f"flowcharts[{i}]"
            level = chart.audience_level or (self.ruleset.audience_levels[0].name
                                             if self.ruleset.audience_levels else "")
            if not chart.name:
                self.error("missing", "a flowchart needs a name", path)
            if (chart.name, level) in seen:
                self.error("duplicate", f"duplicate flowchart {chart.name!r} for audience level {level!r}",
                           f"{path}.name")
            seen.add((chart.name, level))
            self.check_known(level, levels, "audience level", f"{path}.audience_level")
            segments = self.unique(chart.segments, "name", "segment", f"{path}.segments")
            conditions = {s.name: s.condition or "TRUE" for s in segments.values()}
            paths = {s.name: f"{path}.segments[{j}].when" for j, s in enumerate(chart.segments)}
            origins = {name: self.origins[p] for name, p in paths.items() if p in self.origins}
            self.spend(path)
            try:
                evaluator = self.evaluator(
                    path, tuple(conditions.items()),
                    lambda: compile_segments(conditions, self.base_schema, paths=paths, origins=origins,
                                             incremental=True),
                    lambda state: restore_segments(state, conditions, self.base_schema))
            except CompileError as exc:
                self.errors.extend(exc.errors)
                continue
            self.spend(path, len(evaluator.source))
            self.used_segments.update(evaluator.segment_names)
            self.windowed_events.update(evaluator.windowed_events)
            by_level.setdefault(level, []).append(CompiledFlowchart(chart.name, level, evaluator))
        return {level: tuple(charts) for level, charts in by_level.items()}

    def treatments(self) -> dict[str, tuple[CompiledTreatment, ...]]:
        by_point: dict[str, list[CompiledTreatment]] = {}
        self.unique(self.ruleset.treatment_rules, "id", "treatment rule", "treatment_rules")
        offer_windows = {o.code: self.window(o, f"offers[{i}]") for i, o in enumerate(self.ruleset.offers)}
        for i, rule in enumerate(self.ruleset.treatment_rules):
            path = f"treatment_rules[{i}]"
            known = self.check_known(rule.segment, self.base_schema.segments, "segment", f"{path}.segment")
            known &= self.check_known(rule.interaction_point, self.points, "interaction point",
                                      f"{path}.interaction_point")
            known &= self.check_known(rule.offer, self.offers, "offer", f"{path}.offer")
            self.used_segments.add(rule.segment)
            score = self.expression(rule.score or "0", self.base_schema, f"{path}.score")
            eligibility = (self.expression(rule.eligibility, self.base_schema, f"{path}.eligibility",
                                           condition=True) if rule.eligibility else None)
            if known and score is not None:
                offer = self.offers[rule.offer]
                by_point.setdefault(rule.interaction_point, []).append(
                    CompiledTreatment(rule, offer, score, eligibility,
                                      (self.window(rule, path), offer_windows[offer.code])))
        return {point: tuple(items) for point, items in by_point.items()}

    def journey_triggers(self) -> dict[str, tuple[tuple[str, str], ...]]:
        triggers: dict[str, list[tuple[str, str]]] = {}
        for i, journey in enumerate(self.ruleset.journeys):
            for transition, key in (("start", "start_on"), ("continue", "continue_on"), ("stop", "stop_on")):
                for j, event in enumerate(getattr(journey, key)):
                    path = f"journeys[{i}].{key}[{j}]"
                    if not self.check_known(event, self.event_names, "event", path):
                        continue
                    definition = self.events.get(event)
                    if transition != "continue" and definition is not None and definition.interaction:
                        self.error("interaction_trigger", f"interaction event {event!r} may only continue a "
                                                          f"journey, not {transition} it", path)
                    self.used_events.add(event)
                    triggers.setdefault(event, []).append((journey.name, transition))
        return {event: tuple(items) for event, items in triggers.items()}

    def patterns(self) -> list[CompiledPattern]:
        """The event patterns, each checked: a kind, known events, a target above 0, a window or fixed dates."""
        compiled = []
        kinds = ruleset_pb2  # the PATTERN_KIND_* values
        for i, pattern in enumerate(self.ruleset.patterns):
            path = f"patterns[{i}]"
            if pattern.kind == kinds.PATTERN_KIND_UNSPECIFIED:
                self.error("missing", "a pattern needs a kind: all_of, counter or weighted_counter", f"{path}.kind")
            if not pattern.events:
                self.error("missing", f"pattern {pattern.name!r} needs events", path)
            weights: dict[str, float] = {}
            for j, item in enumerate(pattern.events):
                if self.check_known(item.event, self.events, "event", f"{path}.events[{j}].event"):
                    weights[item.event] = weights.get(item.event, 0.0) + (item.weight or 1.0)
                if item.weight < 0:
                    self.error("invalid", "a weight must not be negative", f"{path}.events[{j}].weight")
            self.used_events.update(weights)
            target = {kinds.PATTERN_KIND_COUNTER: pattern.count,
                      kinds.PATTERN_KIND_WEIGHTED_COUNTER: pattern.threshold}.get(pattern.kind, 1)
            if target <= 0:
                field_name = "count" if pattern.kind == kinds.PATTERN_KIND_COUNTER else "threshold"
                self.error("invalid", f"pattern {pattern.name!r} needs a {field_name} above 0", f"{path}.{field_name}")
            window = self.window_seconds(pattern, path) if pattern.HasField("window") else None
            first, last = self.moment(pattern, "starts_at", path), self.moment(pattern, "ends_at", path)
            if pattern.HasField("window") == (first is not None or last is not None) or (first is None) != (last is None):
                self.error("invalid", "a pattern needs either a rolling window (e.g. 30d) or both starts_at and "
                                      "ends_at", path)
            elif first is not None and first >= last:
                self.error("invalid", "starts_at must be before ends_at", f"{path}.ends_at")
            compiled.append(CompiledPattern(
                pattern.name, pattern.kind, weights, float(target), window,
                None if first is None else int(first.timestamp() // 86400),
                None if last is None else int(last.timestamp() // 86400)))
        return compiled

    def window_seconds(self, pattern, path: str) -> int | None:
        """A pattern's rolling window: whole minutes, 1 minute to MAX_WINDOW_DAYS days."""
        seconds = pattern.window.ToNanoseconds() / 1e9
        if seconds % 60 or not 60 <= seconds <= MAX_WINDOW_SECONDS:
            self.error("invalid", f"window must be whole minutes (e.g. 90m, 6h, 30d), 1 minute to {MAX_WINDOW_DAYS} "
                                  f"days", f"{path}.window")
            return None
        return int(seconds)

    def days(self, message, name: str, path: str) -> int | None:
        """A duration field that must be whole days (counters are daily), 1 to MAX_WINDOW_DAYS."""
        seconds = getattr(message, name).ToNanoseconds() / 1e9
        days = seconds / 86400
        if days != int(days) or not 1 <= days <= MAX_WINDOW_DAYS:
            self.error("invalid", f"{name} must be whole days (e.g. 7d), 1 to {MAX_WINDOW_DAYS} days",
                       f"{path}.{name}")
            return None
        return int(days)

    def offer_memory(self) -> dict[str, OfferMemory]:
        remembered = {}
        for i, offer in enumerate(self.ruleset.offers):
            path = f"offers[{i}]"
            per = self.days(offer, "per", path) if offer.HasField("per") else None
            suppress = None
            if offer.HasField("suppress_after_response"):
                suppress = offer.suppress_after_response.ToNanoseconds() / 1e9
                if suppress <= 0:
                    self.error("invalid", "suppress_after_response must be above 0s",
                               f"{path}.suppress_after_response")
            if per is not None or suppress is not None:
                remembered[offer.code] = OfferMemory(per, suppress)
        return remembered

    def unused_warnings(self, flowcharts) -> None:
        for i, chart in enumerate(self.ruleset.flowcharts):
            for j, segment in enumerate(chart.segments):
                if segment.name not in self.used_segments:
                    self.warn("unused_segment", f"segment {segment.name!r} is used by no treatment rule or "
                                                "IN_SEGMENT", f"flowcharts[{i}].segments[{j}]")
        for i, event in enumerate(self.ruleset.events):
            if event.name not in self.used_events:
                self.warn("unused_event", f"event {event.name!r} starts no rule or journey", f"events[{i}]")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _long_lists(message: Message, path: str):
    """(path, length, limit) of every list or map in `message` longer than its bound, at any depth."""
    for fd, value in message.ListFields():
        child = _join(path, field_key(fd))
        if fd.is_repeated:
            limit = MAX_OTHER_LIST_ITEMS if path else MAX_LIST_ITEMS.get(fd.name, MAX_OTHER_LIST_ITEMS)
            if len(value) > limit:
                yield child, len(value), limit
                continue
            if fd.message_type is None:
                continue
            if fd.message_type.GetOptions().map_entry:
                if fd.message_type.fields_by_name["value"].message_type is not None:
                    for key, item in value.items():
                        yield from _long_lists(item, f"{child}.{key}")
            else:
                for i, item in enumerate(value):
                    yield from _long_lists(item, f"{child}[{i}]")
        elif fd.message_type is not None:
            yield from _long_lists(value, child)


def _constant_not_true(evaluator) -> bool:
    """True when a condition reads nothing and is not TRUE: its rule can never fire `then`."""
    if (evaluator.names or evaluator.event_params or evaluator.event_names or evaluator.segment_names
            or evaluator.callouts):
        return False
    try:
        return evaluator({}) is not True
    except Exception:  # it depends on the context after all (e.g. NOW()); it is not constant
        return False


__all__ = ["CompiledPattern", "OfferMemory", "Stored", "CompiledRuleset", "CompiledRule", "CompiledAction", "CompiledFlowchart", "CompiledTreatment",
           "compile_ruleset", "load_and_compile", "ruleset_digest"]
