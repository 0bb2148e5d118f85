"""Stage 3: IR -> Python source for one function, with SQL three-valued logic and shared-subexpression reuse.

Each node is emitted in one of three modes. VALUE gives the SQL value (None for NULL). TRUE gives a Python
bool that is True exactly when the value is TRUE, FALSE exactly when it is FALSE. Conditions only ever ask
"is it TRUE?", and in those modes NULL needs no representation at all: `a AND b` is TRUE iff both are, so
it becomes plain `and`; NOT flips TRUE and FALSE mode; a comparison adds an `is not None` test only for
operands that may be NULL (and none for `=` against a never-NULL side, since `None == x` is already False).
VALUE mode of a boolean that may be NULL is built from the other two.

Every (node, mode) used more than once is computed once per call into a local. If its first use is
evaluated unconditionally, it becomes a statement before the rule that first needs it; otherwise it is
computed on first use (`m if m is not _U else (m := ...)`), so a shared callout behind a false AND is never
called; a comparison of plain locals is simply repeated there instead, which is cheaper than that test.
Attributes and event parameters are read once into locals at the top of the function.

The emitters below are the only source of generated code: names are generated (`a0`, `m3`, `_t1`) or come
from runtime.HELPERS, user text only ever appears inside repr() of a validated str/int/float/bool literal.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from datetime import datetime
from typing import Callable

from segflow.rules.errors import TooComplex
from segflow.rules.ir import Node

VALUE, TRUE, FALSE = "value", "true", "false"
FUNCTION = "_evaluate"  # the name of the generated function in the generated module
# A lazily shared value repeats its code at each use, which nesting can compound; past this, refuse.
MAX_SOURCE_CHARS = 1_000_000

_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_LIKE_TESTS = {"prefix": "{x}.startswith({lit})", "suffix": "{x}.endswith({lit})", "contains": "({lit} in {x})"}


class Generator:
    """Builds the source of one module defining `_evaluate(row, ctx=None)`.

    `value(root)` makes the function return the root's SQL value, `condition(root)` whether it is TRUE, and
    `segments(roots)` an int whose bit i is set when roots[i] is TRUE.
    """

    def __init__(self, header: str):
        """`header` becomes the generated module's first line (a comment); make one Generator per function."""
        self.header = header
        self.leaves: dict[tuple[str, str], str] = {}      # ("attr"|"param", name) -> local
        self.constants: dict[str, str] = {}               # module-level definition -> global name
        self.uses: Counter = Counter()                    # (id(node), mode) -> number of uses
        self.memo: dict[tuple[int, str], str] = {}        # shared (id(node), mode) -> local
        self.memo_code: dict[str, str] = {}               # lazily computed local -> its expression
        self.counting = True
        self.unconditional = True
        self.uses_context = False
        self.pending: list[str] = []
        self.temps = 0

    # -- entry points ----------------------------------------------------------------------------------
    def fresh(self) -> Generator:
        """A new generator with the same header, for another function of the same expression."""
        return Generator(self.header)

    def value(self, root: Node) -> str:
        return self._module([(root, VALUE)], lambda i, code: f"return {code}", "")

    def condition(self, root: Node) -> str:
        return self._module([(root, TRUE)], lambda i, code: f"return {code}", "")

    def segments(self, roots: list[Node]) -> str:
        # Past 64 bits the literal would be long digits (1 << 9999 has 3,010): shift at run time, on a match.
        statement = lambda i, code: f"if {code}:\n        b |= {1 << i if i < 64 else f'1 << {i}'}"  # noqa: E731
        return self._module([(root, TRUE) for root in roots], statement, "return b")

    def _module(self, roots: list[tuple[Node, str]], statement: Callable[[int, str], str], tail: str) -> str:
        for node, mode in roots:  # pass 1: count uses of every (node, mode)
            self.emit(node, mode)
        self.counting, self.temps = False, 0
        body = []
        for i, (node, mode) in enumerate(roots):  # pass 2: emit, sharing what pass 1 found used twice
            self.pending, self.unconditional = [], True
            code = self.emit(node, mode)
            body += self.pending + [statement(i, code)]
        prologue = []
        if self.uses_context or any(kind == "param" for kind, _ in self.leaves):
            prologue.append("if ctx is None:\n        ctx = _CTX")
        # Binding the bound method once pays off from the third read; below that a method call is cheaper.
        readers = {"attr": "row.get", "param": "ctx.event_params.get"}
        for kind, reader in readers.items():
            if sum(k == kind for k, _ in self.leaves) > 2:
                prologue.append(f"{kind} = {reader}")
                readers[kind] = kind
        prologue += [f"{local} = {readers[kind]}({name!r})" for (kind, name), local in self.leaves.items()]
        if self.memo_code:
            prologue.append("_U = _UNSET")
            prologue += [f"{local} = _U" for local in self.memo_code]
        if tail:
            prologue.append("b = 0")
            body.append(tail)
        definitions = [f"{name} = {definition}" for definition, name in self.constants.items()]
        lines = "\n    ".join(prologue + body)
        if len(lines) > MAX_SOURCE_CHARS:
            raise TooComplex(f"generated function of {len(lines)} characters")
        return "\n".join([f"# {self.header}", *definitions, f"def {FUNCTION}(row, ctx=None):", f"    {lines}", ""])

    # -- the shared-subexpression machinery ------------------------------------------------------------
    def emit(self, node: Node, mode: str) -> str:
        """Python source computing `node` in `mode`, reusing a local when the pair is used more than once."""
        if node.op in ("const", "attr", "param"):
            return self.render(node, mode)  # already a literal or a local
        key = (id(node), mode)
        if self.counting:
            self.uses[key] += 1
            # Later uses need no text: pass 1 output is only counted, and repeating it would compound.
            return self.render(node, mode) if self.uses[key] == 1 else "_seen"
        if self.uses[key] < 2:
            return self.render(node, mode)
        local = self.memo.get(key)
        if local is None and not self.unconditional and _cheap(node):
            return self.render(node, mode)  # recomputing beats the lazy-memo test; a later first use may hoist
        if local is None:
            local = self.memo[key] = f"m{len(self.memo)}"
            code = self.render(node, mode)
            if self.unconditional:
                self.pending.append(f"{local} = {code}")
            elif len(code) > MAX_SOURCE_CHARS:
                raise TooComplex(f"shared subexpression of {len(code)} characters")
            else:
                self.memo_code[local] = code
        if local in self.memo_code:
            return f"({local} if {local} is not _U else ({local} := {self.memo_code[local]}))"
        return local

    @contextmanager
    def branch(self):
        """Emit code that runs only on some paths (right of AND/OR, a later CASE branch)."""
        saved, self.unconditional = self.unconditional, False
        try:
            yield
        finally:
            self.unconditional = saved

    def render(self, node: Node, mode: str) -> str:
        if node.op == "const":
            return self.literal(node.data) if mode == VALUE else str(node.data is (mode == TRUE))
        if node.op in _TRUTH:
            if mode != VALUE:
                return _TRUTH[node.op](self, node, mode == TRUE)
            if not node.nullable:
                return self.emit(node, TRUE)
            when_true = self.emit(node, TRUE)
            with self.branch():
                when_false = self.emit(node, FALSE)
            return f"(True if {when_true} else (False if {when_false} else None))"
        if node.op == "case":
            return _case(self, node, mode)
        value = _VALUE[node.op](self, node)
        if mode == VALUE:
            return value
        if not node.nullable:
            return value if mode == TRUE else f"(not {value})"
        return f"({value} is {mode == TRUE})"

    def temp(self, code: str, nullable: bool) -> tuple[str, str | None]:
        """For a value that may be NULL and so is used twice (NULL test, then the operation): (the name to use
        after the test, the expression to test), binding non-trivial code to a temporary. (code, None) when
        no NULL test is needed."""
        if not nullable:
            return code, None
        if code.isidentifier():
            return code, code
        self.temps += 1
        name = f"_t{self.temps}"
        return name, f"({name} := {code})"

    def leaf(self, kind: str, name: str) -> str:
        key = (kind, name)
        if key not in self.leaves:
            self.leaves[key] = f"{kind[0]}{len(self.leaves)}"
        return self.leaves[key]

    def constant(self, definition: str) -> str:
        if definition not in self.constants:
            self.constants[definition] = f"_K{len(self.constants)}"
        return self.constants[definition]

    def literal(self, value) -> str:
        if isinstance(value, datetime):
            return self.constant(f"_timestamp({value.isoformat()!r})")
        text = repr(value)
        return f"({text})" if text.startswith("-") else text


