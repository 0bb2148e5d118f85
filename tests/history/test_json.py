"""History's JSON columns: the encoder built once writes what json's own encoder writes, and refuses alike."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from segflow.server.history import backends

VALUES = [
    {"sku": "SKU-1", "price": 9.5, "quantity": 2},
    {"text": "caf\u00e9 \u2603 \x00 \"quoted\" \\", "none": None, "flag": True, "list": [1, 2.5, "x", None, False]},
    {"at": datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=timezone(timedelta(hours=2)))},
    {"nan": math.nan, "inf": [math.inf, -math.inf], "nested": {"deep": [[{"a": 1}]]}},
    {1: "int key", 2.5: "float key", True: "bool key", None: "null key"},
    "text", 42, 1.25, None, [], {},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_fast_json_writes_what_the_checking_encoder_writes(value):
    try:
        expected = backends._JSON.encode(value)
    except ValueError:
        expected = backends._JSON.encode(backends._each(value, backends._finite))
    assert backends._to_json(value) == expected


def test_fast_json_refuses_as_the_checking_encoder_does():
    circular: list = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        backends._to_json({"rows": circular})
    with pytest.raises(TypeError, match="cannot store object"):
        backends._to_json({"x": object()})
