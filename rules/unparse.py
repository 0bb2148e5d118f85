"""IR -> SQL text, so an explanation can name every subexpression the engine evaluated, rewrites included.

The text is that of the checked IR, not the author's spelling: `x NOT IN (1, 2)` reads `NOT x IN (1, 2)`,
BETWEEN with bounds that may be NULL reads as its two comparisons, NULLIF as its CASE, and constant parts are
folded. It parses back to an expression with the same value (tests/rules/test_explain.py checks that).
Operands are parenthesized only where SQL precedence needs it.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any, Callable

from sqlglot import exp

from segflow.rules.functions import AUDIENCE_ID, CAST_TYPES, CONTEXTUAL, EXTRACT_PARTS, SCALARS, WINDOWED
from segflow.rules.ir import Node

_CMP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LOGIC = {"and": " AND ", "or": " OR "}
ATOM = 9
# Binding strength of each operator's text; an operand binding less tightly than its operator needs is
# parenthesized. `||` and unary minus are kept apart from arithmetic so that mixing them always shows.
_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "cmp": 4, "isnull": 4, "istrue": 4, "in": 4, "like": 4,
               "between": 4, "arith+": 5, "arith-": 5, "arith*": 6, "arith/": 6, "arith%": 6, "_concat": 7,
               "neg": 8}
_LIKE_ESCAPE = "!"

# SQL spellings of runtime helpers (the first name listed in functions.py wins: SUBSTR, SIZE).
_FUNCTIONS: dict[tuple, str] = {}
for _name, _fn in SCALARS.items():
    _FUNCTIONS.setdefault((_fn.helper, _fn.leading), _name)
_CAST_NAMES: dict[str, str] = {}
for _name, _type in CAST_TYPES.items():
    _CAST_NAMES.setdefault(_type, _name)
_EXTRACT_NAMES = {part: name for name, part in EXTRACT_PARTS.items()}
_CONTEXT_NAMES = {fn.member: name for name, fn in CONTEXTUAL.items()}
_WINDOW_UNITS = ((604800, "WEEK"), (86400, "DAY"), (3600, "HOUR"), (60, "MINUTE"), (1, "SECOND"))


def sql(node: Node) -> str:
    """The SQL text of `node`."""
    return _text(node)[0]


def literal(value: Any) -> str:
    """A Python value as an SQL literal: NULL, TRUE, 'text' (quotes doubled), 42, TIMESTAMP '...'."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat()}'"
    return repr(value)


def _text(node: Node) -> tuple[str, int]:
    """(text, precedence of its outermost operator)."""
    if node.op == "const":
        text = literal(node.data)
        return text, _PRECEDENCE["neg"] if text.startswith("-") else ATOM
    return _RENDER[node.op](node)


def _operand(node: Node, weakest: int) -> str:
    """The text of `node` as an operand that must bind at least as tightly as `weakest`."""
    text, precedence = _text(node)
    return text if precedence >= weakest else f"({text})"


def _list(nodes: tuple[Node, ...]) -> str:
    return ", ".join(sql(n) for n in nodes)


def _leaf(node: Node) -> tuple[str, int]:
    name = _identifier(node.data)
    return (name if node.op == "attr" else f"event.{name}"), ATOM


@functools.lru_cache(maxsize=4096)
def _identifier(name: str) -> str:
    """`name`, quoted only where SQL needs it (sqlglot's rules; it is slow enough to remember)."""
    return exp.to_identifier(name).sql()


def _logic(node: Node) -> tuple[str, int]:
    own = _PRECEDENCE[node.op]
    return _LOGIC[node.op].join(_operand(a, own) for a in node.args), own


def _not(node: Node) -> tuple[str, int]:
    return f"NOT {_operand(node.args[0], _PRECEDENCE['not'])}", _PRECEDENCE["not"]


def _predicate(node: Node) -> tuple[str, int]:
    """Comparison-level operators: their operands must bind more tightly than a comparison."""
    tight = _PRECEDENCE["cmp"] + 1
    first = _operand(node.args[0], tight)
    if node.op == "cmp":
        text = f"{first} {_CMP[node.data]} {_operand(node.args[1], tight)}"
    elif node.op == "isnull":
        text = f"{first} IS NULL"
    elif node.op == "istrue":
        text = f"{first} IS {literal(node.data)}"
    elif node.op == "between":
        text = f"{first} BETWEEN {_operand(node.args[1], tight)} AND {_operand(node.args[2], tight)}"
    elif node.op == "in":
        values, has_null = node.data
        items = sorted(literal(v) for v in values) + ["NULL"] * has_null
        text = f"{first} IN ({', '.join(items)})"
    else:  # like: the plan's literal text back into a pattern
        text = f"{first} LIKE {_like_pattern(*node.data)}"
    return text, _PRECEDENCE["cmp"]