_CHEAP_OPS = frozenset({"cmp", "isnull", "istrue", "in", "not", "between"})


def _cheap(node: Node) -> bool:
    """A test of plain locals and literals: cheaper to repeat than to memoize lazily."""
    return node.op in _CHEAP_OPS and all(a.op in ("const", "attr", "param") for a in node.args)


# -- emitters: TRUE/FALSE mode of boolean operators ----------------------------------------------------
def _and_or(g: Generator, node: Node, truth: bool) -> str:
    # TRUE of AND is all TRUE; FALSE of AND is any FALSE; OR is the mirror image.
    joiner = " and " if (node.op == "and") == truth else " or "
    parts = [g.emit(node.args[0], TRUE if truth else FALSE)]
    with g.branch():
        parts += [g.emit(arg, TRUE if truth else FALSE) for arg in node.args[1:]]
    return f"({joiner.join(parts)})"


def _not(g: Generator, node: Node, truth: bool) -> str:
    return g.emit(node.args[0], FALSE if truth else TRUE)


def _isnull(g: Generator, node: Node, truth: bool) -> str:
    return f"({g.emit(node.args[0], VALUE)} is {'' if truth else 'not '}None)"


def _istrue(g: Generator, node: Node, truth: bool) -> str:
    return f"({g.emit(node.args[0], VALUE)} is {'' if truth else 'not '}{node.data})"


