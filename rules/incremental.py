"""Incremental resegmentation: evaluate only the segments whose inputs changed since a remembered evaluation.

A segment's condition is a pure function of its inputs: the attributes it reads and the context reads whose
answer depends only on the session (EVENT_COUNT('x'), EVENT_FIRST_TIME, EVENT_LAST_TIME, EVENT_LAST_DATA,
IN_SEGMENT, AUDIENCE_LEVEL). A Memo keeps those inputs as last read and the membership bits they gave; the
next evaluation reads them again (one pass, no rule runs), re-evaluates the segments that read an input which
changed, and keeps the other bits. Segments that read anything else (NOW(), callouts, windowed counters,
patterns, the current event's name, sequence or parameters) are volatile: always evaluated. So incremental
membership always equals a full evaluation, whatever happened to the session in between, in whichever process.
"""

from __future__ import annotations

from itertools import compress, count
from operator import is_not
from typing import Any, Callable, Mapping, NamedTuple

from segflow.rules.context import DEFAULT_CONTEXT, EvalContext
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
    """The inputs of one evaluation (values and their types, so 1, 1.0 and TRUE differ) and its bits."""

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


def snapshot(deps: Dependencies, values: Mapping[str, Any], ctx: EvalContext) -> tuple:
    """The current value (and type) of every input."""
    attributes = tuple(map(values.get, deps.attributes))
    reads = tuple(getattr(ctx, member)(*args) if called else getattr(ctx, member)
                  for member, args, called in deps.reads)
    return attributes, tuple(map(type, attributes)), reads, tuple(map(type, reads))


def changed(deps: Dependencies, old: tuple, new: tuple) -> int:
    """The mask of segments reading an input that differs between two snapshots."""
    want = 0
    for masks, values, types in ((deps.attribute_masks, 0, 1), (deps.read_masks, 2, 3)):
        before, after = old[values], new[values]
        # Values are never changed in place, so an input still holding the same object is unchanged.
        for i in compress(count(), map(is_not, before, after)):
            if old[types][i] is not new[types][i] or before[i] != after[i]:
                want |= masks[i]
    return want


_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


def flags(want: int, count: int) -> bytes:
    """`want` as one byte per segment, 1 where its bit is set (what the gated function unpacks)."""
    return f"{want:0{count}b}"[::-1].encode().translate(_FLAGS)


def _mostly_new(old: tuple, new: tuple) -> bool:
    """Whether over a quarter of the attributes are other objects: then most segments need evaluating anyway,
    and the full function, which shares more work, is cheaper than finding out which."""
    return sum(map(is_not, old[0], new[0])) * 4 > len(new[0])


def evaluate(bits: Callable, subset: Callable[[Mapping, EvalContext | None, bytes], int], deps: Dependencies,
             values: Mapping[str, Any], ctx: EvalContext | None, memo: Memo | None) -> tuple[int, Memo]:
    """(membership bits, the memo for next time): `bits(values, ctx)` in full without a memo, else
    `subset(values, ctx, want)` for the segments whose inputs changed, merged into the remembered bits."""
    now = snapshot(deps, values, ctx if ctx is not None else DEFAULT_CONTEXT)
    if memo is None or _mostly_new(memo.snapshot, now):
        want = -1
    else:
        want = deps.volatile if now == memo.snapshot else deps.volatile | changed(deps, memo.snapshot, now)
    if not want:
        result = memo.bits
    elif want < 0 or want.bit_count() > deps.segments // 2:
        result = bits(values, ctx)  # the full function shares more work than the gated one
    else:
        result = (memo.bits & ~want) | subset(values, ctx, flags(want, deps.segments))
    return result, Memo(now, result)
