"""Converts between Python values and the `segflow.v1.Value` proto, the one typed value on every wire.

Python side: None (SQL NULL), str, int (int64), float, bool, timezone-aware datetime, and list (a tuple is
accepted as a list). A Value with no kind set, or with `null_value`, is None. Timestamps come back as
aware UTC datetimes; Python keeps microseconds, so nanoseconds below that are truncated. The server converts
with these same functions, so a client and segflow agree on every value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Union

from google.protobuf import struct_pb2

from segflow.v1 import value_pb2

# What a Value holds, on the Python side.
Scalar = Union[None, str, int, float, bool, datetime]
PyValue = Union[Scalar, list["PyValue"], tuple["PyValue", ...]]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _timestamp(dt: datetime) -> dict:
    if dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no timezone; use an aware datetime")
    since = dt - _EPOCH
    return {"timestamp_value": {"seconds": since.days * 86400 + since.seconds, "nanos": since.microseconds * 1000}}


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _int(i: int) -> dict:
    if not _INT64_MIN <= i <= _INT64_MAX:  # checked here, as building a Value would, not later in a message
        raise ValueError(f"Value out of range: {i}")
    return {"int_value": i}


def _list(items: list | tuple) -> dict:
    return {"list_value": {"values": [value_fields(item) for item in items]}}


# Exact-type dispatch: the common case costs one dict lookup (bool is looked up before it could be
# mistaken for an int, because type(True) is bool).
_FIELDS: dict[type, Callable[[Any], dict]] = {
    type(None): lambda _: {"null_value": struct_pb2.NULL_VALUE},
    str: lambda s: {"string_value": s},
    bool: lambda b: {"bool_value": b},
    int: _int,
    float: lambda f: {"double_value": f},
    datetime: _timestamp,
    list: _list,
    tuple: _list,
}


def value_fields(py: PyValue) -> dict:
    """The fields of the Value for a Python value, as a dict: what a message field of type Value takes as it
    is, so a message holding values (e.g. an Action's details) is built without a Value message per value to
    copy. Raises as `to_value`."""
    convert = _FIELDS.get(type(py))
    if convert is None:
        # Subclasses (str enums, IntEnum, pendulum datetimes...) convert as their base type.
        for base, candidate in _FIELDS.items():
            if base is not type(None) and isinstance(py, base):
                convert = candidate
                break
        else:
            raise TypeError(f"cannot convert {type(py).__name__} to a segflow Value")
    return convert(py)


def to_value(py: PyValue) -> value_pb2.Value:
    """Return the Value for a Python value.

    Raises TypeError for an unsupported type, ValueError for a naive datetime or an int outside int64.
    """
    return value_pb2.Value(**value_fields(py))


def _from_timestamp(v: value_pb2.Value) -> datetime:
    ts = v.timestamp_value
    return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)


_FROM_VALUE: dict[str | None, Callable[[value_pb2.Value], Any]] = {
    None: lambda _: None,
    "null_value": lambda _: None,
    "string_value": lambda v: v.string_value,
    "int_value": lambda v: v.int_value,
    "double_value": lambda v: v.double_value,
    "bool_value": lambda v: v.bool_value,
    "timestamp_value": _from_timestamp,
    "list_value": lambda v: [from_value(item) for item in v.list_value.values],
}


def from_value(v: value_pb2.Value) -> PyValue:
    """Return the Python value of a Value: None for NULL or unset, a list for a ValueList."""
    return _FROM_VALUE[v.WhichOneof("kind")](v)


def attributes(values: Mapping[str, PyValue] | None = None, /, **named: PyValue) -> dict[str, value_pb2.Value]:
    """A map of Values for a `map<string, Value>` field (event parameters, audience id fields, session
    attributes): `attributes({"sku": "TV-55"}, price=650.0)`. Raises TypeError naming the key of a value
    that does not convert (ValueError likewise)."""
    result = {}
    for key, py in {**(values or {}), **named}.items():
        if not isinstance(key, str):
            raise TypeError(f"attribute names are text, not {type(key).__name__} ({key!r})")
        try:
            result[key] = to_value(py)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{key}: {exc}") from None
    return result


def from_attributes(values: Mapping[str, value_pb2.Value]) -> dict[str, PyValue]:
    """The Python values of a `map<string, Value>` field, e.g. `from_attributes(session.attributes)`."""
    return {key: from_value(value) for key, value in values.items()}