def _cmp(g: Generator, node: Node, truth: bool) -> str:
    op = node.data if truth else _NEGATED[node.data]
    left, right = node.args
    # `None == x` is False for any non-NULL x, so equality against a never-NULL side needs no NULL test.
    tests_needed = not (op == "==" and not (left.nullable and right.nullable))
    tests, codes = [], []
    for arg in node.args:
        plain = _plain(g, arg) if arg.op in ("arith", "neg") else None
        if plain is not None:
            codes.append(plain[0])
            tests += [t for t in plain[1] if t not in tests]
        else:
            code, test = g.temp(g.emit(arg, VALUE), arg.nullable and tests_needed)
            codes.append(code)
            tests.append(test)
    return _guarded(tests, f"{codes[0]} {op} {codes[1]}")


def _plain(g: Generator, node: Node) -> tuple[str, list[str]] | None:
    """(code, locals that must not be NULL) for +, -, * and unary minus over attributes and literals: such
    a tree is NULL exactly when one of those locals is, so one up-front test replaces a test per operator."""
    if node.op in ("attr", "param"):
        name = g.emit(node, VALUE)
        return name, [name] if node.nullable else []
    if node.op == "const" and node.data is not None:
        return g.literal(node.data), []
    parts = [_plain(g, arg) for arg in node.args] if node.op in ("arith", "neg") else [None]
    if None in parts or (node.op == "arith" and node.data not in "+-*"):
        return None
    tests = [t for _, part_tests in parts for t in part_tests]
    if node.op == "neg":
        return f"(-{parts[0][0]})", tests
    return f"({parts[0][0]} {node.data} {parts[1][0]})", tests


def _between(g: Generator, node: Node, truth: bool) -> str:
    value, low, high = (g.emit(a, VALUE) for a in node.args)
    name, test = g.temp(value, node.nullable)
    check = f"{low} <= {name} <= {high}"
    return _guarded([test], check if truth else f"not ({check})")


def _contains(g: Generator, node: Node, truth: bool) -> str:
    # ARRAY_CONTAINS(l, x) is x = ANY(l): FALSE for an empty list, else FALSE only for a non-NULL x missing
    # from a list without NULLs.
    values, value = node.args
    lname, ltest = g.temp(g.emit(values, VALUE), values.nullable)
    if truth:
        name, test = g.temp(g.emit(value, VALUE), value.nullable)
        return _guarded([ltest, test], f"{name} in {lname}")
    with g.branch():
        name, test = g.temp(g.emit(value, VALUE), value.nullable)
    return _guarded([ltest], f"(not {lname} or {_guarded([test], f'{name} not in {lname} and None not in {lname}')})")


def _guarded(tested: list[str | None], check: str) -> str:
    """`check`, TRUE only when none of the `tested` expressions is NULL."""
    return "(" + " and ".join([f"{t} is not None" for t in tested if t] + [check]) + ")"


