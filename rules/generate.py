"""Stage 3: IR -> Python source for one function, with SQL three-valued logic and shared-subexpression reuse.

Each node is emitted in one of three modes. VALUE gives the SQL value (None for NULL). TRUE gives a Python
bool that is True exactly when the value is TRUE, FALSE exactly when it is FALSE. Conditions only ever ask
"is it TRUE?", and in those modes NULL needs no representation at all: `a AND b` is TRUE iff both are, so
it becomes plain `and`; NOT flips TRUE and FALSE mode; a comparison adds an `is not None` test only for
operands that may be NULL (and none for `=` against a never-NULL side, since `None == x` is already False).
VALUE mode of a boolean that may be NULL is built from the other two. AND/OR chains (through nesting and NOT)
become one Python `and`/`or` whose operands run cheapest-and-most-deciding first (see _ordered). In a
flowchart, segments that each need one attribute to equal one of some literals run under one membership test
of all of them (see _dispatch).

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
from typing import Callable, NamedTuple

from segflow.rules.errors import TooComplex
from segflow.rules.ir import Node

VALUE, TRUE, FALSE = "value", "true", "false"
FUNCTION = "_evaluate"  # the name of the generated function in the generated module
CHUNK = 30  # membership bits per accumulator: below 2**30 a CPython int is one digit
# A lazily shared value repeats its code at each use, which nesting can compound; past this, refuse.
MAX_SOURCE_CHARS = 1_000_000

_NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_LIKE_TESTS = {"prefix": "{x}.startswith({lit})", "suffix": "{x}.endswith({lit})", "contains": "({lit} in {x})"}
_EXACT_FLOAT = 2 ** 53  # every int up to this compares as the float it converts to
_HASHED = (str, int, float, bool)
MEMBER_TESTS = 3  # below this many tests of one list, building its set costs more than it saves


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
        self.estimates: dict[int, tuple[float, float, float]] = {}
        self.safety: dict[int, bool] = {}
        self.member_tests: Counter = Counter()            # list leaf local -> ARRAY_CONTAINS tests of a literal
        self.members: dict[str, str] = {}                 # list leaf local -> local of its members' frozenset

    # -- entry points ----------------------------------------------------------------------------------
    def value(self, root: Node) -> str:
        return self._module([(root, VALUE)], lambda i, code: f"return {code}", "")

    def condition(self, root: Node) -> str:
        return self._module([(root, TRUE)], lambda i, code: f"return {code}", "")

    def segments(self, roots: list[Node], gated: bool = False) -> str:
        """`gated`: the function takes `want`, bytes of one 0 or 1 per root, and evaluates only the roots
        with a 1 (unpacked into locals, so skipping a root costs one local test)."""
        # Bits accumulate in one int per CHUNK roots, each small enough to be a one-digit CPython int: `b |= bit`
        # on a 200-bit int allocated and copied every digit, a tenth of a varied flowchart's evaluation. Each
        # bit is added at most once, so `+=` (CPython's fast path for small ints) is `|=`.
        chunks = (len(roots) + CHUNK - 1) // CHUNK
        accumulators = [f"b{c}" if chunks > 1 else "b" for c in range(max(chunks, 1))]

        def statement(i: int, code: str) -> str:
            chunk, bit = divmod(i, CHUNK)
            return f"if {f'w{i} and ' if gated else ''}{code}:\n        {accumulators[chunk]} += {1 << bit}"
        combined = " | ".join([accumulators[0]] + [f"({b} << {CHUNK * c})" for c, b in enumerate(accumulators)][1:])
        return self._module([(root, TRUE) for root in roots], statement, f"return {combined}", gated,
                            accumulators, _dispatch(self, roots))

    def _module(self, roots: list[tuple[Node, str]], statement: Callable[[int, str], str], tail: str,
                gated: bool = False, accumulators: list[str] = (), plan: list[Gate] | None = None) -> str:
        """`plan`: the roots in emission order, each group under the gate that must hold for any of them to be
        TRUE (see _dispatch); by default each root alone, in order."""
        for node, mode in roots:  # pass 1: count uses of every (node, mode)
            self.emit(node, mode)
        self.counting, self.temps = False, 0
        body = []
        for gate in plan or [Gate(None, set(), [i]) for i in range(len(roots))]:
            # pass 2: emit, sharing what pass 1 found used twice
            self.pending, self.unconditional = [], not gated  # gated: every root may be skipped
            test = gate.leaf and f"{self.emit(gate.leaf, VALUE)} in {self.members_literal(gate.values)}"
            block = []
            for i in gate.roots:
                if test:
                    self.unconditional = False  # under the gate
                node, mode = roots[i]
                code = self.emit(node, mode)
                block += [line.replace("\n", "\n    ") for line in self.pending] if test else self.pending
                block.append(statement(i, code).replace("\n", "\n    ") if test else statement(i, code))
                self.pending = []
            body += [f"if {test}:\n        " + "\n        ".join(block)] if test else block
        prologue = [f"{''.join(f'w{i}, ' for i in range(len(roots)))}= want"] if gated else []
        if self.uses_context or any(kind == "param" for kind, _ in self.leaves):
            prologue.append("if ctx is None:\n        ctx = _CTX")
        # Binding the bound method once pays off from the third read; below that a method call is cheaper.
        readers = {"attr": "row.get", "param": "ctx.event_params.get"}
        for kind, reader in readers.items():
            if sum(k == kind for k, _ in self.leaves) > 2:
                prologue.append(f"{kind} = {reader}")
                readers[kind] = kind
        prologue += [f"{local} = {readers[kind]}({name!r})" for (kind, name), local in self.leaves.items()]
        prologue += [f"{members} = _members({local})" for local, members in self.members.items()]
        if self.memo_code:
            prologue.append("_U = _UNSET")
            prologue += [f"{local} = _U" for local in self.memo_code]
        prologue += [f"{b} = 0" for b in accumulators]
        if tail:
            body.append(tail)
        definitions = [f"{name} = {definition}" for definition, name in self.constants.items()]
        lines = "\n    ".join(prologue + body)
        if len(lines) > MAX_SOURCE_CHARS:
            raise TooComplex(f"generated function of {len(lines)} characters")
        signature = f"def {FUNCTION}(row, ctx{', want' if gated else '=None'}):"
        return "\n".join([f"# {self.header}", *definitions, signature, f"    {lines}", ""])

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

    def estimate(self, node: Node) -> tuple[float, float, float]:
        """(cost, P(TRUE), P(FALSE)) of `node`, a rough guess used only to order AND/OR operands."""
        found = self.estimates.get(id(node))
        if found is None:
            found = self.estimates[id(node)] = _estimate(self, node)
        return found

    def safe(self, node: Node) -> bool:
        """Whether evaluating `node` can neither raise nor have an effect, so it may run earlier or not at all."""
        found = self.safety.get(id(node))
        if found is None:
            found = self.safety[id(node)] = _safe(self, node)
        return found

    def member_set(self, values: Node, value: Node) -> str | None:
        """For `value IN list leaf` tests: the local holding the leaf's members as a frozenset (runtime._members,
        built once per call) where the function tests MEMBER_TESTS or more literals in that list, else None.
        A set answers `x in` for a hashable literal x as the list does (built-in types hash as they compare)."""
        if values.op not in ("attr", "param") or value.op != "const" or type(value.data) not in _HASHED:
            return None
        local = self.emit(values, VALUE)
        if self.counting:
            self.member_tests[local] += 1
            return None
        if self.member_tests[local] < MEMBER_TESTS:
            return None
        if local not in self.members:
            self.members[local] = f"a{len(self.leaves) + len(self.members)}"
        return self.members[local]

    def members_literal(self, values) -> str:
        """A set display of `values` (literals): CPython makes `x in {...}` of constants a frozenset constant."""
        members = "{" + ", ".join(sorted(self.literal(v) for v in values)) + "}"
        return self.constant(members) if any(isinstance(v, datetime) for v in values) else members

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


class Gate(NamedTuple):
    """Roots emitted together under `if leaf in values:` (no gate when leaf is None)."""

    leaf: Node | None
    values: set
    roots: list[int]


# -- dispatch: rules that each need one attribute to equal one of a few values run under one membership test ---
DISPATCH_MIN = 3  # rules per gate: below this, the gate's own test costs about what it saves
_GATE_TYPES = frozenset({"string", "int", "double", "bool"})  # values that hash as they compare


def _dispatch(g: Generator, roots: list[Node]) -> list[Gate]:
    """The emission plan of a flowchart: roots in order, except that the safe roots whose TRUE needs the same
    attribute (or event parameter) to be one of some literals (`x = 'a'`, `x IN (...)` as a conjunct) are
    emitted together, at the first one's place, under `if x in <every such literal>:`. The gate only skips
    roots that could not be TRUE (each still tests its own values), so it is exact with NULLs (None is in no
    set) and mixed types (1 = 1.0 and they hash alike); only roots that can neither raise nor call out move,
    so nothing observable changes order."""
    tests = {i: [test for test in map(_equality, _conjuncts(root)) if test[0] is not None]
             for i, root in enumerate(roots) if g.safe(root)}
    counts = Counter(id(leaf) for found in tests.values() for leaf, _ in found)
    groups: dict[int, Gate] = {}
    for i, found in tests.items():
        if found:  # the attribute that most rules gate on
            leaf, values = max(found, key=lambda test: counts[id(test[0])])
            gate = groups.setdefault(id(leaf), Gate(leaf, set(), []))
            gate.values.update(values)
            gate.roots.append(i)
    under = {i: gate for gate in groups.values() if len(gate.roots) >= DISPATCH_MIN for i in gate.roots}
    plan = []
    for i in range(len(roots)):
        gate = under.get(i)
        if gate is None:
            plan.append(Gate(None, set(), [i]))
        elif gate.roots[0] == i:
            plan.append(gate)
    return plan


def _conjuncts(root: Node) -> list[tuple[Node, str]]:
    """The (operand, mode) pairs that must all be TRUE for `root` to be TRUE."""
    node, mode = root, TRUE
    while node.op == "not":
        node, mode = node.args[0], FALSE if mode == TRUE else TRUE
    if node.op in ("and", "or") and (node.op == "and") == (mode == TRUE):
        return _terms(node, mode, True)
    return [(node, mode)]


def _equality(term: tuple[Node, str]) -> tuple[Node | None, frozenset]:
    """(leaf, literals) when `term` is TRUE only if the leaf equals one of the literals, else (None, ...)."""
    node, mode = term
    none = (None, frozenset())
    if mode != TRUE:
        return none
    if node.op == "in" and node.data[0]:
        leaf, values = node.args[0], node.data[0]
    elif node.op == "cmp" and node.data == "==":
        leaf, literal = node.args if node.args[1].op == "const" else node.args[::-1]
        if literal.op != "const" or literal.data is None:
            return none
        values = frozenset([literal.data])
    elif node.op == "like" and node.data[0] == "exact":
        leaf, values = node.args[0], frozenset([node.data[1]])
    else:
        return none
    if leaf.op not in ("attr", "param") or leaf.type not in _GATE_TYPES \
            or not all(type(v) in _HASHED for v in values):
        return none
    return leaf, values


_CHEAP_OPS = frozenset({"cmp", "isnull", "istrue", "in", "not", "between", "coalesce", "contains"})


def _cheap(node: Node) -> bool:
    """A test or COALESCE of plain locals and literals (or a LIKE needing no regex): cheaper to repeat than to
    memoize lazily."""
    cheap = node.op in _CHEAP_OPS or (node.op == "like" and node.data[0] != "regex")
    return cheap and all(a.op in ("const", "attr", "param") for a in node.args)


# -- emitters: TRUE/FALSE mode of boolean operators ----------------------------------------------------
def _and_or(g: Generator, node: Node, truth: bool) -> str:
    # TRUE of AND is all TRUE; FALSE of AND is any FALSE; OR is the mirror image.
    conjunction = (node.op == "and") == truth
    terms = _ordered(g, _terms(node, TRUE if truth else FALSE, conjunction), conjunction)
    parts = [g.emit(*terms[0])]
    with g.branch():
        parts += [g.emit(*term) for term in terms[1:]]
    return f"({(' and ' if conjunction else ' or ').join(parts)})"


def _terms(node: Node, mode: str, conjunction: bool) -> list[tuple[Node, str]]:
    """The (operand, mode) pairs joined by one Python `and` (or `or`), through nesting and NOT:
    TRUE of `a AND (b AND NOT (c OR d))` is TRUE a, TRUE b, FALSE c and FALSE d."""
    terms = []
    for arg in node.args:
        arg_mode = mode
        while arg.op == "not":
            arg, arg_mode = arg.args[0], FALSE if arg_mode == TRUE else TRUE
        if arg.op in ("and", "or") and ((arg.op == "and") == (arg_mode == TRUE)) == conjunction:
            terms += _terms(arg, arg_mode, conjunction)
        else:
            terms.append((arg, arg_mode))
    return terms


# -- operand order: SQL's AND and OR commute, so test first what is cheap and most likely to decide --------
# Estimates per node: (cost in simple operations, P(TRUE), P(FALSE)), from the operator alone: an equality
# or IN with few values rarely holds, a range holds about half the time, a value may be NULL one time in ten.
# Only operands that can neither raise nor reach outside (callouts, event statistics) move, and they move
# ahead of those that can, which keep their written order last: reordering never adds a call or an error.
_P_NULL = 0.1
_SAFE_HELPERS = frozenset({"_div", "_mod", "_abs", "_upper", "_lower", "_length", "_trim", "_ltrim", "_rtrim",
                           "_concat", "_size"})
_OP_COST = {"const": 0.0, "attr": 0.0, "param": 0.0, "cmp": 1.0, "in": 1.0, "like": 2.0, "between": 1.5,
            "isnull": 0.7, "istrue": 0.7, "contains": 2.0, "arith": 1.0, "neg": 0.5, "coalesce": 1.0,
            "call": 4.0, "ctxcall": 8.0, "ctxattr": 2.0, "case": 1.0, "tuple": 1.0, "not": 0.0, "and": 0.0,
            "or": 0.0}


def _ordered(g: Generator, terms: list[tuple[Node, str]], conjunction: bool) -> list[tuple[Node, str]]:
    """`terms` in evaluation order: safe operands by expected cost per chance of deciding the result (a
    term that does not hold decides an `and`, one that holds an `or`), then the others as written."""
    safe = [i for i, (node, _) in enumerate(terms) if g.safe(node)]
    if len(safe) < 2:
        return terms

    def key(i: int) -> tuple[float, int]:
        node, mode = terms[i]
        cost, p_true, p_false = g.estimate(node)
        holds = p_true if mode == TRUE else p_false
        return cost / max((1.0 - holds) if conjunction else holds, 0.01), i
    return [terms[i] for i in sorted(safe, key=key)] + [t for t in terms if not g.safe(t[0])]


def _estimate(g: Generator, node: Node) -> tuple[float, float, float]:
    cost = _OP_COST.get(node.op, 2.0) + sum(g.estimate(a)[0] for a in node.args)
    if node.op in ("and", "or"):
        trues = [g.estimate(a)[1] for a in node.args]
        falses = [g.estimate(a)[2] for a in node.args]
        p_true, p_false = (_product(trues), 1 - _product([1 - f for f in falses])) if node.op == "and" else \
            (1 - _product([1 - t for t in trues]), _product(falses))
        return cost, p_true, p_false
    if node.op == "not":
        _, p_true, p_false = g.estimate(node.args[0])
        return cost, p_false, p_true
    p_null = _P_NULL if node.nullable else 0.0
    if node.op == "cmp":
        p = {"==": 0.05, "!=": 0.95}.get(node.data, 0.5)
    elif node.op == "in":
        p = min(0.05 * len(node.data[0]), 0.5)
    elif node.op == "like":
        p = 0.05 if node.data[0] == "exact" else 0.2
    elif node.op == "isnull":
        p = 0.1
    elif node.op in ("between", "contains"):
        p = 0.25
    else:
        p = 0.5
    return cost, p * (1 - p_null), (1 - p) * (1 - p_null)


def _product(values: list[float]) -> float:
    result = 1.0
    for v in values:
        result *= v
    return result


def _safe(g: Generator, node: Node) -> bool:
    if node.op == "const":
        return True
    if node.op in ("attr", "param"):
        return node.type != "any"  # a declared type: no run-time type error
    if node.op in ("ctxcall", "ctxattr", "tuple") or (node.op == "call" and node.data not in _SAFE_HELPERS):
        return False
    return node.type != "any" and all(g.safe(a) for a in node.args)


def _exact_division(node: Node) -> bool:
    """`x / 2.5`: a non-zero double literal divisor leaves _div nothing to do (no zero, no integer truncation)."""
    divisor = node.args[1]
    return node.data == "/" and divisor.op == "const" and type(divisor.data) is float and divisor.data != 0


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
    for arg, other in ((left, right), (right, left)):
        plain = _plain(g, arg) if arg.op in ("arith", "neg") else None
        if plain is not None:
            codes.append(plain[0])
            tests += [t for t in plain[1] if t not in tests]
        else:
            code, test = g.temp(_operand(g, arg, other), arg.nullable and tests_needed)
            codes.append(code)
            tests.append(test)
    return _guarded(tests, f"{codes[0]} {op} {codes[1]}")


def _operand(g: Generator, node: Node, other: Node) -> str:
    """The value of `node` compared with `other`: an int literal compared with a double is written as the
    float it equals (same result; CPython then compares two floats on its fast path, not an int with a
    float)."""
    if other.type == "double" and node.op == "const" and node.type == "int" and type(node.data) is int \
            and abs(node.data) <= _EXACT_FLOAT:
        return g.literal(float(node.data))
    return g.emit(node, VALUE)


def _plain(g: Generator, node: Node) -> tuple[str, list[str]] | None:
    """(code, locals that must not be NULL) for +, -, *, exact division and unary minus over attributes and
    literals: such a tree is NULL exactly when one of those locals is, so one up-front test replaces a test
    per operator."""
    if node.type == "any":
        return None  # its value must be checked to be a number: _arith does that
    if node.op in ("attr", "param"):
        name = g.emit(node, VALUE)
        return name, [name] if node.nullable else []
    if node.op == "const" and node.data is not None:
        return g.literal(node.data), []
    parts = [_plain(g, arg) for arg in node.args] if node.op in ("arith", "neg") else [None]
    if None in parts or (node.op == "arith" and node.data not in "+-*" and not _exact_division(node)):
        return None
    tests = [t for _, part_tests in parts for t in part_tests]
    if node.op == "neg":
        return f"(-{parts[0][0]})", tests
    return f"({parts[0][0]} {node.data} {parts[1][0]})", tests


def _between(g: Generator, node: Node, truth: bool) -> str:
    value, low, high = g.emit(node.args[0], VALUE), *(_operand(g, a, node.args[0]) for a in node.args[1:])
    if not truth and node.args[0].type not in ("int", "string", "timestamp"):
        # A NaN is neither in nor out of a range by comparisons; NOT BETWEEN stays the negation of BETWEEN.
        name, first = g.temp(value, True)
        if node.nullable:
            return f"({first} is not None and not ({name} >= {low} and {name} <= {high}))"
        return f"(not ({first} >= {low} and {name} <= {high}))"
    return _range(g, value, node.nullable, (">=", low), ("<=", high), truth)


def _range(g: Generator, value: str, nullable: bool, low: tuple[str, str], high: tuple[str, str],
           truth: bool) -> str:
    """`value low[0] low[1] and value high[0] high[1]` (TRUE mode), or its negation tested as the two
    opposite comparisons (FALSE mode): two compare-and-jumps, where a chained `a <= x <= b` also shuffles the
    stack and `not (...)` adds an operation (the opposite comparisons are the negation for any value but
    a NaN). The value is computed once (bound to a temporary if need be)."""
    name, first = g.temp(value, True)
    if not truth:
        low, high = (_OPPOSITE[low[0]], low[1]), (_OPPOSITE[high[0]], high[1])
    join = " and " if truth else " or "
    if nullable:
        return f"({first} is not None and ({name} {low[0]} {low[1]}{join}{name} {high[0]} {high[1]}))"
    return f"({first} {low[0]} {low[1]}{join}{name} {high[0]} {high[1]})"


_OPPOSITE = {">=": "<", "<=": ">", "<": ">=", ">": "<="}


def _contains(g: Generator, node: Node, truth: bool) -> str:
    # ARRAY_CONTAINS(l, x) is x = ANY(l): FALSE for an empty list, else FALSE only for a non-NULL x missing
    # from a list without NULLs.
    values, value = node.args
    members = g.member_set(values, value)
    lname, ltest = g.temp(members or g.emit(values, VALUE), values.nullable)
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
    members = g.members_literal(values)
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
    if kind == "prefix" and _successor(literal):
        # s starts with p exactly when p <= s < p' (p with its last character the next one): two string
        # comparisons cost a third of a str.startswith call.
        return _range(g, value, node.args[0].nullable, (">=", repr(literal)), ("<", repr(_successor(literal))),
                      truth)
    name, test = g.temp(value, node.args[0].nullable)
    if kind == "exact":
        check = f"{name} != {literal!r}"
    else:
        if kind == "match":
            check = f"{g.constant(f'_like_matcher({literal!r})')}({name}) is not None"
        else:
            check = _LIKE_TESTS[kind].format(x=name, lit=repr(literal))
        check = check if truth else f"not ({check})"
    return _guarded([test], check)


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with `prefix` (its last character the next
    code point), None when there is no such next character (the last code point, or a surrogate next)."""
    code = ord(prefix[-1]) + 1 if prefix else 0x110000
    if code >= 0x110000 or 0xD800 <= code <= 0xDFFF:
        return None
    return prefix[:-1] + chr(code)


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


