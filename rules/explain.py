"""Why an expression has its value: every subexpression's value and the attributes it read, asked for on demand.

Explaining is a separate, slow path. The compiled evaluators do not change and pay nothing for it: they only
keep their checked IR in a slot (`Evaluator.root`, `SegmentEvaluator.roots`). `explain` walks that IR, and
each node's value is computed by code the generator emits for that one node, with its operands' values as
inputs (compiled once per node shape, verified and cached like any generated code). So the values shown are
the compiled evaluator's values by construction: SQL semantics live only in generate.py and runtime.py.

What gets evaluated. Operands are evaluated left to right and stop where the result is decided, as
`ev(values)` does: after the first FALSE operand of AND, the first TRUE of OR, the first non-NULL argument of
COALESCE; CASE evaluates its conditions up to the first TRUE one and only the result of the branch taken. The
operands not evaluated are listed with `skipped=True` (value None, nothing below them). Condition evaluation
(`ev.test`, segments) may stop earlier, at a NULL operand of AND, so a callout that it never asked can be
asked here. A subexpression that appears several times (interned IR) is evaluated once per explanation, as
in the compiled code, so a callout or NOW() is asked once. Errors of evaluation (TypeError on mismatched
values without a Schema) propagate as they would from the evaluator.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Callable, Mapping

import cachetools

from segflow.rules.compile import load
from segflow.rules.context import EvalContext
from segflow.rules.expression import Evaluator
from segflow.rules.generate import Generator
from segflow.rules.ir import Node, data_key
from segflow.rules.segments import SegmentEvaluator
from segflow.rules.unparse import literal, sql

STEP_CACHE_SIZE = 1024  # distinct node shapes (operator, data, operand types) kept compiled
_LEAVES = ("attr", "param")
_NO_READS: Mapping[str, Any] = MappingProxyType({})
# When an operand's value decides an n-ary operator, so the operands after it are not evaluated.
_DECIDES = {"and": lambda v: v is False, "or": lambda v: v is True, "coalesce": lambda v: v is not None}


@dataclass(frozen=True)
class Explanation:
    """One subexpression: its SQL `text`, its `value` (None for NULL), the `operands` below it, and `reads`.

    `operands` are the explanations of the non-leaf operands, in order (a callout's argument list is spliced
    in). Attribute reads, event parameters and literals are not operands: the attributes (`name`) and event
    parameters (`event.name`) this node reads directly are in `reads` with the value read. `skipped` marks an
    operand that was not evaluated because the result was already decided (see the module docstring).
    """

    text: str
    value: Any
    operands: tuple[Explanation, ...] = ()
    reads: Mapping[str, Any] = field(default_factory=lambda: _NO_READS)
    skipped: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly, shaped like segflow.v1.ExpressionTrace: expression, value, operands, reads (and
        `skipped: true` on skipped operands). Timestamps become ISO 8601 text."""
        result = {"expression": self.text, "value": _jsonable(self.value),
                  "operands": [o.to_dict() for o in self.operands],
                  "reads": {name: _jsonable(v) for name, v in self.reads.items()}}
        if self.skipped:
            result["skipped"] = True
        return result

    def __str__(self) -> str:
        """An indented tree, one subexpression per line: `age > 30 → NULL  (age = NULL)`."""
        return "\n".join(self._lines(""))

    def _lines(self, indent: str) -> list[str]:
        if self.skipped:
            return [f"{indent}{self.text} → not evaluated"]
        reads = ", ".join(f"{name} = {literal(v)}" for name, v in self.reads.items())
        lines = [f"{indent}{self.text} → {literal(self.value)}" + (f"  ({reads})" if reads else "")]
        for operand in self.operands:
            lines += operand._lines(indent + "  ")
        return lines


def explain(evaluator: Evaluator, values: Mapping[str, Any], ctx: EvalContext | None = None) -> Explanation:
    """Explain `evaluator(values, ctx)`: the root's value equals what the evaluator returns."""
    return _Tracer(values, ctx).explain(evaluator.root)


