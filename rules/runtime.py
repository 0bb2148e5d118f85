"""The functions table: every name generated code may call, with SQL's NULL and edge-case semantics.

Generated code runs with no builtins; this table (plus the evaluation context) is all it can reach.
Every helper returns None (SQL NULL) when a NULL argument makes the SQL result NULL.

Choices that differ between SQL engines, pinned here and in tests/rules/fixtures:
- `/` on two integers truncates toward zero (PostgreSQL, SQLite); otherwise it is float division.
  Division or modulo by zero gives NULL (SQLite; PostgreSQL raises an error).
- `%` takes the sign of the dividend (PostgreSQL, SQLite); on floats it is `math.fmod` (PostgreSQL; SQLite
  truncates floats to integers first).
- ROUND rounds half away from zero (both engines) and returns a double (SQLite).
- LEAST/GREATEST ignore NULL arguments and are NULL only when all are (PostgreSQL; SQLite's multi-argument
  MIN/MAX return NULL when any argument is NULL).
- SUBSTR(s, start[, length]) is 1-based and positions before 1 count toward the length, as in both engines;
  a negative start does not count from the end (PostgreSQL; SQLite does count from the end); a negative length
  gives NULL (PostgreSQL raises an error).
- TRIM/LTRIM/RTRIM remove spaces only. LENGTH counts characters.
- `a || b` is NULL when either side is; non-strings are turned into text (booleans as true/false,
  timestamps in ISO 8601).
- Arithmetic on a value whose type is only known at run time (a callout's result, EVENT_LAST_DATA) checks it
  is a number; `||` and REPLACE build at most MAX_VALUE_SIZE characters. Either failing raises an
  EvaluationError, which fails the one rule (PostgreSQL raises an error too).
- Date parts are taken in UTC; a naive datetime is taken to be UTC. DAYOFWEEK is 1=Sunday..7=Saturday
  (MySQL, SQL Server); EXTRACT(DOW ...) is 0=Sunday..6=Saturday (PostgreSQL). SECOND is a whole number.
  DATEDIFF(end, start) counts calendar days (MySQL); SECONDS_DIFF(end, start) is end - start in seconds.
- CAST(x AS INT) truncates toward zero (SQLite; PostgreSQL rounds). Text that is not a valid number, boolean
  (true/false/t/f/1/0, any case) or ISO 8601 timestamp casts to NULL (SQLite gives 0; PostgreSQL raises).
  CAST(x AS TEXT) uses the same text as ||.
- ARRAY_CONTAINS(list, x) is `x = ANY(list)` (PostgreSQL): NULL for a NULL list, FALSE for an empty one, else
  the IN rule (NULL when x is NULL, or when x is absent but the list holds a NULL); generate.py inlines it. SIZE/CARDINALITY of a NULL list is NULL.
- LIKE is case-sensitive (PostgreSQL; SQLite's default LIKE is not), `%` and `_` are wildcards, and
  ESCAPE 'c' makes c quote the next character.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable

from segflow.rules.context import DEFAULT_CONTEXT
from segflow.rules.errors import EvaluationError, ValueTooLarge

UNSET = object()  # marks a lazily computed shared subexpression that has not been computed yet
MAX_VALUE_SIZE = 1_000_000  # characters of any text an expression builds (|| and REPLACE); past it, ValueTooLarge
_UTC = timezone.utc
_LIKE_CACHE_SIZE = 256  # distinct non-constant LIKE patterns kept compiled


def _div(a, b):
    if a is None or b is None or b == 0:
        return None
    if type(a) is int and type(b) is int:
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b >= 0) else -quotient
    return a / b


def _mod(a, b):
    if a is None or b is None or b == 0:
        return None
    if type(a) is int and type(b) is int:
        remainder = abs(a) % abs(b)
        return remainder if a >= 0 else -remainder
    return math.fmod(a, b)


def _abs(x):
    return None if x is None else abs(x)


def _round(x, digits=0):
    if x is None or digits is None:
        return None
    if digits > 15:  # beyond double precision there is nothing left to round
        return float(x)
    exponent = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(x)).quantize(exponent, rounding=ROUND_HALF_UP))


def _least(*values):
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _greatest(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _upper(s):
    return None if s is None else str.upper(s)  # str.upper(5) is a TypeError, not an AttributeError


def _lower(s):
    return None if s is None else str.lower(s)


def _length(s):
    return None if s is None else len(s)


def _trim(s):
    return None if s is None else str.strip(s, " ")


def _ltrim(s):
    return None if s is None else str.lstrip(s, " ")


def _rtrim(s):
    return None if s is None else str.rstrip(s, " ")


def _replace(s, old, new):
    if s is None or old is None or new is None:
        return None
    if not old:
        return s
    if len(new) > len(old):  # nested REPLACEs multiply the length: check it before building the text
        _bounded(len(s) + str.count(s, old) * (len(new) - len(old)), "REPLACE")
    return str.replace(s, old, new)


def _bounded(size: int, what: str) -> None:
    if size > MAX_VALUE_SIZE:
        raise ValueTooLarge(f"{what} would build a text of {size} characters; the limit is {MAX_VALUE_SIZE}")


def _number(x):
    """An arithmetic operand whose type is only known at run time: a number (or NULL), else EvaluationError."""
    if x is None or (type(x) in (int, float)):
        return x
    raise EvaluationError(f"arithmetic needs numbers, not a {type(x).__name__}")


def _substr(s, start, length=UNSET):
    if s is None or start is None or length is None:
        return None
    begin = start - 1
    if length is UNSET:
        return s[max(begin, 0):]
    if length < 0:
        return None
    return s[max(begin, 0):max(begin + length, 0)]


def text(value: Any) -> str:
    """SQL text of a value, for || and for comparisons against other engines."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _concat(a, b):
    if a is None or b is None:
        return None
    a, b = text(a), text(b)
    _bounded(len(a) + len(b), "||")
    return a + b


