"""Stage 2: sqlglot tree -> typed, interned IR, checking names, types, nullability and arity.

Every problem is recorded and checking carries on (a bad operand becomes an untyped NULL), so one compile
reports all of an expression's errors. Names are checked against the Schema where it declares them;
the names an expression reads are collected for validation and rule indexing.

Rewrites done here, so the generator only sees a small core: BETWEEN with a bound that may be NULL -> two
comparisons on one shared operand, simple CASE -> searched CASE, IF -> CASE, NULLIF -> CASE, x IN (consts..., exprs...) -> a constant
set test OR'ed with equalities, NOT LIKE / NOT BETWEEN -> NOT. Constant NULL operands of NULL-propagating
operators fold to NULL, IS NULL of a never-NULL value folds to FALSE, unary minus of a number folds into it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlglot import exp

from segflow.rules import errors as E
from segflow.rules import unparse
from segflow.rules.errors import ErrorSink, suggest
from segflow.rules.functions import (CAST_TYPES, CONTEXTUAL, EXTRACT_PARTS, KNOWN, MAX_WINDOW_DAYS, SCALARS,
                                    WINDOW_UNITS, Contextual, Scalar)
from segflow.rules.ir import Builder, Node, tree_size
from segflow.rules.parse import MAX_NODES, parse, start
from segflow.rules.runtime import like_plan, timestamp
from segflow.rules.schema import NUMERIC, Schema

_COMPARISONS = {exp.EQ: "==", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITHMETIC = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
_INT_RANGE = (-2 ** 63, 2 ** 63 - 1)  # integer literals are 64-bit, as in both reference engines


@dataclass(frozen=True)
class Checked:
    """One checked expression: its IR root, normalized SQL text (that of the IR) and the names it depends on."""

    node: Node
    normalized: str
    names: frozenset[str]
    event_params: frozenset[str]
    events: frozenset[str]
    segments: frozenset[str]
    callouts: frozenset[str]


def check(text: str, schema: Schema, builder: Builder, sink: ErrorSink, *, boolean: bool) -> Checked | None:
    """Parse and check `text`; None when `sink` received errors. `boolean` requires a condition."""
    tree = parse(text, sink)
    if tree is None:
        return None
    checker = _Checker(schema, builder, sink)
    node = checker.visit(tree)
    if boolean:
        checker.expect(node, "bool", tree, "a condition")
    if sink.errors:
        return None
    return Checked(node, _normalized(node, text, checker.repeats), frozenset(checker.names),
                   frozenset(checker.params), frozenset(checker.events), frozenset(checker.segments),
                   frozenset(checker.callouts))


def _normalized(node: Node, text: str, repeats: bool) -> str:
    """The SQL of the checked IR (spelling-independent), or the text itself where rewrites that repeat an
    operand (NULLIF, BETWEEN, simple CASE, IN) would make that text much longer than what was written."""
    return unparse.sql(node) if not repeats or tree_size(node) <= MAX_NODES else " ".join(text.split())


def _compatible(a: str, b: str) -> bool:
    return a == "any" or b == "any" or a == b or (a in NUMERIC and b in NUMERIC)


def _unify(types: list[str]) -> str | None:
    """The common type of values that may meet in one result (CASE, COALESCE, LEAST); None if they clash."""
    known = set(types) - {"any"}
    if not known:
        return "any"
    if len(known) == 1:
        return known.pop()
    return "double" if known <= NUMERIC else None


class _Checker:
    def __init__(self, schema: Schema, builder: Builder, sink: ErrorSink):
        self.schema, self.b, self.sink = schema, builder, sink
        self.names: set[str] = set()
        self.params: set[str] = set()
        self.events: set[str] = set()
        self.segments: set[str] = set()
        self.callouts: set[str] = set()
        self.repeats = False  # a rewrite used an operand more often than the text does

    # -- helpers ---------------------------------------------------------------------------------------
    def error(self, code: str, message: str, at: exp.Expression, suggestion: str | None = None) -> Node:
        """Record an error and return the placeholder that lets checking continue (an untyped NULL)."""
        self.sink.add(code, message, start(at), suggestion)
        return self.b.const(None, "any")

    def expect(self, node: Node, want: str, at: exp.Expression, what: str) -> bool:
        """Whether `node` can be of type `want`, recording a type error when it cannot. A double is not an int."""
        ok = node.type == "any" or want == "any" or (node.type in NUMERIC if want == "numeric" else
                                                     node.type == want if want == "int" else
                                                     _compatible(node.type, want))
        if not ok:
            self.error(E.TYPE, f"{what} must be {_article(want)}, but {_clip(at.sql())!r} is {_article(node.type)}",
                       at)
        return ok

    def visit(self, e: exp.Expression) -> Node:
        handler = _HANDLERS.get(type(e))
        if handler is None:
            return self.error(E.UNSUPPORTED, f"{_describe(e)} is not supported in segflow expressions", e)
        return handler(self, e)

    def is_null(self, node: Node) -> bool:
        return node.op == "const" and node.data is None

    # -- leaves ----------------------------------------------------------------------------------------
    def column(self, e: exp.Column) -> Node:
        if e.args.get("db") is not None or e.args.get("catalog") is not None:
            return self.error(E.UNSUPPORTED, f"multi-part name {e.sql()!r}; only event.<param> is qualified", e)
        name, qualifier = e.name, e.table
        if not qualifier:
            attribute = self.schema.attribute(name)
            if attribute is None:
                return self.error(E.UNKNOWN_NAME, f"unknown attribute {name!r}", e,
                                  suggest(name, self.schema.attributes or ()))
            self.names.add(name)
            return self.b.node("attr", (), name, attribute.type, attribute.nullable)
        if qualifier.lower() == "audience":
            return self.audience_field(name, e)
        if qualifier.lower() != "event":
            return self.error(E.UNKNOWN_NAME, f"unknown qualifier {qualifier!r}; only event.<param> and "
                                            f"audience.<id field> are qualified",
                              e, suggest(qualifier.lower(), ["event", "audience"]))
        param = self.schema.event_param(name)
        if param is None:
            return self.error(E.UNKNOWN_NAME, f"unknown event parameter {name!r}", e,
                              suggest(name, self.schema.event_params or ()))
        self.params.add(name)
        return self.b.node("param", (), name, param.type, param.nullable)

    def audience_field(self, name: str, e: exp.Column) -> Node:
        """audience.<id field>: the session's value of an audience id field, NULL while it has none."""
        fields = self.schema.audience_fields
        if fields is not None and name not in fields:
            return self.error(E.UNKNOWN_NAME, f"unknown audience id field {name!r}", e, suggest(name, fields))
        return self.b.node("ctxcall", (self.b.const(name, "string"),), "audience_id", "any", True)

    def window(self, e: exp.Interval) -> int | None:
        """The seconds of `INTERVAL 'n' MINUTE|HOUR|DAY|WEEK`, or None after recording why it is refused."""
        unit = e.args.get("unit")
        seconds = WINDOW_UNITS.get(unit.name.upper() if unit is not None else "")
        count = e.this.this if isinstance(e.this, exp.Literal) else ""
        if seconds is None or not count.isdigit() or not 60 <= int(count) * seconds <= MAX_WINDOW_DAYS * 86400:
            self.error(E.LITERAL, f"a window is INTERVAL 'n' MINUTE, HOUR, DAY or WEEK, 1 minute to "
                                  f"{MAX_WINDOW_DAYS} days in all", e)
            return None
        return int(count) * seconds

    def literal(self, e: exp.Literal, sign: str = "") -> Node:
        if e.is_string:
            return self.b.const(e.this, "string")
        text = sign + e.this
        if text.lstrip("+-").isdigit():
            if len(text.lstrip("+-0")) > 19 or not _INT_RANGE[0] <= int(text) <= _INT_RANGE[1]:
                return self.error(E.LITERAL, f"integer literal {_short(text)} is out of the 64-bit range", e)
            return self.b.const(int(text), "int")
        try:
            value = float(text)
        except ValueError:  # sqlglot reads `1e` or `1e+` as a number
            return self.error(E.LITERAL, f"{_short(text)} is not a number", e)
        if not math.isfinite(value):
            return self.error(E.LITERAL, f"number {_short(text)} is too large for a double", e)
        return self.b.const(value, "double")

    def boolean(self, e: exp.Boolean) -> Node:
        return self.b.const(bool(e.this), "bool")

    def null(self, e: exp.Null) -> Node:
        return self.b.const(None, "any")

    def paren(self, e: exp.Paren) -> Node:
        return self.visit(e.this)

    def cast(self, e: exp.Cast) -> Node:
        target = CAST_TYPES.get(e.to.this.name)
        if target is None:
            return self.error(E.UNSUPPORTED, f"CAST to {e.to.sql()} is not supported", e.to,
                              suggest(e.to.this.name, CAST_TYPES))
        if target == "timestamp" and isinstance(e.this, exp.Literal) and e.this.is_string:
            try:  # TIMESTAMP '...' literals are constants, checked now
                return self.b.const(timestamp(e.this.this), "timestamp")
            except ValueError:
                return self.error(E.LITERAL, f"{e.this.this!r} is not an ISO 8601 timestamp", e.this)
        value = self.visit(e.this)
        if target == value.type:
            return value
        if "list" in (target, value.type) or (target == "timestamp" and value.type not in ("string", "any")):
            return self.error(E.TYPE, f"cannot CAST {_article(value.type)} to {e.to.sql()}", e)
        # Text that does not parse as the target type gives NULL, so the result may be NULL either way.
        kind = self.b.const(target, "string")
        return self.b.node("call", (kind, value), "_cast", target, value.nullable or value.type != "double")

    # -- logic -----------------------------------------------------------------------------------------
    def logical(self, e: exp.Connector) -> Node:
        # Flatten a chain of the same connector without recursion: a generated rule may AND 1,000 terms.
        operands, stack = [], [e]
        while stack:
            node = stack.pop()
            if type(node) is type(e):
                stack.extend([node.expression, node.this])
            else:
                operands.append(node)
        args = []
        for operand in operands:
            arg = self.visit(operand)
            self.expect(arg, "bool", operand, f"an operand of {e.key.upper()}")
            args.append(arg)
        return self.b.node(e.key, tuple(args), None, "bool", any(a.nullable for a in args))

    def negation(self, e: exp.Not) -> Node:
        return self.negate(self.visit(e.this), e.this)

    def negate(self, arg: Node, at: exp.Expression) -> Node:
        self.expect(arg, "bool", at, "the operand of NOT")
        if arg.op == "const":
            return self.b.const(None if arg.data is None else not arg.data, "bool")
        return self.b.node("not", (arg,), None, "bool", arg.nullable)

    def is_(self, e: exp.Is) -> Node:
        arg = self.visit(e.this)
        if isinstance(e.expression, exp.Null):
            if not arg.nullable:
                return self.b.const(False, "bool")
            return self.b.node("isnull", (arg,), None, "bool", False)
        if isinstance(e.expression, exp.Boolean):
            self.expect(arg, "bool", e.this, "the operand of IS TRUE/IS FALSE")
            return self.b.node("istrue", (arg,), bool(e.expression.this), "bool", False)
        return self.error(E.UNSUPPORTED, "IS must be followed by NULL, TRUE or FALSE", e.expression)

    # -- comparison ------------------------------------------------------------------------------------
    def comparison(self, e: exp.Binary) -> Node:
        return self.compare(_COMPARISONS[type(e)], self.visit(e.this), self.visit(e.expression), e)

    def compare(self, op: str, left: Node, right: Node, at: exp.Expression) -> Node:
        if not _compatible(left.type, right.type):
            return self.error(E.TYPE, f"cannot compare {_article(left.type)} with {_article(right.type)} "
                                      f"in {at.sql()!r}", at)
        if op not in ("==", "!=") and "list" in (left.type, right.type):
            return self.error(E.TYPE, f"lists can only be compared with = and <> in {at.sql()!r}", at)
        if self.is_null(left) or self.is_null(right):
            return self.b.const(None, "bool")
        return self.b.node("cmp", (left, right), op, "bool", left.nullable or right.nullable)

    def between(self, e: exp.Between) -> Node:
        if e.args.get("symmetric"):
            return self.error(E.UNSUPPORTED, "BETWEEN SYMMETRIC is not supported", e)
        value, low_value, high_value = (self.visit(e.args[k]) for k in ("this", "low", "high"))
        low = self.compare(">=", value, low_value, e)
        high = self.compare("<=", value, high_value, e)
        if low.op == high.op == "cmp" and not (low_value.nullable or high_value.nullable):
            return self.b.node("between", (value, low_value, high_value), None, "bool", value.nullable)
        self.repeats = True
        return self.b.node("and", (low, high), None, "bool", low.nullable or high.nullable)

    def in_(self, e: exp.In) -> Node:
        if e.args.get("query") is not None or e.args.get("unnest") is not None:
            return self.error(E.UNSUPPORTED, "IN with a subquery is not supported; list the values", e)
        if not e.expressions:
            return self.error(E.SYNTAX, "IN needs at least one value", e)
        value = self.visit(e.this)
        constants, has_null, others = set(), False, []
        for item in e.expressions:
            arg = self.visit(item)
            if not _compatible(value.type, arg.type):
                self.error(E.TYPE, f"IN list value {item.sql()!r} is {_article(arg.type)}, but "
                                   f"{e.this.sql()!r} is {_article(value.type)}", item)
            elif self.is_null(arg):
                has_null = True
            elif arg.op == "const":
                constants.add(arg.data)
            else:
                others.append(self.compare("==", value, arg, item))
                self.repeats = True
        if self.is_null(value):
            return self.b.const(None, "bool")
        tests = others
        if constants or has_null:
            members = (frozenset(constants), has_null)
            tests = [self.b.node("in", (value,), members, "bool", value.nullable or has_null)] + others
        if len(tests) == 1:
            return tests[0]
        return self.b.node("or", tuple(tests), None, "bool", any(t.nullable for t in tests))

    def like(self, e: exp.Like, escape: exp.Expression | None = None) -> Node:
        value, pattern = self.visit(e.this), self.visit(e.expression)
        self.expect(value, "string", e.this, "the left side of LIKE")
        self.expect(pattern, "string", e.expression, "a LIKE pattern")
        escape_char = None
        if escape is not None:
            if not (isinstance(escape, exp.Literal) and escape.is_string and len(escape.this) == 1):
                return self.error(E.LITERAL, "ESCAPE takes a one-character string literal", escape)
            escape_char = escape.this
        if not {value.type, pattern.type} <= {"string", "any"}:
            return self.b.const(None, "bool")  # the type error is recorded above
        if self.is_null(value) or self.is_null(pattern):
            node = self.b.const(None, "bool")
        elif pattern.op == "const" and value.type == "string":
            try:
                plan = like_plan(pattern.data, escape_char)
            except ValueError as problem:
                return self.error(E.LITERAL, str(problem), e.expression)
            node = self.b.node("like", (value,), plan, "bool", value.nullable)
        else:
            # Operand of unknown type or pattern known only at run time: the helper checks both.
            args = (value, pattern, self.b.const(escape_char, "string"))
            node = self.b.node("call", args, "_like", "bool", True)
        return self.negate(node, e) if e.args.get("negate") else node

    def escape(self, e: exp.Escape) -> Node:
        if not isinstance(e.this, exp.Like):
            return self.error(E.UNSUPPORTED, "ESCAPE is only supported after LIKE", e)
        return self.like(e.this, e.expression)

    # -- conditionals ----------------------------------------------------------------------------------
    def case(self, e: exp.Case) -> Node:
        operand = self.visit(e.this) if e.this is not None else None
        branches = []
        for branch in e.args.get("ifs") or []:
            condition = self.visit(branch.this)
            if operand is not None:
                condition = self.compare("==", operand, condition, branch.this)
                self.repeats = True
            else:
                self.expect(condition, "bool", branch.this, "a WHEN condition")
            branches.append((condition, self.visit(branch.args["true"]), branch))
        default = e.args.get("default")
        return self.conditional(branches, self.visit(default) if default is not None else None, e)

    def if_(self, e: exp.If) -> Node:
        condition = self.visit(e.this)
        self.expect(condition, "bool", e.this, "the condition of IF")
        otherwise = e.args.get("false")
        return self.conditional([(condition, self.visit(e.args["true"]), e)],
                                self.visit(otherwise) if otherwise is not None else None, e)

    def conditional(self, branches: list, default: Node | None, at: exp.Expression) -> Node:
        default = default if default is not None else self.b.const(None, "any")
        results = [r for _, r, _ in branches] + [default]
        result_type = _unify([r.type for r in results if not self.is_null(r)])
        if result_type is None:
            return self.error(E.TYPE, "CASE/IF branches return values of different types: "
                                      + ", ".join(sorted({r.type for r in results})), at)
        args = tuple(x for condition, result, _ in branches for x in (condition, result)) + (default,)
        return self.b.node("case", args, None, result_type, any(r.nullable for r in results))

    def coalesce(self, e: exp.Anonymous, args: list[Node]) -> Node:
        if not args:
            return self.error(E.ARITY, "COALESCE takes at least 1 argument", e)
        kept = []
        for arg in args:
            if not self.is_null(arg):
                kept.append(arg)
            if not arg.nullable:
                break  # later arguments can never be reached
        result_type = _unify([a.type for a in kept])
        if result_type is None:
            return self.error(E.TYPE, "COALESCE arguments have different types: "
                                      + ", ".join(sorted({a.type for a in kept})), e)
        if not kept:
            return self.b.const(None, "any")
        if len(kept) == 1:
            return kept[0]
        return self.b.node("coalesce", tuple(kept), None, result_type, all(a.nullable for a in kept))

    def nullif(self, e: exp.Anonymous, args: list[Node]) -> Node:
        if len(args) != 2:
            return self.error(E.ARITY, f"NULLIF takes 2 arguments, got {len(args)}", e)
        equal = self.compare("==", args[0], args[1], e)
        self.repeats = True
        return self.b.node("case", (equal, self.b.const(None, "any"), args[0]), None, args[0].type, True)

    # -- arithmetic and text ---------------------------------------------------------------------------
    def arithmetic(self, e: exp.Binary) -> Node:
        op = _ARITHMETIC[type(e)]
        left, right = self.visit(e.this), self.visit(e.expression)
        self.expect(left, "numeric", e.this, f"an operand of {op}")
        self.expect(right, "numeric", e.expression, f"an operand of {op}")
        types = {left.type, right.type}
        result = "int" if types == {"int"} else "double" if types <= NUMERIC else "any"
        if self.is_null(left) or self.is_null(right):
            return self.b.const(None, result)
        nullable = left.nullable or right.nullable or op in "/%"
        return self.b.node("arith", (left, right), op, result, nullable)

    def minus(self, e: exp.Neg) -> Node:
        if isinstance(e.this, exp.Literal) and not e.this.is_string:
            return self.literal(e.this, "-")  # so that -9223372036854775808 is in range
        arg = self.visit(e.this)
        if not self.expect(arg, "numeric", e.this, "the operand of unary minus"):
            return self.b.const(None, "any")
        if arg.op == "const" and arg.data is not None:
            return self.b.const(-arg.data, arg.type)
        return self.b.node("neg", (arg,), None, arg.type, arg.nullable)

    def concat(self, e: exp.DPipe) -> Node:
        left, right = self.visit(e.this), self.visit(e.expression)
        if self.is_null(left) or self.is_null(right):
            return self.b.const(None, "string")
        return self.b.node("call", (left, right), "_concat", "string", left.nullable or right.nullable)

    # -- functions -------------------------------------------------------------------------------------
    def extract(self, e: exp.Extract) -> Node:
        part = e.this.name.upper()
        if part not in EXTRACT_PARTS:
            return self.error(E.UNSUPPORTED, f"EXTRACT({part} ...) is not supported", e.this,
                              suggest(part, EXTRACT_PARTS))
        value = self.visit(e.expression)
        self.expect(value, "timestamp", e.expression, "the operand of EXTRACT")
        leading = self.b.const(EXTRACT_PARTS[part], "string")
        result = "double" if part == "EPOCH" else "int"
        return self.b.node("call", (leading, value), "_date_part", result, value.nullable)

    def function(self, e: exp.Anonymous) -> Node:
        name = e.name.upper()
        if name in CONTEXTUAL:
            return self.contextual(name, CONTEXTUAL[name], e)
        args = [self.visit(a) for a in e.expressions]
        if name == "COALESCE":
            return self.coalesce(e, args)
        if name == "NULLIF":
            return self.nullif(e, args)
        if name in SCALARS:
            return self.scalar(name, SCALARS[name], args, e)
        return self.error(E.UNKNOWN_NAME, f"unknown function {e.name}()", e, suggest(name, KNOWN))

    def scalar(self, name: str, fn: Scalar, args: list[Node], e: exp.Anonymous) -> Node:
        low = len(fn.params)
        high = None if fn.variadic else low + len(fn.optional)
        if len(args) < low or (high is not None and len(args) > high):
            wanted = f"at least {low}" if high is None else str(low) if high == low else f"{low} to {high}"
            return self.error(E.ARITY, f"{name} takes {wanted} argument{'s' * (wanted != '1')}, "
                                       f"got {len(args)}", e)
        types = fn.params + fn.optional
        for i, (arg, at) in enumerate(zip(args, e.expressions)):
            self.expect(arg, types[min(i, len(types) - 1)], at, f"argument {i + 1} of {name}")
        result = fn.result
        if result == "same":
            result = args[0].type
        elif result == "unified":
            result = _unify([a.type for a in args if not self.is_null(a)])
            if result is None:
                return self.error(E.TYPE, f"{name} arguments have different types", e)
        nullable = {"strict": any(a.nullable for a in args), "all": all(a.nullable for a in args),
                    "maybe": True}[fn.nulls]
        leading = tuple(self.b.const(v, "string") for v in fn.leading)
        return self.b.node(fn.op, leading + tuple(args), fn.helper or None, result, nullable)

    def contextual(self, name: str, fn: Contextual, e: exp.Anonymous) -> Node:
        given = e.expressions
        window = None
        if fn.windowed and given and isinstance(given[-1], exp.Interval):
            window = self.window(given[-1])
            if window is None:
                return self.b.const(None, "any")
            given = given[:-1]
        elif fn.window_required:
            return self.error(E.ARITY, f"{name} needs a window as its last argument, e.g. INTERVAL '30' DAY", e)
        extra_args = fn.member == "callout"
        if len(given) < len(fn.literals) or (len(given) > len(fn.literals) and not extra_args):
            return self.error(E.ARITY, f"{name} takes {len(fn.literals)} argument"
                                       f"{'s' * (len(fn.literals) != 1)}, got {len(given)}", e)
        literals = []
        for kind, arg in zip(fn.literals, given):
            if not (isinstance(arg, exp.Literal) and arg.is_string):
                return self.error(E.LITERAL, f"the {kind} name given to {name} must be a string literal", arg)
            literals.append(arg.this)
            self.known(kind, arg.this, arg, len(given) - 1)
        args = tuple(self.b.const(v, "string") for v in literals)
        if extra_args:
            values = tuple(self.visit(a) for a in given[1:])
            args += (self.b.node("tuple", values, None, "list", False),)
        if not fn.call:
            return self.b.node("ctxattr", (), fn.member, fn.result, fn.nullable)
        if window is not None:
            return self.b.node("ctxcall", args + (self.b.const(window, "int"),), fn.windowed, fn.result, fn.nullable)
        return self.b.node("ctxcall", args, fn.member, fn.result, fn.nullable)

    def known(self, kind: str, name: str, at: exp.Expression, callout_arity: int) -> None:
        """Record a referenced event/segment/callout name, checking it against the schema's declared set."""
        declared = {"event": self.schema.events, "segment": self.schema.segments,
                    "callout": self.schema.callouts, "param": None, "pattern": self.schema.patterns}[kind]
        if kind not in ("param", "pattern"):
            {"event": self.events, "segment": self.segments, "callout": self.callouts}[kind].add(name)
        if declared is None:
            return
        if name not in declared:
            self.error(E.UNKNOWN_NAME, f"unknown {kind} {name!r}", at, suggest(name, declared))
        elif kind == "callout" and self.schema.callouts[name] != callout_arity:
            arity = self.schema.callouts[name]
            self.error(E.ARITY, f"callout {name!r} takes {arity} argument{'s' * (arity != 1)}, "
                                f"got {callout_arity}", at)


