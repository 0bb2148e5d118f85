"""The function signatures the checker enforces: argument types and counts, result type and nullability.

Scalar functions map to a helper in runtime.HELPERS; context functions map to a method or attribute of
EvalContext and take string literals (event, segment, callout names), so the names a rule depends on are
known at compile time for validation and for indexing rules by event.
"""

from __future__ import annotations

from dataclasses import dataclass

from segflow.rules.ir import walk


@dataclass(frozen=True)
class Scalar:
    """A pure function of its arguments, implemented by runtime helper `helper`.

    `params` are the types of the required arguments ("numeric" = int or double, "any" = anything),
    `optional` those of trailing optional ones; `variadic` repeats the last parameter. `result` is a type,
    "same" (the first argument's type) or "unified" (the common type of all arguments). `nulls` says when
    the result is NULL: "strict" = exactly when an argument is, "all" = only when every argument is,
    "maybe" = also for some non-NULL arguments. `leading` are constant arguments passed to the helper first.
    `op` is the IR operator built: "call" of the helper, or an operator the generator inlines.
    """

    params: tuple[str, ...]
    result: str
    helper: str
    optional: tuple[str, ...] = ()
    variadic: bool = False
    nulls: str = "strict"
    leading: tuple = ()
    op: str = "call"


def _date_part(part: str) -> Scalar:
    return Scalar(("timestamp",), "double" if part == "epoch" else "int", "_date_part", leading=(part,))



SCALARS: dict[str, Scalar] = {
    "ABS": Scalar(("numeric",), "same", "_abs"),
    "ROUND": Scalar(("numeric",), "double", "_round", optional=("int",)),
    "LEAST": Scalar(("any",), "unified", "_least", variadic=True, nulls="all"),
    "GREATEST": Scalar(("any",), "unified", "_greatest", variadic=True, nulls="all"),
    "UPPER": Scalar(("string",), "string", "_upper"),
    "LOWER": Scalar(("string",), "string", "_lower"),
    "TRIM": Scalar(("string",), "string", "_trim"),
    "LTRIM": Scalar(("string",), "string", "_ltrim"),
    "RTRIM": Scalar(("string",), "string", "_rtrim"),
    "LENGTH": Scalar(("string",), "int", "_length"),
    "SUBSTR": Scalar(("string", "int"), "string", "_substr", optional=("int",), nulls="maybe"),
    "REPLACE": Scalar(("string", "string", "string"), "string", "_replace"),
    "YEAR": _date_part("year"),
    "MONTH": _date_part("month"),
    "DAY": _date_part("day"),
    "HOUR": _date_part("hour"),
    "MINUTE": _date_part("minute"),
    "SECOND": _date_part("second"),
    "DAYOFWEEK": _date_part("dayofweek"),
    "DAYOFYEAR": _date_part("doy"),
    "DATEDIFF": Scalar(("timestamp", "timestamp"), "int", "_datediff"),
    "SECONDS_DIFF": Scalar(("timestamp", "timestamp"), "double", "_seconds_diff"),
    "ARRAY_CONTAINS": Scalar(("list", "any"), "bool", "", nulls="maybe", op="contains"),
    "SIZE": Scalar(("list",), "int", "_size"),
}
SCALARS["SUBSTRING"] = SCALARS["SUBSTR"]
SCALARS["CARDINALITY"] = SCALARS["SIZE"]

# CAST(x AS <sqlglot type name>): the value type each target type gives.
CAST_TYPES = {"TEXT": "string", "VARCHAR": "string", "CHAR": "string", "NVARCHAR": "string",
              "INT": "int", "BIGINT": "int", "SMALLINT": "int", "TINYINT": "int",
              "DOUBLE": "double", "FLOAT": "double", "DECIMAL": "double",
              "BOOLEAN": "bool", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamp"}

# EXTRACT(<part> FROM ts): the part names accepted and the runtime part each reads.
EXTRACT_PARTS = {"YEAR": "year", "MONTH": "month", "DAY": "day", "HOUR": "hour", "MINUTE": "minute",
                 "SECOND": "second", "DOW": "dow", "DOY": "doy", "EPOCH": "epoch"}


@dataclass(frozen=True)
class Contextual:
    """A function answered by the EvalContext: `member` is the method (or, with no `literals`, the attribute).

    `literals` are the kinds of the string-literal arguments ("event", "segment", "param", "callout",
    "pattern"); `result`/`nullable` describe the value. `windowed` is the member called instead when a
    trailing `INTERVAL 'n' DAY` argument asks for a rolling window over the customer's visits (the window's
    length in seconds is passed last); `window_required` refuses the form without one.
    """

    member: str
    literals: tuple[str, ...]
    result: str
    nullable: bool
    call: bool = True
    windowed: str = ""
    window_required: bool = False


CONTEXTUAL: dict[str, Contextual] = {
    "EVENT_COUNT": Contextual("event_count", ("event",), "int", False, windowed="event_count_within"),
    "EVENT_FIRST_TIME": Contextual("event_first_time", ("event",), "timestamp", True,
                                   windowed="event_first_time_within"),
    "EVENT_LAST_TIME": Contextual("event_last_time", ("event",), "timestamp", True,
                                  windowed="event_last_time_within"),
    "EVENT_SUM": Contextual("event_sum_within", ("event", "param"), "double", True, windowed="event_sum_within",
                            window_required=True),
    "PATTERN_MET": Contextual("pattern_met", ("pattern",), "bool", False),
    "AUDIENCE_LEVEL": Contextual("audience_level", (), "string", False, call=False),
    "EVENT_LAST_DATA": Contextual("event_last_data", ("event", "param"), "any", True),
    "IN_SEGMENT": Contextual("in_segment", ("segment",), "bool", False),
    "NOW": Contextual("now", (), "timestamp", False),
    "EVENT_NAME": Contextual("event_name", (), "string", True, call=False),
    "EVENT_SEQUENCE": Contextual("event_sequence", (), "int", True, call=False),
    "EXTERNALCALLOUT": Contextual("callout", ("callout",), "any", True),
}

# audience.<id field> reads this EvalContext method.
AUDIENCE_ID = "audience_id"
# Every EvalContext member generated code may name.
CONTEXT_MEMBERS = frozenset({f.member for f in CONTEXTUAL.values()} | {f.windowed for f in CONTEXTUAL.values()}
                            | {AUDIENCE_ID}) - {""}
WINDOWED = {f.windowed: name for name, f in CONTEXTUAL.items() if f.windowed}


def windowed_events(roots) -> frozenset[str]:
    """The events that windowed functions (EVENT_COUNT('x', INTERVAL ...) and kin) read in these IR trees:
    the customer's counters of those events must be kept."""
    return frozenset(node.args[0].data for node in walk(roots) if node.op == "ctxcall" and node.data in WINDOWED)


# Rolling windows over a customer's visits, in seconds per unit: whole minutes to MAX_WINDOW_DAYS days (the
# customer's counters are kept per minute, hour and day: server/profiles/memory.py).
WINDOW_UNITS = {"MINUTE": 60, "MINUTES": 60, "HOUR": 3600, "HOURS": 3600, "DAY": 86400, "DAYS": 86400,
                "WEEK": 604800, "WEEKS": 604800}
MAX_WINDOW_DAYS = 400
MAX_WINDOW_SECONDS = MAX_WINDOW_DAYS * 86400

# Functions with their own checking rules (lazy arguments or rewriting), handled by name in check.py.
SPECIAL = ("COALESCE", "NULLIF", "IF")

KNOWN = frozenset(SCALARS) | frozenset(CONTEXTUAL) | frozenset(SPECIAL) | {"EXTRACT"}