def _like_pattern(kind: str, literal_text: str) -> str:
    if kind == "match":  # runtime.like_plan's pattern quotes with a backslash; respell it with our escape
        body = re.sub(r"\\(.)|([^%_])", lambda m: _quoted(m.group(1) or m.group(2)), literal_text, flags=re.DOTALL)
    else:
        lead, trail = {"exact": ("", ""), "prefix": ("", "%"), "suffix": ("%", ""), "contains": ("%", "%")}[kind]
        body = lead + "".join(map(_quoted, literal_text)) + trail
    # The escape character only appears in the pattern where it quotes a literal character.
    return literal(body) + (f" ESCAPE '{_LIKE_ESCAPE}'" if _LIKE_ESCAPE in body else "")


def _quoted(char: str) -> str:
    return _LIKE_ESCAPE + char if char in ("%", "_", _LIKE_ESCAPE) else char


def _contains(node: Node) -> tuple[str, int]:
    return f"ARRAY_CONTAINS({_list(node.args)})", ATOM


def _case(node: Node) -> tuple[str, int]:
    *branches, default = node.args
    whens = "".join(f"WHEN {sql(branches[i])} THEN {sql(branches[i + 1])} " for i in range(0, len(branches), 2))
    otherwise = "" if default.op == "const" and default.data is None else f"ELSE {sql(default)} "
    return f"CASE {whens}{otherwise}END", ATOM


def _coalesce(node: Node) -> tuple[str, int]:
    return f"COALESCE({_list(node.args)})", ATOM


def _arith(node: Node) -> tuple[str, int]:
    own = _PRECEDENCE["arith" + node.data]
    left, right = node.args
    return f"{_operand(left, own)} {node.data} {_operand(right, own + 1)}", own


def _neg(node: Node) -> tuple[str, int]:
    return f"-{_operand(node.args[0], ATOM)}", _PRECEDENCE["neg"]


def _call(node: Node) -> tuple[str, int]:
    helper, args = node.data, node.args
    if helper == "_concat":
        own = _PRECEDENCE["_concat"]
        return f"{_operand(args[0], own)} || {_operand(args[1], own + 1)}", own
    if helper == "_like":
        value, pattern, escape = args
        tail = "" if escape.data is None else f" ESCAPE {literal(escape.data)}"
        tight = _PRECEDENCE["cmp"] + 1
        return f"{_operand(value, tight)} LIKE {_operand(pattern, tight)}{tail}", _PRECEDENCE["cmp"]
    if helper == "_cast":
        return f"CAST({sql(args[1])} AS {_CAST_NAMES[args[0].data]})", ATOM
    if args and args[0].op == "const" and (helper, (args[0].data,)) in _FUNCTIONS:
        return f"{_FUNCTIONS[helper, (args[0].data,)]}({_list(args[1:])})", ATOM  # YEAR(x) is _date_part('year', x)
    if (helper, ()) in _FUNCTIONS:
        return f"{_FUNCTIONS[helper, ()]}({_list(args)})", ATOM
    # A date part with no function of its own (DOW, EPOCH) is only reachable through EXTRACT.
    return f"EXTRACT({_EXTRACT_NAMES[args[0].data]} FROM {sql(args[1])})", ATOM


def _context(node: Node) -> tuple[str, int]:
    if node.data == AUDIENCE_ID:
        return f"audience.{node.args[0].data}", ATOM
    args = [a for arg in node.args for a in (arg.args if arg.op == "tuple" else (arg,))]
    if node.data in WINDOWED:  # the window, in seconds, is the last argument: written in its largest whole unit
        seconds = args[-1].data
        count, unit = next((seconds // size, unit) for size, unit in _WINDOW_UNITS if seconds % size == 0)
        return f"{WINDOWED[node.data]}({_list(tuple(args[:-1]))}, INTERVAL '{count}' {unit})", ATOM
    return f"{_CONTEXT_NAMES[node.data]}({_list(tuple(args))})", ATOM


_RENDER: dict[str, Callable[[Node], tuple[str, int]]] = {
    "attr": _leaf, "param": _leaf, "and": _logic, "or": _logic, "not": _not, "cmp": _predicate,
    "isnull": _predicate, "istrue": _predicate, "between": _predicate, "in": _predicate, "like": _predicate,
    "contains": _contains, "case": _case, "coalesce": _coalesce, "arith": _arith, "neg": _neg, "call": _call,
    "ctxcall": _context, "ctxattr": _context, "tuple": lambda node: (_list(node.args), ATOM),
}