_BOOLEAN_TEXT = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


def _to_int(value):
    if isinstance(value, str):
        value = _to_double(value)
        if value is None:
            return None
    return int(value)  # int() of a float truncates toward zero


def _to_double(value):
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    return float(value)


def _to_timestamp(value):
    try:
        return timestamp(value)
    except ValueError:
        return None


_CASTS: dict[str, Callable[[Any], Any]] = {
    "string": text,
    "int": _to_int,
    "double": _to_double,
    "bool": lambda v: _BOOLEAN_TEXT.get(v.strip().lower()) if isinstance(v, str) else v != 0,
    "timestamp": _to_timestamp,
}


def _cast(kind, value):
    return None if value is None else _CASTS[kind](value)


def _utc(ts: datetime) -> datetime:
    if not isinstance(ts, datetime):
        raise EvaluationError(f"a date function takes a timestamp, not a {type(ts).__name__}")
    return ts.replace(tzinfo=_UTC) if ts.tzinfo is None else ts.astimezone(_UTC)


_DATE_PARTS: dict[str, Callable[[datetime], Any]] = {
    "year": lambda t: t.year,
    "month": lambda t: t.month,
    "day": lambda t: t.day,
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: t.second,
    "dow": lambda t: (t.weekday() + 1) % 7,
    "dayofweek": lambda t: (t.weekday() + 1) % 7 + 1,
    "doy": lambda t: t.timetuple().tm_yday,
    "epoch": lambda t: t.timestamp(),
}


def _date_part(part, ts):
    return None if ts is None else _DATE_PARTS[part](_utc(ts))


def _datediff(end, start):
    if end is None or start is None:
        return None
    return (_utc(end).date() - _utc(start).date()).days


def _seconds_diff(end, start):
    if end is None or start is None:
        return None
    return (_utc(end) - _utc(start)).total_seconds()


def _size(values):
    return None if values is None else len(values)


def _members(values):
    """A list's items as a frozenset, for generated code that tests several literals against it; the list itself
    (or NULL, or a value that is not a list) when its items are not all hashable."""
    if type(values) is list:
        try:
            return frozenset(values)
        except TypeError:
            pass
    return values


def timestamp(iso: str) -> datetime:
    """An aware datetime from ISO 8601 text; text without an offset is taken as UTC. Raises ValueError."""
    value = datetime.fromisoformat(iso)
    return value.replace(tzinfo=_UTC) if value.tzinfo is None else value


