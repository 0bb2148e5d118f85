"""The checked intermediate representation: small typed nodes, interned so equal subtrees are one object.

Interning is what makes common-subexpression elimination free: two segments that both test `age > 30` hold
the very same node, so the generator can count uses by identity. A node is
`Node(op, args, data, type, nullable)`: `args` are child nodes, `data` an operator symbol, name or constant,
`type` one of schema.TYPES, and `nullable` is False only when the value can never be NULL. The ops
(generate.py has one emitter per op):
    const (data=value)  attr/param (data=name)  and/or (n-ary)  not  isnull  istrue (data=TRUE or FALSE)
    cmp (data="=="|"!="|"<"|...)  between (value, low, high; bounds never NULL)
    in (data=(frozenset of constants, list had NULL))  like (data=like_plan of a constant pattern)
    contains (list, value)  case (cond1, result1, ..., default)  coalesce  arith (data="+"|"-"|"*"|"/"|"%")
    neg  call (data=runtime helper)  ctxcall (data=EvalContext method)  ctxattr (data=attribute)  tuple
"""

from __future__ import annotations

from typing import Any, Iterator


class Node:
    """One interned IR node; compare nodes with `is`."""

    __slots__ = ("op", "args", "data", "type", "nullable")

    def __init__(self, op: str, args: tuple[Node, ...], data: Any, type: str, nullable: bool):
        self.op, self.args, self.data, self.type, self.nullable = op, args, data, type, nullable

    def __repr__(self) -> str:
        inner = ", ".join([repr(self.data)] * (self.data is not None) + [repr(a) for a in self.args])
        return f"{self.op}({inner})"


class Builder:
    """Creates nodes, returning the existing node when an identical one was already built."""

    def __init__(self):
        self._nodes: dict[tuple, Node] = {}

    def node(self, op: str, args: tuple[Node, ...] = (), data: Any = None, type: str = "any",
             nullable: bool = True) -> Node:
        key = (op, tuple(map(id, args)), data if data is None or data.__class__ is str else data_key(data),
               type, nullable)
        found = self._nodes.get(key)
        if found is None:
            found = self._nodes[key] = Node(op, args, data, type, nullable)
        return found

    def const(self, value: Any, type: str) -> Node:
        return self.node("const", (), value, type, value is None)


def tree_size(node: Node) -> int:
    """How many nodes `node` has written out as a tree (shared subtrees counted at each use): linear time."""
    sizes: dict[int, int] = {}

    def size(n: Node) -> int:
        found = sizes.get(id(n))
        if found is None:
            found = sizes[id(n)] = 1 + sum(size(a) for a in n.args)
        return found
    return size(node)


def walk(roots) -> Iterator[Node]:
    """Every distinct node under `roots` (each shared subtree once), in no particular order."""
    seen, stack = set(), list(roots)
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            yield node
            stack.extend(node.args)


def data_key(data: Any) -> Any:
    """A hashable key that keeps 1, 1.0 and True apart (Python treats them as equal dictionary keys)."""
    if isinstance(data, tuple):
        return tuple(data_key(d) for d in data)
    if isinstance(data, frozenset):
        return ("frozenset", tuple(sorted(repr(data_key(d)) for d in data)))
    return (data.__class__.__name__, data)