def _number(g: Generator, node: Node) -> str:
    """The value of an arithmetic operand; one whose type is only known at run time is checked to be a number
    (so a text or list operand is an evaluation error, never `list * 2**62`)."""
    code = g.emit(node, VALUE)
    return f"_number({code})" if node.type == "any" else code


def _arith(g: Generator, node: Node) -> str:
    left, right = (_number(g, a) for a in node.args)
    if node.data in "/%" and not _exact_division(node):
        return f"{'_div' if node.data == '/' else '_mod'}({left}, {right})"  # NULL and zero handled there
    lname, ltest = g.temp(left, node.args[0].nullable)
    rname, rtest = g.temp(right, node.args[1].nullable)
    tests = [f"{t} is None" for t in (ltest, rtest) if t]
    result = f"({lname} {node.data} {rname})"
    return f"(None if {' or '.join(tests)} else {result})" if tests else result


def _neg(g: Generator, node: Node) -> str:
    name, test = g.temp(_number(g, node.args[0]), node.nullable)
    return f"(None if {test} is None else (-{name}))" if test else f"(-{name})"


def _leaf(g: Generator, node: Node) -> str:
    return g.leaf(node.op, node.data)


def _call(g: Generator, node: Node) -> str:
    if node.data in _EXTREMES and len(node.args) == 2:
        folded = _extreme(g, node)
        if folded is not None:
            return folded
    return f"{node.data}({', '.join(g.emit(a, VALUE) for a in node.args)})"


_EXTREMES = {"_least": "<", "_greatest": ">"}


def _extreme(g: Generator, node: Node) -> str | None:
    """LEAST/GREATEST of a value and a non-NULL literal, inline: the literal settles the NULL case (NULLs are
    skipped, so the result is the literal), and otherwise it is min()/max() of two, which keep the first
    argument unless the second is strictly less (greater). None when neither argument is such a literal."""
    first, second = node.args
    op = _EXTREMES[node.data]
    if second.op == "const" and second.data is not None:
        literal = g.literal(second.data)
        name, test = g.temp(g.emit(first, VALUE), first.nullable)
        when = f"{test} is None or {literal} {op} {name}" if test else f"{literal} {op} {name}"
        return f"({literal} if {when} else {name})"
    if first.op == "const" and first.data is not None:
        literal = g.literal(first.data)
        name, test = g.temp(g.emit(second, VALUE), second.nullable)
        when = f"{test} is not None and {name} {op} {literal}" if test else f"{name} {op} {literal}"
        return f"({name} if {when} else {literal})"
    return None


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