def explain_segments(segments: SegmentEvaluator, values: Mapping[str, Any],
                     ctx: EvalContext | None = None) -> dict[str, Explanation]:
    """Explain every condition of `segments`: {segment name: Explanation}, in the segments' order; a segment
    is entered exactly when its explanation's value is True. Shared subexpressions are evaluated once."""
    tracer = _Tracer(values, ctx)
    return {name: tracer.explain(root) for name, root in zip(segments.names, segments.roots)}


class _Tracer:
    """One explanation pass: the row and context, and each node explained so far (by identity)."""

    def __init__(self, values: Mapping[str, Any], ctx: EvalContext | None):
        self.values, self.ctx = values, ctx
        self.done: dict[int, Explanation] = {}

    def explain(self, node: Node) -> Explanation:
        found = self.done.get(id(node))
        if found is None:
            found = self.done[id(node)] = self._explain(node)
        return found

    def _explain(self, node: Node) -> Explanation:
        if node.op == "const":
            return Explanation(sql(node), node.data)
        if node.op in _LEAVES:
            value = _step(node)(self.values, self.ctx)
            return Explanation(sql(node), value, reads=MappingProxyType({_read_name(node): value}))
        inputs, operands, reads = {}, [], {}
        for i, (arg, explained) in enumerate(zip(node.args, self._operands(node))):
            if explained is None:  # not evaluated; its input stays absent, which the step reads as NULL
                if arg.op not in _LEAVES and arg.op != "const":
                    operands.append(Explanation(sql(arg), None, skipped=True))
                continue
            inputs[str(i)] = explained.value
            if arg.op in _LEAVES:
                reads.update(explained.reads)
            elif arg.op == "tuple":  # a callout's arguments: spliced into the callout
                operands += explained.operands
                reads.update(explained.reads)
            elif arg.op != "const":
                operands.append(explained)
        value = _step(node)(inputs, self.ctx)
        return Explanation(sql(node), value, tuple(operands), MappingProxyType(reads) if reads else _NO_READS)

    def _operands(self, node: Node) -> list[Explanation | None]:
        """The explanations of `node`'s operands, None for those the result does not need."""
        args = node.args
        if node.op == "case":  # (condition, result)*, default: the first TRUE condition picks its result
            taken = len(args) - 1
            for i in range(0, len(args) - 1, 2):
                if self.explain(args[i]).value is True:
                    taken = i + 1
                    break
            return [self.explain(a) if i == taken or (i < taken and i % 2 == 0) else None
                    for i, a in enumerate(args)]
        decides = _DECIDES.get(node.op)
        explained: list[Explanation | None] = []
        decided = False
        for arg in args:
            explained.append(None if decided else self.explain(arg))
            decided = decided or (decides is not None and decides(explained[-1].value))
        return explained


def _read_name(node: Node) -> str:
    return node.data if node.op == "attr" else f"event.{node.data}"


def _shape(node: Node) -> tuple:
    """Everything the code generated for `node` alone depends on; nodes of one shape share one step."""
    operands = tuple((a.op == "const", data_key(a.data) if a.op == "const" else None, a.type, a.nullable)
                     for a in node.args)
    return node.op, data_key(node.data), node.type, node.nullable, operands


@cachetools.cached(cachetools.LRUCache(maxsize=STEP_CACHE_SIZE), key=_shape, lock=threading.Lock())
def _step(node: Node) -> Callable[[Mapping[str, Any], EvalContext | None], Any]:
    """The generated function computing `node` from its operands' values, passed as row['0'], row['1'], ...
    (constant operands stay inline); an attribute or event parameter reads the real row and context."""
    if node.op in _LEAVES:
        alone = node
    else:
        inputs = tuple(a if a.op == "const" else Node("attr", (), str(i), a.type, a.nullable)
                       for i, a in enumerate(node.args))
        alone = Node(node.op, inputs, node.data, node.type, node.nullable)
    header = f"segflow explain step: {node.op}"
    return load(Generator(header).value(alone), header)[0]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
