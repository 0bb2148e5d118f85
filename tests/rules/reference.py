"""A deliberately naive SQL interpreter over small tuple trees: the oracle for the compiled code.

It follows the SQL definitions literally (truth tables as tables, IN as a chain of ORed equalities,
BETWEEN as two comparisons, CASE/COALESCE/NULLIF by their standard rewrites), evaluates every operand,
and knows nothing about the generator's modes, CSE or NULL-test elision. Slow and obvious on purpose.

Trees: ("attr", name) ("const", value) ("cmp", op, a, b) ("and", a, b) ("or", a, b) ("not", a)
("isnull", a) ("in", a, [items]) ("between", a, lo, hi) ("like", a, pattern) ("arith", op, a, b)
("neg", a) ("case", [(cond, result)], default) ("coalesce", [items]) ("nullif", a, b) ("concat", a, b)
("contains", list, x)
"""

from __future__ import annotations

import operator
import re

T, F, U = True, False, None
AND = {(T, T): T, (T, F): F, (T, U): U, (F, T): F, (F, F): F, (F, U): F, (U, T): U, (U, F): F, (U, U): U}
OR = {(T, T): T, (T, F): T, (T, U): T, (F, T): T, (F, F): F, (F, U): U, (U, T): T, (U, F): U, (U, U): U}
NOT = {T: F, F: T, U: U}
COMPARE = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
           ">=": operator.ge}


def evaluate(tree, row):
    op = tree[0]
    if op == "attr":
        return row.get(tree[1])
    if op == "const":
        return tree[1]
    if op == "cmp":
        return compare(tree[1], evaluate(tree[2], row), evaluate(tree[3], row))
    if op == "and":
        return AND[(evaluate(tree[1], row), evaluate(tree[2], row))]
    if op == "or":
        return OR[(evaluate(tree[1], row), evaluate(tree[2], row))]
    if op == "not":
        return NOT[evaluate(tree[1], row)]
    if op == "isnull":
        return evaluate(tree[1], row) is None
    if op == "in":
        value, result = evaluate(tree[1], row), F
        for item in tree[2]:
            result = OR[(result, compare("=", value, evaluate(item, row)))]
        return result
    if op == "between":
        value = evaluate(tree[1], row)
        return AND[(compare(">=", value, evaluate(tree[2], row)), compare("<=", value, evaluate(tree[3], row)))]
    if op == "like":
        value, pattern = evaluate(tree[1], row), evaluate(tree[2], row)
        if value is None or pattern is None:
            return None
        regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, value, re.DOTALL) is not None
    if op == "arith":
        return arithmetic(tree[1], evaluate(tree[2], row), evaluate(tree[3], row))
    if op == "neg":
        value = evaluate(tree[1], row)
        return None if value is None else -value
    if op == "case":
        for condition, result in tree[1]:
            if evaluate(condition, row) is True:
                return evaluate(result, row)
        return evaluate(tree[2], row)
    if op == "coalesce":
        for item in tree[1]:
            value = evaluate(item, row)
            if value is not None:
                return value
        return None
    if op == "nullif":
        first = evaluate(tree[1], row)
        return None if compare("=", first, evaluate(tree[2], row)) is True else first
    if op == "concat":
        left, right = evaluate(tree[1], row), evaluate(tree[2], row)
        return None if left is None or right is None else left + right
    if op == "contains":  # x IN (the list's elements)
        values, value = evaluate(tree[1], row), evaluate(tree[2], row)
        if values is None:
            return None
        result = F
        for item in values:
            result = OR[(result, compare("=", value, item))]
        return result
    raise ValueError(f"unknown node {op}")


def compare(op, left, right):
    if left is None or right is None:
        return None
    return COMPARE[op](left, right)


def arithmetic(op, left, right):
    if left is None or right is None:
        return None
    if op in "/%" and right == 0:
        return None
    if op == "/":
        quotient = abs(left) // abs(right)  # integers only in the generated trees: truncate toward zero
        return quotient if (left >= 0) == (right >= 0) else -quotient
    if op == "%":
        return (abs(left) % abs(right)) * (1 if left >= 0 else -1)
    return {"+": operator.add, "-": operator.sub, "*": operator.mul}[op](left, right)


def to_sql(tree) -> str:
    """The same tree as SQL text, fully parenthesized."""
    op = tree[0]
    if op == "attr":
        return tree[1]
    if op == "const":
        value = tree[1]
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return f"({value})"
    if op == "cmp":
        return f"({to_sql(tree[2])} {tree[1]} {to_sql(tree[3])})"
    if op in ("and", "or"):
        return f"({to_sql(tree[1])} {op.upper()} {to_sql(tree[2])})"
    if op == "not":
        return f"(NOT {to_sql(tree[1])})"
    if op == "isnull":
        return f"({to_sql(tree[1])} IS NULL)"
    if op == "in":
        return f"({to_sql(tree[1])} IN ({', '.join(to_sql(i) for i in tree[2])}))"
    if op == "between":
        return f"({to_sql(tree[1])} BETWEEN {to_sql(tree[2])} AND {to_sql(tree[3])})"
    if op == "like":
        return f"({to_sql(tree[1])} LIKE {to_sql(tree[2])})"
    if op == "arith":
        return f"({to_sql(tree[2])} {tree[1]} {to_sql(tree[3])})"
    if op == "neg":
        return f"(- {to_sql(tree[1])})"
    if op == "case":
        whens = " ".join(f"WHEN {to_sql(c)} THEN {to_sql(r)}" for c, r in tree[1])
        return f"(CASE {whens} ELSE {to_sql(tree[2])} END)"
    if op == "coalesce":
        return f"COALESCE({', '.join(to_sql(i) for i in tree[1])})"
    if op == "nullif":
        return f"NULLIF({to_sql(tree[1])}, {to_sql(tree[2])})"
    if op == "concat":
        return f"({to_sql(tree[1])} || {to_sql(tree[2])})"
    if op == "contains":
        return f"ARRAY_CONTAINS({to_sql(tree[1])}, {to_sql(tree[2])})"
    raise ValueError(f"unknown node {op}")
