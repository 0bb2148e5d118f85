"""compile_expression: one SQL expression -> an Evaluator (parse -> check -> generate -> compile, cached)."""

from __future__ import annotations

from types import CodeType
from typing import Any, Callable, Mapping

from segflow.rules.check import check
from segflow.rules.compile import define, load, remembered, verify
from segflow.rules.context import EvalContext
from segflow.rules.errors import TOO_DEEP, CompileError, ErrorSink, TooComplex
from segflow.rules.functions import windowed_events
from segflow.rules.generate import Generator
from segflow.rules.ir import Builder, Node
from segflow.rules.schema import EMPTY, Schema

# What an Evaluator is besides its code and IR, in the order Evaluator.stored() keeps it.
_FIELDS = ("sql", "source", "digest", "type", "names", "event_params", "event_names", "segment_names", "callouts",
           "windowed_events")


class Evaluator:
    """A compiled expression. Call it as `ev(values, ctx=None)` to get the SQL value (None for NULL).

    `values` maps attribute names to values (a missing name is NULL); `ctx` answers event functions, NOW()
    and callouts (a shared default EvalContext when None). For hot loops `ev.evaluate` is the bare generated
    function with the same signature, and `ev.test(values, ctx=None)` is a separately generated function
    (compiled on its first call, or by `precompile()`) returning True exactly when the value is TRUE: use it for
    conditions, it skips telling FALSE from NULL and is about twice as fast on conditions that may be NULL.
    Introspection: `sql` (normalized text), `source` (the generated Python of `evaluate`), `digest` (sha256 of
    that source), and the names the expression depends on: `names` (attributes), `event_params`, `event_names`
    (from EVENT_COUNT/EVENT_*_TIME/EVENT_LAST_DATA), `segment_names` (IN_SEGMENT), `callouts`
    (EXTERNALCALLOUT) and `windowed_events` (windowed counters). `root` is the checked IR, for rules.explain
    only: it is built again (the text checked again) on its first read.
    """

    __slots__ = ("evaluate", "test", *_FIELDS, "_codes", "_root", "_rebuild")

    def __init__(self, fields: tuple, codes: tuple[CodeType, CodeType | None], rebuild: Callable[[], Node]):
        """`fields` in _FIELDS order; `codes` the verified modules of `evaluate` and `test` (None: not yet);
        `rebuild()` checks the text again and returns its IR. The IR is not kept from the compile: a process
        holding thousands of rules would carry it for nothing but explain, and each garbage collection would
        traverse it."""
        for name, value in zip(_FIELDS, fields, strict=True):
            setattr(self, name, value)
        self._codes, self._root, self._rebuild = codes, None, rebuild
        self.evaluate = define(codes[0])
        self.test = define(codes[1]) if codes[1] is not None else self._compile_test

    @property
    def root(self) -> Node:
        if self._root is None:
            self._root = self._rebuild()
        return self._root

    def _compile_test(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> Any:
        """The stub `test` until its first call, which compiles it (a rule's condition needs only `test`,
        an action's expression only `evaluate`) and replaces this stub with it."""
        return self.precompile()(values, ctx)

    def precompile(self) -> Callable:
        """Compile `test` now (at deploy, not on the first call that needs it); returns it."""
        if self._codes[1] is None:
            loaded = load(Generator(f"segflow expression: {self.sql!r}").condition(self.root), self.sql)
            self._codes, self.test = (self._codes[0], loaded.code), loaded.function
        return self.test

    def stored(self) -> tuple:
        """What `restored` rebuilds this evaluator from without sqlglot: plain values and code objects."""
        return tuple(getattr(self, name) for name in _FIELDS), self._codes

    @classmethod
    def restored(cls, state: tuple, rebuild: Callable[[], Node]) -> Evaluator:
        """The evaluator `stored()` returned `state` for; its code is verified first (ValueError when it is
        not ours). `rebuild()` returns the checked IR, needed only for `root`."""
        fields, codes = state
        for code in codes:
            if code is not None:
                verify(code)
        return cls(tuple(fields), tuple(codes), rebuild)

    def __call__(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> Any:
        return self.evaluate(values, ctx)

    def __repr__(self) -> str:
        return f"Evaluator({self.sql!r})"


def compile_expression(sql: str, schema: Schema | None = None, *, path: str = "",
                       origin: tuple[int, int] | None = None, condition: bool = False) -> Evaluator:
    """Compile one SQL expression (a condition or any value) against `schema` (None: nothing is checked).

    `path` names the expression's place in the ruleset (e.g. "rules[3].if") and `origin` is the (line,
    column) of its first character in the ruleset file; both only decorate errors. With `condition`, a value
    that is not boolean is an error (as a segment's `when`), and `test` is compiled now too. Raises
    CompileError listing every problem found.
    """
    schema = schema or EMPTY
    return remembered(("expression", sql, schema.key(), condition),
                      lambda: _compile(sql, schema, path, origin, condition))


def restore_expression(state: tuple, sql: str, schema: Schema | None = None, *, condition: bool = False) -> Evaluator:
    """The evaluator of `compile_expression(sql, schema, condition=condition)` from its `stored()` state,
    without compiling it (ValueError when its code is not ours)."""
    return Evaluator.restored(state, _rebuild(sql, schema or EMPTY, condition))


def _rebuild(sql: str, schema: Schema, condition: bool) -> Callable[[], Node]:
    """What checks `sql` again for its IR (it compiled before, so it checks)."""
    return lambda: check(sql, schema, Builder(), ErrorSink(sql, "", None), boolean=condition).node


def _compile(sql: str, schema: Schema, path: str, origin: tuple[int, int] | None, condition: bool) -> Evaluator:
    sink = ErrorSink(sql, path, origin)
    checked = check(sql, schema, Builder(), sink, boolean=condition)
    if checked is None:
        raise CompileError(sink.errors)
    header = f"segflow expression: {checked.normalized!r}"
    try:
        source = Generator(header).value(checked.node)
        loaded = load(source, checked.normalized)
        test = load(Generator(header).condition(checked.node), checked.normalized).code if condition else None
    except TooComplex:
        sink.add(TOO_DEEP, "expression is too deeply nested or repetitive to compile", 0)
        raise CompileError(sink.errors) from None
    fields = (checked.normalized, source, loaded.digest, checked.node.type, checked.names, checked.event_params,
              checked.events, checked.segments, checked.callouts, windowed_events((checked.node,)))
    return Evaluator(fields, (loaded.code, test), _rebuild(sql, schema, condition))
