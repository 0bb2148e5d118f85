"""segflow.client: Python values <-> segflow.v1.Value and attribute maps."""

import enum
from datetime import datetime, timedelta, timezone

import pytest
from google.protobuf import struct_pb2, timestamp_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from segflow.v1 import value_pb2

from segflow.client import attributes, from_attributes, from_value, to_value

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from(
        [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    )
)
SCALARS = st.none() | st.text() | INT64 | st.floats(allow_nan=False) | st.booleans() | AWARE
VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_round_trip_keeps_value_and_type(py):
    back = from_value(value_pb2.Value.FromString(to_value(py).SerializeToString()))
    assert back == py
    assert _types(back) == _types(py)


def _types(py):
    return [_types(item) for item in py] if isinstance(py, list) else type(py)


def test_null_and_unset_are_none():
    assert from_value(value_pb2.Value()) is None
    assert from_value(value_pb2.Value(null_value=struct_pb2.NULL_VALUE)) is None
    assert to_value(None).WhichOneof("kind") == "null_value"


def test_bool_is_not_an_int_and_int_enum_is_an_int():
    class Size(enum.IntEnum):
        LARGE = 3

    assert to_value(True).WhichOneof("kind") == "bool_value"
    assert to_value(Size.LARGE) == value_pb2.Value(int_value=3)


def test_datetime_is_utc_timestamp_and_comes_back_aware():
    paris = timezone(timedelta(hours=2))
    dt = datetime(2024, 6, 1, 12, 30, 15, 250_000, tzinfo=paris)
    v = to_value(dt)
    assert v.timestamp_value == timestamp_pb2.Timestamp(seconds=int(dt.timestamp()), nanos=250_000_000)
    back = from_value(v)
    assert back == dt and back.tzinfo == timezone.utc


def test_nanoseconds_below_a_microsecond_are_truncated():
    v = value_pb2.Value(timestamp_value=timestamp_pb2.Timestamp(seconds=0, nanos=1_999))
    assert from_value(v) == datetime(1970, 1, 1, microsecond=1, tzinfo=timezone.utc)


def test_nested_list_with_null_and_tuple_as_list():
    py = ("a", [1, None, [2.5, False]], datetime(2020, 1, 1, tzinfo=timezone.utc))
    assert from_value(to_value(py)) == ["a", [1, None, [2.5, False]], datetime(2020, 1, 1, tzinfo=timezone.utc)]


@pytest.mark.parametrize(
    ("py", "error"),
    [(datetime(2024, 1, 1), ValueError), (2**63, ValueError), ({"a"}, TypeError), (b"x", TypeError)],
)
def test_unconvertible_values_raise(py, error):
    with pytest.raises(error):
        to_value(py)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=5))
def test_attribute_maps_round_trip(py):
    assert from_attributes(attributes(py)) == py


def test_attributes_take_a_mapping_and_names_and_say_which_key_failed():
    assert from_attributes(attributes({"sku": "TV"}, price=9.5, values=1)) == {"sku": "TV", "price": 9.5, "values": 1}
    assert attributes() == {}
    with pytest.raises(TypeError, match="^when: cannot convert object"):
        attributes(when=object())
    with pytest.raises(ValueError, match="^at: naive datetime"):
        attributes({"at": datetime(2026, 1, 1)})
    with pytest.raises(TypeError, match="attribute names are text"):
        attributes({1: "x"})
