"""Incremental resegmentation: evaluate only the segments whose inputs changed since a remembered evaluation.

A segment's condition is a pure function of its inputs: the attributes it reads and the context reads whose
answer depends only on the session (EVENT_COUNT('x'), EVENT_FIRST_TIME, EVENT_LAST_TIME, EVENT_LAST_DATA,
IN_SEGMENT, AUDIENCE_LEVEL). A Memo keeps those inputs as last read and the membership bits they gave; the
next evaluation reads them again (one pass, no rule runs), re-evaluates the segments that read an input which
changed, and keeps the other bits. Segments that read anything else (NOW(), callouts, windowed counters,
patterns, the current event's name, sequence or parameters) are volatile: always evaluated. So incremental
membership always equals a full evaluation, whatever happened to the session in between, in whichever process.
A Group reads the inputs of several evaluators (a session's flowcharts) in one pass, and a resegmentation
whose inputs did not change evaluates only the volatile segments.
"""

from __future__ import annotations

from itertools import compress, count, repeat
from operator import attrgetter, call, is_not, itemgetter, methodcaller
from typing import Any, Mapping, NamedTuple

from segflow.rules.context import EvalContext
from segflow.rules.ir import Node, walk

# Context reads that are functions of the session's event statistics, segments and audience level alone.
STABLE_READS = frozenset({"event_count", "event_first_time", "event_last_time", "event_last_data", "in_segment",
                          "audience_level"})


class Dependencies(NamedTuple):
    """What the segments of one evaluator read: per input, the mask of the segments reading it."""

    attributes: tuple[str, ...]
    attribute_masks: tuple[int, ...]
    reads: tuple[tuple[str, tuple, bool], ...]  # (context member, literal arguments, called)
    read_masks: tuple[int, ...]
    volatile: int  # segments evaluated every time
    segments: int


class Memo(NamedTuple):
    """The inputs of one evaluation (a Group's, in its order) and its bits."""

    snapshot: tuple
    bits: int


def dependencies(roots: tuple[Node, ...]) -> Dependencies:
    """The inputs of each root (bit i is roots[i]), found by walking the checked IR."""
    attributes: dict[str, int] = {}
    reads: dict[tuple, int] = {}
    volatile = 0
    for i, root in enumerate(roots):
        bit = 1 << i
        for node in walk((root,)):
            if node.op == "attr":
                attributes[node.data] = attributes.get(node.data, 0) | bit
            elif node.op in ("ctxcall", "ctxattr"):
                if node.data in STABLE_READS and all(a.op == "const" for a in node.args):
                    key = (node.data, tuple(a.data for a in node.args), node.op == "ctxcall")
                    reads[key] = reads.get(key, 0) | bit
                else:
                    volatile |= bit
            elif node.op == "param":
                volatile |= bit
    return Dependencies(tuple(attributes), tuple(attributes.values()), tuple(reads), tuple(reads.values()),
                        volatile, len(roots))


class Group:
    """The inputs of several evaluators (a session's flowcharts) read in one pass: the union of what they read,
    and per input the mask of the segments reading it, evaluator k's segments at the bits `spans[k]` gives
    (offset, mask). An evaluator whose segments are all volatile adds no inputs: it is evaluated anyway."""

    __slots__ = ("attributes", "readers", "masks", "volatile", "spans", "_read")

    def __init__(self, evaluators: tuple):
        attributes: dict[str, int] = {}
        reads: dict[tuple, int] = {}
        spans, volatile, offset = [], 0, 0
        for evaluator in evaluators:
            deps = evaluator.dependencies
            every = (1 << deps.segments) - 1
            spans.append((offset, every))
            volatile |= deps.volatile << offset
            if deps.volatile != every:
                for inputs, names, masks in ((attributes, deps.attributes, deps.attribute_masks),
                                             (reads, deps.reads, deps.read_masks)):
                    for name, mask in zip(names, masks):
                        inputs[name] = inputs.get(name, 0) | mask << offset
            offset += deps.segments
        self.spans, self.volatile = tuple(spans), volatile
        self.attributes = tuple(attributes)
        # Every attribute's value at once, in C (a tuple even for one attribute: the first is asked twice).
        self._read = itemgetter(*self.attributes, *self.attributes[:1]) if self.attributes else lambda values: ()
        self.readers = tuple(methodcaller(member, *args) if called else attrgetter(member)
                             for member, args, called in reads)
        self.masks = (*attributes.values(), *reads.values())

    def changes(self, values: Mapping[str, Any], ctx: EvalContext, inputs: tuple | None) -> tuple[tuple, int]:
        """(the inputs now, the mask of the segments to evaluate: the volatile ones and those reading an input
        that differs from `inputs`; -1, all of them, without `inputs`)."""
        try:
            now = self._read(values)[:len(self.attributes)]
        except KeyError:  # an attribute the session holds no value for (declared after the session started)
            now = tuple(map(values.get, self.attributes))
        if self.readers:
            now += tuple(map(call, self.readers, repeat(ctx)))
        if inputs is None:
            return now, -1
        want, masks = self.volatile, self.masks
        # Values are never changed in place, so an input still holding the same object is unchanged; another
        # object is a change unless it is an equal value of the same type (so 1, 1.0 and TRUE differ).
        for i in compress(count(), map(is_not, inputs, now)):
            before, after = inputs[i], now[i]
            if type(before) is not type(after) or before != after:
                want |= masks[i]
        return now, want


def evaluate(evaluator, want: int, bits: int | None, values: Mapping[str, Any], ctx: EvalContext | None) -> int:
    """The membership bits of `evaluator` now, from its `bits` before and `want`, the mask of its segments to
    evaluate again (-1 or no `bits`: all): the full function when over a third of them are wanted (it shares
    more work than the gated one, which pays to skip), else the gated function for those only."""
    if want < 0 or bits is None:
        return evaluator.bits(values, ctx)
    if not want:
        return bits
    segments = evaluator.dependencies.segments
    if want.bit_count() * 3 > segments:
        return evaluator.bits(values, ctx)
    return (bits & ~want) | evaluator.subset(values, ctx, flags(want, segments))


_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


def flags(want: int, count: int) -> bytes:
    """`want` as one byte per segment, 1 where its bit is set (what the gated function unpacks)."""
    return f"{want:0{count}b}"[::-1].encode().translate(_FLAGS)