def _article(type_name: str) -> str:
    return {"int": "an integer", "double": "a double", "any": "a value", "numeric": "a number",
            "timestamp": "a timestamp", "string": "a string", "bool": "a boolean",
            "list": "a list"}.get(type_name, type_name)


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:10]}...{text[-6:]} ({len(text)} digits)"


def _clip(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(e: exp.Expression) -> str:
    text = e.sql()
    return f"{e.key.upper()} ({text if len(text) <= 40 else text[:37] + '...'})"


_HANDLERS = {
    exp.Column: _Checker.column, exp.Literal: _Checker.literal, exp.Boolean: _Checker.boolean,
    exp.Null: _Checker.null, exp.Paren: _Checker.paren, exp.Cast: _Checker.cast,
    exp.And: _Checker.logical, exp.Or: _Checker.logical, exp.Not: _Checker.negation, exp.Is: _Checker.is_,
    exp.Between: _Checker.between, exp.In: _Checker.in_, exp.Like: _Checker.like, exp.Escape: _Checker.escape,
    exp.Case: _Checker.case, exp.If: _Checker.if_, exp.Neg: _Checker.minus, exp.DPipe: _Checker.concat,
    exp.Extract: _Checker.extract, exp.Anonymous: _Checker.function,
    **{cls: _Checker.comparison for cls in _COMPARISONS},
    **{cls: _Checker.arithmetic for cls in _ARITHMETIC},
}
