"""compile_segments: a flowchart's segment conditions -> ONE generated function returning membership bits.

All conditions share one IR builder, so a subexpression that appears in several segments is one node and is
computed at most once per evaluation; every attribute is read once into a local. Bit i of the result is set
when condition i (in the order given) is TRUE; NULL and FALSE both leave it clear.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from segflow.rules import incremental
from segflow.rules.check import check
from segflow.rules.context import EvalContext
from segflow.rules.errors import TOO_DEEP, CompileError, ErrorSink, TooComplex
from segflow.rules.generate import Generator
from segflow.rules.compile import load, remembered
from segflow.rules.incremental import Dependencies, Memo, dependencies
from segflow.rules.ir import Builder
from segflow.rules.schema import EMPTY, Schema


class SegmentEvaluator:
    """Compiled segment conditions. `seg(values, ctx=None)` -> frozenset of the names whose condition is TRUE.

    `seg.bits(values, ctx=None)` is the bare generated function returning the membership int (bit i is
    `names[i]`); `names_of(bits)` turns bits into names. `source`, `digest` and the union of the names the
    conditions depend on (`attributes`, `event_params`, `event_names`, `segment_names`, `callouts`) are exposed
    for validation and indexing; `roots` (the checked IR of each condition, in `names` order) for rules.explain.
    `incremental(values, ctx, memo)` evaluates only what changed since `memo` (rules.incremental).
    """

    __slots__ = ("bits", "names", "source", "digest", "attributes", "event_params", "event_names",
                 "segment_names", "callouts", "roots", "_dependencies", "_subset")

    def __init__(self, bits: Callable, names: tuple[str, ...], source: str, digest: str, checked: list):
        self.bits, self.names, self.source, self.digest = bits, names, source, digest
        self.attributes = frozenset().union(*(c.names for c in checked))
        self.event_params = frozenset().union(*(c.event_params for c in checked))
        self.event_names = frozenset().union(*(c.events for c in checked))
        self.segment_names = frozenset().union(*(c.segments for c in checked))
        self.callouts = frozenset().union(*(c.callouts for c in checked))
        self.roots = tuple(c.node for c in checked)
        self._dependencies: Dependencies | None = None
        self._subset: Callable | None = None

    def incremental(self, values: Mapping[str, Any], ctx: EvalContext | None,
                    memo: Memo | None) -> tuple[int, Memo]:
        """(bits, memo for next time), equal to `bits(values, ctx)`, evaluating only the segments whose inputs
        changed since `memo` (all of them without one) and the volatile ones."""
        if self._dependencies is None:
            self._dependencies = dependencies(self.roots)
        return incremental.evaluate(self.bits, self.subset, self._dependencies, values, ctx, memo)

    def subset(self, values: Mapping[str, Any], ctx: EvalContext | None, want: bytes) -> int:
        """The bits of the segments whose byte in `want` is 1 (rules.incremental.flags) only: a second
        generated function, compiled on first use."""
        if self._subset is None:
            source = Generator(f"segflow segments subset: {self.digest}").segments(list(self.roots), gated=True)
            self._subset = load(source, f"segments subset {self.digest}")[0]
        return self._subset(values, ctx, want)

    def __call__(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> frozenset[str]:
        return self.names_of(self.bits(values, ctx))

    def names_of(self, bits: int) -> frozenset[str]:
        names, members = self.names, []
        while bits:
            lowest = bits & -bits
            members.append(names[lowest.bit_length() - 1])
            bits ^= lowest
        return frozenset(members)

    def __repr__(self) -> str:
        return f"SegmentEvaluator({len(self.names)} segments)"


def compile_segments(conditions: Mapping[str, str], schema: Schema | None = None, *,
                     paths: Mapping[str, str] | None = None,
                     origins: Mapping[str, tuple[int, int]] | None = None) -> SegmentEvaluator:
    """Compile {segment name: condition SQL} into one SegmentEvaluator.

    `paths`/`origins` give, per segment name, the ruleset path and (line, column) in the file used in errors
    (the path defaults to the segment name). Raises CompileError with the errors of every condition.
    """
    schema = schema or EMPTY
    key = ("segments", tuple(conditions.items()), schema.key())
    return remembered(key, lambda: _compile(conditions, schema, paths or {}, origins or {}))


def _compile(conditions: Mapping[str, str], schema: Schema, paths: Mapping[str, str],
             origins: Mapping[str, tuple[int, int]]) -> SegmentEvaluator:
    builder, errors, checked = Builder(), [], []
    for name, sql in conditions.items():
        sink = ErrorSink(sql, paths.get(name, name), origins.get(name))
        result = check(sql, schema, builder, sink, boolean=True)
        errors += sink.errors
        checked.append(result)
    if errors:
        raise CompileError(errors)
    names = tuple(conditions)
    filename = "\n".join(f"{name}: {c.normalized}" for name, c in zip(names, checked))
    source = Generator(f"segflow segments: {filename!r}").segments([c.node for c in checked])
    try:
        bits, digest = load(source, filename)
    except TooComplex:
        # Each condition passed its own limits; only all of them together are too much for CPython.
        name = names[0]
        sink = ErrorSink(conditions[name], paths.get(name, name), origins.get(name))
        sink.add(TOO_DEEP, f"the {len(names)} conditions together are too large to compile as one function", 0)
        raise CompileError(sink.errors) from None
    return SegmentEvaluator(bits, names, source, digest, checked)