def _in(g: Generator, node: Node, truth: bool) -> str:
    values, has_null = node.data
    if not values or (has_null and not truth):
        return "False"  # x IN (NULL) is never TRUE; x NOT IN (..., NULL) is never TRUE
    members = "{" + ", ".join(sorted(g.literal(v) for v in values)) + "}"
    if any(isinstance(v, datetime) for v in values):
        members = g.constant(members)
    value = g.emit(node.args[0], VALUE)
    if truth:
        return f"({value} in {members})"  # None is never a member: NULL IN (...) is not TRUE
    name, test = g.temp(value, node.args[0].nullable)
    return _guarded([test], f"{name} not in {members}")


def _like(g: Generator, node: Node, truth: bool) -> str:
    kind, literal = node.data
    value = g.emit(node.args[0], VALUE)
    if kind == "exact" and truth:
        return f"({value} == {literal!r})"
    name, test = g.temp(value, node.args[0].nullable)
    if kind == "exact":
        check = f"{name} != {literal!r}"
    else:
        if kind == "match":
            check = f"{g.constant(f'_like_matcher({literal!r})')}({name})"
        else:
            check = _LIKE_TESTS[kind].format(x=name, lit=repr(literal))
        check = check if truth else f"not ({check})"
    return _guarded([test], check)


# -- emitters: VALUE mode ------------------------------------------------------------------------------
def _case(g: Generator, node: Node, mode: str) -> str:
    *branches, default = node.args
    parts = []
    for i in range(0, len(branches), 2):
        if i == 0:
            condition = g.emit(branches[0], TRUE)
        else:
            with g.branch():
                condition = g.emit(branches[i], TRUE)
        with g.branch():
            parts.append(f"({g.emit(branches[i + 1], mode)} if {condition} else ")
    with g.branch():
        last = g.emit(default, mode)
    return "".join(parts) + last + ")" * len(parts)


def _coalesce(g: Generator, node: Node) -> str:
    *firsts, last = node.args
    code, closing = "", ""
    for i, arg in enumerate(firsts):
        if i == 0:
            name, test = g.temp(g.emit(arg, VALUE), True)
        else:
            with g.branch():
                name, test = g.temp(g.emit(arg, VALUE), True)
        code += f"({name} if {test} is not None else "
        closing += ")"
    with g.branch():
        code += g.emit(last, VALUE)
    return code + closing


def _arith(g: Generator, node: Node) -> str:
    left, right = (g.emit(a, VALUE) for a in node.args)
    if node.data in "/%":
        return f"{'_div' if node.data == '/' else '_mod'}({left}, {right})"  # NULL and zero handled there
    lname, ltest = g.temp(left, node.args[0].nullable)
    rname, rtest = g.temp(right, node.args[1].nullable)
    tests = [f"{t} is None" for t in (ltest, rtest) if t]
    result = f"({lname} {node.data} {rname})"
    return f"(None if {' or '.join(tests)} else {result})" if tests else result


def _neg(g: Generator, node: Node) -> str:
    name, test = g.temp(g.emit(node.args[0], VALUE), node.nullable)
    return f"(None if {test} is None else (-{name}))" if test else f"(-{name})"


def _leaf(g: Generator, node: Node) -> str:
    return g.leaf(node.op, node.data)


def _call(g: Generator, node: Node) -> str:
    return f"{node.data}({', '.join(g.emit(a, VALUE) for a in node.args)})"


def _ctxcall(g: Generator, node: Node) -> str:
    g.uses_context = True
    return f"ctx.{node.data}({', '.join(g.emit(a, VALUE) for a in node.args)})"


def _ctxattr(g: Generator, node: Node) -> str:
    g.uses_context = True
    return f"ctx.{node.data}"


def _tuple(g: Generator, node: Node) -> str:
    return "(" + "".join(f"{g.emit(a, VALUE)}, " for a in node.args) + ")"


_TRUTH: dict[str, Callable[[Generator, Node, bool], str]] = {
    "and": _and_or, "or": _and_or, "not": _not, "isnull": _isnull, "istrue": _istrue, "cmp": _cmp,
    "in": _in, "like": _like, "between": _between, "contains": _contains,
}
_VALUE: dict[str, Callable[[Generator, Node], str]] = {
    "attr": _leaf, "param": _leaf, "coalesce": _coalesce, "arith": _arith, "neg": _neg, "call": _call, "ctxcall": _ctxcall,
    "ctxattr": _ctxattr, "tuple": _tuple,
}
