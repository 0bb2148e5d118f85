"""compile_expression: one SQL expression -> an Evaluator (parse -> check -> generate -> compile, cached)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from segflow.rules.check import Checked, check
from segflow.rules.compile import load, remembered
from segflow.rules.context import EvalContext
from segflow.rules.errors import TOO_DEEP, CompileError, ErrorSink, TooComplex
from segflow.rules.generate import Generator
from segflow.rules.ir import Builder
from segflow.rules.schema import EMPTY, Schema


class Evaluator:
    """A compiled expression. Call it as `ev(values, ctx=None)` to get the SQL value (None for NULL).

    `values` maps attribute names to values (a missing name is NULL); `ctx` answers event functions, NOW()
    and callouts (a shared default EvalContext when None). For hot loops `ev.evaluate` is the bare generated
    function with the same signature, and `ev.test(values, ctx=None)` is a separately generated function
    (compiled on its first call) returning True exactly when the value is TRUE: use it for conditions, it
    skips telling FALSE from NULL and is about twice as fast on conditions that may be NULL. Introspection:
    `sql` (normalized text), `source` (the generated Python of `evaluate`), `digest` (sha256 of that source), and the names the expression depends on: `names` (attributes),
    `event_params`, `event_names` (from EVENT_COUNT/EVENT_*_TIME/EVENT_LAST_DATA), `segment_names`
    (IN_SEGMENT) and `callouts` (EXTERNALCALLOUT). `root` is the checked IR, kept for rules.explain only.
    """

    __slots__ = ("evaluate", "test", "sql", "source", "digest", "type", "names", "event_params", "event_names",
                 "segment_names", "callouts", "root")

    def __init__(self, evaluate: Callable, checked: Checked, source: str, digest: str, header: str):
        self.evaluate = evaluate
        self.test = lambda values, ctx=None: self._compile_test(header)(values, ctx)
        self.sql, self.source, self.digest, self.type = checked.normalized, source, digest, checked.node.type
        self.names, self.event_params = checked.names, checked.event_params
        self.event_names, self.segment_names, self.callouts = checked.events, checked.segments, checked.callouts
        self.root = checked.node

    def _compile_test(self, header: str) -> Callable:
        """Generate and compile `test` on its first call (a rule's condition needs only `test`, an action's
        expression only `evaluate`), then replace this stub with it."""
        self.test = load(Generator(header).condition(self.root), self.sql)[0]
        return self.test

    def __call__(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> Any:
        return self.evaluate(values, ctx)

    def __repr__(self) -> str:
        return f"Evaluator({self.sql!r})"


def compile_expression(sql: str, schema: Schema | None = None, *, path: str = "",
                       origin: tuple[int, int] | None = None, condition: bool = False) -> Evaluator:
    """Compile one SQL expression (a condition or any value) against `schema` (None: nothing is checked).

    `path` names the expression's place in the ruleset (e.g. "rules[3].if") and `origin` is the (line,
    column) of its first character in the ruleset file; both only decorate errors. With `condition`, a value
    that is not boolean is an error (as a segment's `when`). Raises CompileError listing every problem found.
    """
    schema = schema or EMPTY
    return remembered(("expression", sql, schema.key(), condition),
                      lambda: _compile(sql, schema, path, origin, condition))


def _compile(sql: str, schema: Schema, path: str, origin: tuple[int, int] | None, condition: bool) -> Evaluator:
    sink = ErrorSink(sql, path, origin)
    checked = check(sql, schema, Builder(), sink, boolean=condition)
    if checked is None:
        raise CompileError(sink.errors)
    header = f"segflow expression: {checked.normalized!r}"
    try:
        source = Generator(header).value(checked.node)
        evaluate, digest = load(source, checked.normalized)
    except TooComplex:
        sink.add(TOO_DEEP, "expression is too deeply nested or repetitive to compile", 0)
        raise CompileError(sink.errors) from None
    return Evaluator(evaluate, checked, source, digest, header)
