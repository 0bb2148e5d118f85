"""Compile errors as data, so a rule author sees every mistake at once with its place in the text.

A `RuleError` is one problem: a stable `code`, a message, where it is (the ruleset `path`, the position inside
the expression, and the position in the file when the caller passed the expression's `origin`), a caret
excerpt, and a "did you mean" suggestion when there is one. `CompileError` carries the whole list.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable

# Stable error codes; the server maps them to gRPC error details, so they never change meaning.
SYNTAX = "syntax"
UNKNOWN_NAME = "unknown_name"
ARITY = "arity"
TYPE = "type"
UNSUPPORTED = "unsupported"
TOO_DEEP = "too_deep"
TOO_LARGE = "too_large"
LITERAL = "literal"

CARET_WIDTH = 80  # characters of the expression line shown above the caret


@dataclass(frozen=True)
class RuleError:
    """One compile problem in one expression; lines and columns are 1-based."""

    code: str
    message: str
    path: str
    expression: str
    expr_line: int
    expr_column: int
    line: int | None = None
    column: int | None = None
    caret: str = ""
    suggestion: str | None = None

    def located(self, file: str, severity: str = "error") -> str:
        """`FILE:LINE:COLUMN: SEVERITY: PATH: CODE: MESSAGE`, the form editors and CI logs link to, then the
        expression with a caret under the column (the one diagnostics format of validate, deploy and watch)."""
        where = f"{file}:{self.line}:{self.column}" if self.line is not None else file
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        text = f"{where}: {severity}: {self.path or '<ruleset>'}: {self.code}: {self.message}{hint}"
        return f"{text}\n{self.caret}" if self.caret else text

    def __str__(self) -> str:
        where = self.path or "<expression>"
        if self.line is not None:
            where += f" (line {self.line}, column {self.column})"
        else:
            where += f" (expression line {self.expr_line}, column {self.expr_column})"
        hint = f"; did you mean {self.suggestion!r}?" if self.suggestion else ""
        text = f"{where}: {self.code}: {self.message}{hint}"
        return f"{text}\n{self.caret}" if self.caret else text


class CompileError(Exception):
    """Raised when an expression does not compile; `errors` lists every problem found, in text order."""

    def __init__(self, errors: Iterable[RuleError]):
        self.errors = sorted(errors, key=lambda e: (e.path, e.expr_line, e.expr_column))
        super().__init__("\n".join(str(e) for e in self.errors))


class TooComplex(Exception):
    """The generated code would exceed Python's nesting limits or MAX_SOURCE_CHARS (internal; callers turn it
    into a CompileError located at the expression)."""


class EvaluationError(ValueError):
    """An expression met a value it cannot work on at run time (LIKE on a number, a value past the size bounds).

    It fails the one rule, segment or offer being evaluated (the server reports it as an advisory), never the
    call; it is a ValueError so that every caller catching evaluation errors already catches it."""


class ValueTooLarge(EvaluationError):
    """An expression would build a value past runtime.MAX_VALUE_SIZE characters or items."""


def suggest(name: str, known: Iterable[str]) -> str | None:
    """The closest known name to a misspelt one, or None when nothing is close."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


class ErrorSink:
    """Collects errors for one expression, turning character offsets into expression and file positions."""

    def __init__(self, text: str, path: str, origin: tuple[int, int] | None):
        self.text = text
        self.path = path
        self.origin = origin
        self.errors: list[RuleError] = []

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) inside the expression text of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, column

    def add(self, code: str, message: str, offset: int, suggestion: str | None = None) -> None:
        expr_line, expr_column = self.position(offset)
        line = column = None
        if self.origin is not None:
            # `origin` is where the expression's first character sits in the file; continuation lines are
            # taken to be indented to the same column, as the lines of a YAML block scalar are.
            line = self.origin[0] + expr_line - 1
            column = self.origin[1] + expr_column - 1
        self.errors.append(RuleError(code, message, self.path, self.text, expr_line, expr_column,
                                     line, column, self._caret(expr_line, expr_column), suggestion))

    def _caret(self, expr_line: int, expr_column: int) -> str:
        """The expression line (at most CARET_WIDTH characters around the column) with a ^ under it."""
        lines = self.text.splitlines()
        source_line = lines[expr_line - 1] if expr_line <= len(lines) else ""
        if not source_line.strip():
            return ""
        begin = max(0, expr_column - 1 - CARET_WIDTH // 2)
        excerpt = source_line[begin:begin + CARET_WIDTH]
        pad = "".join(c if c == "\t" else " " for c in excerpt[:expr_column - 1 - begin])
        return f"  {excerpt}\n  {pad}^"