def like_plan(pattern: str, escape: str | None) -> tuple[str, str]:
    """How to test LIKE `pattern`: ("exact"|"prefix"|"suffix"|"contains", literal text) for the shapes plain
    string methods answer, else ("match", the pattern respelt with backslash as its escape) for `like_matcher`.
    Raises EvaluationError (a ValueError) on a pattern that ends in its escape character."""
    items = _like_items(pattern, escape)
    if "_" not in items and _one_literal_run(items):
        literal = "".join(i[1] for i in items if i != "%")
        lead, trail = bool(items) and items[0] == "%", bool(items) and items[-1] == "%"
        if not literal and items:
            return "contains", ""
        return {(False, False): "exact", (False, True): "prefix", (True, False): "suffix",
                (True, True): "contains"}[(lead, trail)], literal
    return "match", "".join(i if i in ("%", "_") else _quote(i[1]) for i in items)


def _like_items(pattern: str, escape: str | None) -> list[str]:
    """The pattern as items: "%" and "_" are wildcards, a literal character is kept as "\\" + char."""
    items: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if escape and char == escape:
            quoted = next(chars, None)
            if quoted is None:
                raise EvaluationError(f"LIKE pattern ends with its escape character {escape!r}")
            items.append("\\" + quoted)
        else:
            items.append(char if char in "%_" else "\\" + char)
    return items


def _quote(char: str) -> str:
    return "\\" + char if char in "%_\\" else char


def _one_literal_run(items: list[str]) -> bool:
    """True when the literal characters are contiguous, so only leading/trailing % surround them."""
    marks = "".join("%" if i == "%" else "a" for i in items).strip("%")
    return "%" not in marks


def like_regex(canonical: str) -> str:
    """A regular expression for a "match" plan of like_plan, for fullmatch, that never backtracks far.

    The pattern is split at its % signs into fixed-length pieces (literals, and `.` for _). The first piece must
    sit at the start and the last at the end; each piece in between is placed leftmost after the previous one,
    inside an atomic group `(?>.*?piece)` that the engine never re-enters. Taking the leftmost place is always
    right (a later piece can only gain room from it), so only the final `.*` backtracks and a test costs at
    most len(s) * len(pattern) character steps, whatever the pattern; `.*` per % instead is exponential in
    the number of % (issue 11.1: %a%a%a%a%a%b against 140 'a')."""
    runs: list[str] = [""]
    for item in _like_items(canonical, "\\"):
        if item == "%":
            runs.append("")
        else:
            runs[-1] += "." if item == "_" else re.escape(item[1])
    if len(runs) == 1:
        return runs[0]
    first, *middle, last = runs
    return first + "".join(f"(?>.*?{piece})" for piece in middle if piece) + ".*" + last


def like_matcher(canonical: str) -> Callable[[str], Any]:
    """The compiled test of a "match" plan: called on text, a match object when it matches, else None
    (generated code builds one per constant pattern)."""
    return re.compile(like_regex(canonical), re.DOTALL).fullmatch


@functools.lru_cache(maxsize=_LIKE_CACHE_SIZE)
def _like_test(pattern: str, escape: str | None) -> Callable[[str], bool]:
    kind, literal = like_plan(pattern, escape)
    if kind == "match":
        match = like_matcher(literal)
        return lambda s: match(s) is not None
    return {"exact": lambda s: s == literal, "prefix": lambda s: s.startswith(literal),
            "suffix": lambda s: s.endswith(literal), "contains": lambda s: literal in s}[kind]


def _like(s, pattern, escape=None):
    """LIKE where the value's type or the pattern is only known at run time (else it is planned at compile
    time). Raises EvaluationError when either side is not text."""
    if s is None or pattern is None:
        return None
    if not isinstance(s, str) or not isinstance(pattern, str):
        raise EvaluationError(f"LIKE compares text, not a {type(pattern if isinstance(s, str) else s).__name__}")
    return _like_test(pattern, escape)(s)


# The names generated code can see. Keys are exactly the identifiers the generator emits.
HELPERS: dict[str, Any] = {
    "_div": _div, "_mod": _mod, "_abs": _abs, "_round": _round, "_least": _least, "_greatest": _greatest,
    "_upper": _upper, "_lower": _lower, "_length": _length, "_trim": _trim, "_ltrim": _ltrim,
    "_rtrim": _rtrim, "_replace": _replace, "_number": _number, "_substr": _substr, "_concat": _concat,
    "_date_part": _date_part, "_datediff": _datediff, "_seconds_diff": _seconds_diff,
    "_cast": _cast, "_size": _size, "_like": _like,
    "_like_matcher": like_matcher, "_timestamp": timestamp, "_UNSET": UNSET, "_CTX": DEFAULT_CONTEXT,
    "_members": _members,
}
