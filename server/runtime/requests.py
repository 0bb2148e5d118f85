"""Request values checked and converted against the ruleset: audience, attributes and event parameters.

Every problem in a request is collected, then refused at once as INVALID_ARGUMENT with one field violation
each, before the call changes anything. A double must be finite (NaN and infinities are refused: history and
every SQL engine segflow is checked against disagree on them) and a timestamp within years 1 to 9999.
"""

from __future__ import annotations

from datetime import datetime, timezone
from math import isfinite
from typing import Any, Mapping

from segflow.rules.errors import suggest
from segflow.rules.ruleset import CompiledRuleset
from segflow.rules.schema import EXACT_TYPES, type_problem
from segflow.server.errors import InvalidArgument
from segflow.rules.values import from_value


def audience_of(compiled: CompiledRuleset, audience, field: str) -> tuple[str, dict[str, Any]]:
    """(level, id fields) of a request's audience; the ruleset's default level when none is given."""
    level = audience.level or compiled.default_audience_level
    if level not in compiled.audience_levels:
        raise InvalidArgument(f"unknown audience level {level!r}", reason="UNKNOWN_AUDIENCE_LEVEL",
                              fields=[(f"{field}.level", did_you_mean(level, compiled.audience_levels))])
    allowed = compiled.audience_levels[level]
    bad = [(f"{field}.id_fields.{name}", f"not an id field of {level} ({', '.join(allowed) or 'none'})")
           for name in audience.id_fields if name not in allowed]
    if bad:
        refuse(bad, "UNKNOWN_ID_FIELD")
    ids = {name: value_of(v, f"{field}.id_fields.{name}", bad) for name, v in audience.id_fields.items()}
    if bad:
        refuse(bad, "BAD_VALUE")
    return level, ids


def attributes_of(compiled: CompiledRuleset, values: Mapping, field: str) -> tuple[dict[str, Any], list]:
    """Typed attribute values from a request; undeclared names are kept and noted in an advisory."""
    declared = compiled.schema.attributes
    converted, bad, notes = {}, [], []
    for name, value in values.items():
        python = value_of(value, f"{field}.{name}", bad)
        attribute = declared.get(name)
        if attribute is None:
            notes.append(("undeclared_attribute", f"{field}.{name} is not declared in the ruleset"))
        else:
            problem = type_problem(python, attribute.type)
            if problem:
                bad.append((f"{field}.{name}", f"expected {attribute.type}, got {problem}"))
                continue
            if attribute.type == "double" and python is not None:
                python = float(python)
        converted[name] = python
    if bad:
        refuse(bad, "WRONG_TYPE")
    return converted, notes


def parameters_of(parameters: tuple[tuple[str, bool, str], ...] | None, values: Mapping) -> dict[str, Any]:
    """An event's parameters as Python values, checked against its declared `parameters` (CompiledRuleset.
    parameters: name, required, type; None for an undefined event, whose parameters are only converted)."""
    bad = []
    params = {}
    for name, value in values.items():  # the common kinds inline; value_of for the rest and for what is refused
        kind = value.WhichOneof("kind")
        if kind == "string_value":
            params[name] = value.string_value
        elif kind == "int_value":
            params[name] = value.int_value
        elif kind == "double_value" and isfinite(value.double_value):
            params[name] = value.double_value
        else:
            params[name] = value_of(value, f"event.parameters.{name}", bad)
    if parameters is None or bad:
        if bad:
            refuse(bad, "BAD_PARAMETER")
        return params
    for name, required, kind in parameters:
        value = params.get(name)
        if value is None:
            if required:
                bad.append((f"event.parameters.{name}", "is required"))
            continue
        if type(value) is EXACT_TYPES.get(kind):  # fits as it is
            continue
        problem = type_problem(value, kind)
        if problem:
            bad.append((f"event.parameters.{name}", f"expected {kind}, got {problem}"))
        elif kind == "double":
            params[name] = float(value)
    if bad:
        refuse(bad, "BAD_PARAMETER")
    return params


def value_of(value, field: str, bad: list[tuple[str, str]]) -> Any:
    """The Python value of a request's Value; a NaN, an infinity or a timestamp out of range is added to `bad`."""
    try:
        python = from_value(value)
    except (OverflowError, ValueError):
        bad.append((field, "timestamp out of range (years 1 to 9999)"))
        return None
    if _non_finite(python):
        bad.append((field, "must be a finite number (not NaN or an infinity)"))
    return python


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not isfinite(value)
    return isinstance(value, list) and any(_non_finite(item) for item in value)


def timestamp_of(stamp, field: str) -> datetime:
    """A request's Timestamp as an aware UTC datetime; INVALID_ARGUMENT when it is outside years 1 to 9999."""
    try:
        return stamp.ToDatetime(tzinfo=timezone.utc)
    except (OverflowError, ValueError):
        refuse([(field, "timestamp out of range (years 1 to 9999)")], "BAD_VALUE")


def did_you_mean(name: str, known) -> str:
    """`unknown 'x'`, with the closest known name when there is one."""
    hint = suggest(name, known)
    return f"unknown {name!r}" + (f"; did you mean {hint!r}?" if hint else "")


def refuse(bad: list[tuple[str, str]], reason: str) -> None:
    """INVALID_ARGUMENT for every (field, problem) found; the message names the first."""
    raise InvalidArgument(f"{bad[0][0]}: {bad[0][1]}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""),
                          reason=reason, fields=bad)
