"""Stage 1: expression text -> sqlglot syntax tree, within size and nesting limits, with syntax errors located.

Every function call is kept as written (`exp.Anonymous` with its name and arguments in order) instead of being
rewritten into sqlglot's dialect-specific function classes, so the checker has one function table to consult;
only EXTRACT(... FROM ...) and CAST(... AS ...) keep their special syntax, and CURRENT_DATE and the like are
plain names. That is done on the tokens, not by subclassing sqlglot's parser, so that the mypyc-compiled
parser of `sqlglotc` (whose classes cannot be subclassed from Python) parses about 3x faster than pure Python:
a function name sqlglot knows gets a mark that no table matches, removed again from the tree.
"""

from __future__ import annotations

import re

from sqlglot import ErrorLevel, ParseError, TokenError, exp, parser
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import TokenType

from segflow.rules.errors import SYNTAX, TOO_DEEP, TOO_LARGE, ErrorSink

# Limits keep hostile or generated text from exhausting the compiler (sqlglot and CPython both recurse):
MAX_CHARS = 20_000     # characters of expression text
MAX_NESTING = 32       # open parentheses / CASE blocks at any point
MAX_NODES = 5_000      # syntax tree nodes
MAX_DEPTH = 48         # tree depth, counting a chain of ANDs (or ORs) as one level

# NUL and lone surrogates cannot reach Python's compiler (even inside a string literal); refused where they are.
_REFUSED_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_OPENERS = {TokenType.L_PAREN, TokenType.CASE}
_CLOSERS = {TokenType.R_PAREN, TokenType.END}


_DIALECT = Dialect()
_MARK = "\x00"  # prefixed to a known function name so that sqlglot parses the call as exp.Anonymous
_SPECIAL = {"EXTRACT", "CAST", *parser.Parser.NO_PAREN_FUNCTION_PARSERS}  # CASE, IF ...: parsed by sqlglot
_KNOWN_FUNCTIONS = frozenset(set(parser.Parser.FUNCTIONS) | set(parser.Parser.FUNCTION_PARSERS)) - _SPECIAL
_NO_PAREN_FUNCTIONS = frozenset(parser.Parser.NO_PAREN_FUNCTIONS)


def parse(text: str, sink: ErrorSink) -> exp.Expression | None:
    """Parse one expression; on any problem record it in `sink` and return None."""
    if len(text) > MAX_CHARS:
        sink.add(TOO_LARGE, f"expression is {len(text)} characters long; the limit is {MAX_CHARS}", MAX_CHARS)
        return None
    refused = _REFUSED_CHARACTER.search(text)
    if refused:
        sink.add(SYNTAX, f"character {refused.group()!r} is not allowed in an expression", refused.start())
        return None
    try:
        tokens = _DIALECT.tokenize(text)
    except TokenError:
        sink.add(SYNTAX, "unterminated string or quoted name", _unterminated_quote(text))
        return None
    if not tokens:
        sink.add(SYNTAX, "empty expression", 0)
        return None
    if not _prepared(tokens, sink):
        return None
    try:
        trees = _DIALECT.parser(error_level=ErrorLevel.RAISE, max_errors=10).parse(tokens, text)
    except ParseError as error:
        for detail in error.errors:
            # sqlglot reports the column where the offending token ends; point at where it starts.
            line, column = detail.get("line") or 1, detail.get("col") or 1
            highlight = (detail.get("highlight") or "").removeprefix(_MARK)
            offset = _offset(text, line, column) - max(len(highlight) - 1, 0)
            sink.add(SYNTAX, _describe(detail.get("description", "invalid syntax")), offset)
        return None
    except RecursionError:
        sink.add(TOO_DEEP, "expression is nested too deeply", 0)
        return None
    except (AttributeError, TypeError, ValueError, IndexError, KeyError):
        # sqlglot's parser trips over some malformed text ('-5[0].[0].') instead of reporting it.
        sink.add(SYNTAX, "invalid syntax", 0)
        return None
    if len(trees) != 1 or trees[0] is None:
        sink.add(SYNTAX, "expected exactly one expression", tokens[-1].start if len(trees) > 1 else 0)
        return None
    tree = trees[0]
    return tree if _shape_ok(tree, sink) else None


def start(node: exp.Expression) -> int:
    """0-based offset of the first character of `node` in the expression text (0 when unknown)."""
    offsets = [n.meta["start"] for n in node.walk() if "start" in n.meta]
    return min(offsets, default=0)


def _prepared(tokens, sink: ErrorSink) -> bool:
    """Check the nesting depth and mark the function names sqlglot would rewrite (see the module docstring)."""
    depth = 0
    for token, following in zip(tokens, tokens[1:] + [None]):
        called = following is not None and following.token_type is TokenType.L_PAREN
        if called and token.text.upper() in _KNOWN_FUNCTIONS:
            token.text = _MARK + token.text
        elif not called and token.token_type in _NO_PAREN_FUNCTIONS:
            token.token_type = TokenType.VAR
        if token.token_type in _OPENERS:
            depth += 1
            if depth > MAX_NESTING:
                sink.add(TOO_DEEP, f"more than {MAX_NESTING} nested parentheses or CASE blocks", token.start)
                return False
        elif token.token_type in _CLOSERS:
            depth -= 1
    return True


def _shape_ok(tree: exp.Expression, sink: ErrorSink) -> bool:
    """Check node count and depth without recursion (the tree may be a 3,000-term chain); unmark names."""
    stack = [(tree, 1)]
    count = 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if type(node) is exp.Anonymous and isinstance(node.this, str) and node.this.startswith(_MARK):
            node.set("this", node.this[len(_MARK):])
        if count > MAX_NODES:
            sink.add(TOO_LARGE, f"expression has more than {MAX_NODES} parts", start(node))
            return False
        if depth > MAX_DEPTH:
            sink.add(TOO_DEEP, f"expression is nested more than {MAX_DEPTH} levels deep", start(node))
            return False
        for child in node.iter_expressions():
            same_chain = isinstance(node, (exp.And, exp.Or)) and type(child) is type(node)
            stack.append((child, depth if same_chain else depth + 1))
    return True


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(s) + 1 for s in lines[:line - 1]) + column - 1


def _describe(description: str) -> str:
    """sqlglot's parse messages name its internal classes; say what the author wrote instead."""
    if description.startswith("Required keyword"):
        return "incomplete expression: an operand is missing"
    if description.startswith("Invalid expression / Unexpected token"):
        return "unexpected token"
    return description


def _unterminated_quote(text: str) -> int:
    """Offset of the quote that opens an unterminated string ('...') or quoted name ("...")."""
    opened, quote = -1, ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote and text[i + 1:i + 2] == quote:
                i += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            opened, quote = i, char
        i += 1
    return opened if quote else 0
