"""compile_segments: a flowchart's segment conditions -> ONE generated function returning membership bits.

All conditions share one IR builder, so a subexpression that appears in several segments is one node and is
computed at most once per evaluation; every attribute is read once into a local. Bit i of the result is set
when condition i (in the order given) is TRUE; NULL and FALSE both leave it clear.
"""

from __future__ import annotations

from itertools import compress
from types import CodeType
from typing import Any, Callable, Mapping

from segflow.rules import incremental
from segflow.rules.check import check
from segflow.rules.context import DEFAULT_CONTEXT, EvalContext
from segflow.rules.errors import TOO_DEEP, CompileError, ErrorSink, TooComplex
from segflow.rules.generate import Generator
from segflow.rules.compile import Loaded, define, load, remembered, verify
from segflow.rules.functions import windowed_events
from segflow.rules.incremental import Dependencies, Memo, dependencies
from segflow.rules.ir import Builder, Node
from segflow.rules.schema import EMPTY, Schema


# What a SegmentEvaluator is besides its code and IR, in the order SegmentEvaluator.stored() keeps it.
_FIELDS = ("names", "source", "digest", "attributes", "event_params", "event_names", "segment_names", "callouts",
           "windowed_events")


class SegmentEvaluator:
    """Compiled segment conditions. `seg(values, ctx=None)` -> frozenset of the names whose condition is TRUE.

    `seg.bits(values, ctx=None)` is the bare generated function returning the membership int (bit i is
    `names[i]`); `names_of(bits)` turns bits into names. `source`, `digest` and the union of the names the
    conditions depend on (`attributes`, `event_params`, `event_names`, `segment_names`, `callouts`,
    `windowed_events`) are exposed for validation and indexing; `roots` (the checked IR of each condition, in
    `names` order) for rules.explain, built again (the conditions checked again) on its first read.
    `incremental(values, ctx, memo)` evaluates only what changed since `memo` (rules.incremental) with a
    second, gated function, compiled with the first (`compile_segments(..., incremental=True)`), by
    `precompile()` or on first use.
    """

    __slots__ = ("bits", *_FIELDS, "dependencies", "_codes", "_roots", "_rebuild", "_subset", "_group")

    def __init__(self, fields: tuple, dependencies: Dependencies, codes: tuple[CodeType, CodeType | None],
                 rebuild: Callable[[], tuple[Node, ...]]):
        """`fields` in _FIELDS order; `codes` the verified modules of `bits` and the gated function (None: not
        yet); `rebuild()` checks the conditions again and returns their IR. The IR is not kept from the
        compile: a process would carry it for nothing but explain, and each garbage collection traverse it."""
        for name, value in zip(_FIELDS, fields, strict=True):
            setattr(self, name, value)
        self.dependencies, self._codes, self._roots, self._rebuild = dependencies, codes, None, rebuild
        self._group = None  # the incremental.Group of this evaluator alone, for `incremental`
        self.bits = define(codes[0])
        self._subset = define(codes[1]) if codes[1] is not None else None

    @property
    def roots(self) -> tuple[Node, ...]:
        if self._roots is None:
            self._roots = self._rebuild()
        return self._roots

    def incremental(self, values: Mapping[str, Any], ctx: EvalContext | None,
                    memo: Memo | None) -> tuple[int, Memo]:
        """(bits, memo for next time), equal to `bits(values, ctx)`, evaluating only the segments whose inputs
        changed since `memo` (all of them without one) and the volatile ones."""
        if self._group is None:
            self._group = incremental.Group((self,))
        inputs, want = self._group.changes(values, DEFAULT_CONTEXT if ctx is None else ctx,
                                           None if memo is None else memo.snapshot)
        bits = incremental.evaluate(self, want, None if memo is None else memo.bits, values, ctx)
        return bits, Memo(inputs, bits)

    def subset(self, values: Mapping[str, Any], ctx: EvalContext | None, want: bytes) -> int:
        """The bits of the segments whose byte in `want` is 1 (rules.incremental.flags) only."""
        return (self._subset or self.precompile())(values, ctx, want)

    def precompile(self) -> Callable:
        """Compile the gated function `subset` runs now (at deploy, not on the first call that needs it)."""
        if self._subset is None:
            loaded = _gated(self.roots, self.digest)
            self._codes, self._subset = (self._codes[0], loaded.code), loaded.function
        return self._subset

    def stored(self) -> tuple:
        """What `restored` rebuilds this evaluator from without sqlglot: plain values and code objects."""
        return tuple(getattr(self, name) for name in _FIELDS), tuple(self.dependencies), self._codes

    @classmethod
    def restored(cls, state: tuple, rebuild: Callable[[], tuple[Node, ...]]) -> SegmentEvaluator:
        """The evaluator `stored()` returned `state` for; its code is verified first (ValueError when it is
        not ours). `rebuild()` returns the checked IR of the conditions, needed only for `roots`."""
        fields, dependencies, codes = state
        for code in codes:
            if code is not None:
                verify(code)
        return cls(tuple(fields), Dependencies(*dependencies), tuple(codes), rebuild)

    def __call__(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> frozenset[str]:
        return self.names_of(self.bits(values, ctx))

    def names_of(self, bits: int) -> frozenset[str]:
        return frozenset(compress(self.names, incremental.flags(bits, len(self.names)))) if bits else frozenset()

    def __repr__(self) -> str:
        return f"SegmentEvaluator({len(self.names)} segments)"


def compile_segments(conditions: Mapping[str, str], schema: Schema | None = None, *,
                     paths: Mapping[str, str] | None = None,
                     origins: Mapping[str, tuple[int, int]] | None = None,
                     incremental: bool = False) -> SegmentEvaluator:
    """Compile {segment name: condition SQL} into one SegmentEvaluator (with `incremental`, its gated
    function too, as a deploy does: no call compiles it then).

    `paths`/`origins` give, per segment name, the ruleset path and (line, column) in the file used in errors
    (the path defaults to the segment name). Raises CompileError with the errors of every condition.
    """
    schema = schema or EMPTY
    key = ("segments", tuple(conditions.items()), schema.key(), incremental)
    return remembered(key, lambda: _compile(conditions, schema, paths or {}, origins or {}, incremental))


def restore_segments(state: tuple, conditions: Mapping[str, str], schema: Schema | None = None) -> SegmentEvaluator:
    """The evaluator of `compile_segments(conditions, schema)` from its `stored()` state, without compiling it
    (ValueError when its code is not ours)."""
    return SegmentEvaluator.restored(state, _rebuild(conditions, schema or EMPTY))


def _rebuild(conditions: Mapping[str, str], schema: Schema) -> Callable[[], tuple[Node, ...]]:
    """What checks the conditions again, in one builder as the compile did, for their IR (they compiled
    before, so they check)."""
    texts = tuple(conditions.values())

    def roots() -> tuple[Node, ...]:
        builder = Builder()
        return tuple(check(sql, schema, builder, ErrorSink(sql, "", None), boolean=True).node for sql in texts)
    return roots


def _gated(roots: tuple[Node, ...], digest: str) -> Loaded:
    """The gated function of the segments `roots` (rules.incremental), compiled."""
    return load(Generator(f"segflow segments subset: {digest}").segments(list(roots), gated=True),
                f"segments subset {digest}")


def _compile(conditions: Mapping[str, str], schema: Schema, paths: Mapping[str, str],
             origins: Mapping[str, tuple[int, int]], incremental: bool) -> SegmentEvaluator:
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
    roots = tuple(c.node for c in checked)
    source = Generator(f"segflow segments: {filename!r}").segments(list(roots))
    try:
        loaded = load(source, filename)
        gated = _gated(roots, loaded.digest).code if incremental else None
    except TooComplex:
        # Each condition passed its own limits; only all of them together are too much for CPython.
        name = names[0]
        sink = ErrorSink(conditions[name], paths.get(name, name), origins.get(name))
        sink.add(TOO_DEEP, f"the {len(names)} conditions together are too large to compile as one function", 0)
        raise CompileError(sink.errors) from None

    def union(reads: str) -> frozenset[str]:
        return frozenset().union(*(getattr(c, reads) for c in checked))
    fields = (names, source, loaded.digest, union("names"), union("event_params"), union("events"),
              union("segments"), union("callouts"), windowed_events(roots))
    return SegmentEvaluator(fields, dependencies(roots), (loaded.code, gated), _rebuild(conditions, schema))
