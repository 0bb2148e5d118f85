"""CustomerMemory counts lazily (occurrences kept aside, folded into the tiers when read, stored, copied or at a
later call): checked against a reference model that adds every occurrence to every tier at once, over random
event streams, windows, reads, and calls that commit or fail. And a delta written without its JSON round trip
when JSON would give its attributes back as they are."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from segflow.server.history.backends import _to_json
from segflow.server.profiles.memory import MAX_WINDOW_SECONDS, TIERS, CustomerMemory, span
from segflow.server.profiles.store import profile_delta

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
EVENTS = ("view", "cart", "buy")


class Reference:
    """Every occurrence added to every tier at once, each tier bounded after each (the memory's documented
    rules, written plainly); a delta's minutes unbounded."""

    def __init__(self) -> None:
        self.tiers: list[dict[str, dict[int, list]]] = [{} for _ in TIERS]
        self.delta: dict[str, dict[int, list]] = {}

    def count(self, event: str, stamp: float, params: dict) -> None:
        sums = {name: value for name, value in params.items() if type(value) in (int, float)}
        for (size, kept, _), tier in zip(TIERS, self.tiers):
            buckets = tier.setdefault(event, {})
            index = int(stamp // size)
            self._add(buckets, index, stamp, sums)
            if len(buckets) > kept:
                for old in [key for key in buckets if key <= index - kept]:
                    del buckets[old]
        self._add(self.delta.setdefault(event, {}), int(stamp // TIERS[0][0]), stamp, sums)

    @staticmethod
    def _add(buckets: dict[int, list], index: int, stamp: float, sums: dict) -> None:
        bucket = buckets.get(index)
        if bucket is None:
            buckets[index] = [1, stamp, stamp, dict(sums)]
            return
        bucket[0] += 1
        bucket[1], bucket[2] = min(bucket[1], stamp), max(bucket[2], stamp)
        for name, value in sums.items():
            bucket[3][name] = bucket[3].get(name, 0) + value

    def in_window(self, event: str, tier: int, first: int, last: int) -> list[list]:
        return [bucket for key, bucket in self.tiers[tier].get(event, {}).items() if first <= key <= last]

    def stored(self, tiers: list[dict[str, dict[int, list]]]) -> list[dict[str, dict[str, list]]]:
        return [{event: {str(key): bucket for key, bucket in buckets.items()} for event, buckets in tier.items()}
                for tier in tiers]


_PARAMS = st.dictionaries(st.sampled_from(["price", "quantity", "sku", "gift"]),
                          st.one_of(st.integers(-5, 100), st.floats(-100, 1000, allow_nan=False, width=32),
                                    st.booleans(), st.text(max_size=2)), max_size=3)
# Seconds from T0: mostly within the last days (several in one minute or hour), some far back, a few ahead
# (an event stamped later than now moves every tier's bound).
_OFFSETS = st.one_of(st.integers(-3 * 3600, 60), st.integers(-450 * 86400, 0), st.integers(0, 3 * 86400))
_COUNT = st.tuples(st.just("count"), st.sampled_from(EVENTS), _OFFSETS, _PARAMS)
_READ = st.tuples(st.just("read"), st.sampled_from(EVENTS), st.integers(1, MAX_WINDOW_SECONDS), st.integers(-3600, 0))
_STEP = st.one_of(_COUNT, _COUNT, _READ)
_CALL = st.tuples(st.just("call"), st.lists(_STEP, max_size=12), st.booleans())


def _check_read(memory: CustomerMemory, reference: Reference, event: str, window: int, at: int) -> None:
    now = T0 + timedelta(seconds=at)
    tier, first, last = span(window, now)
    buckets = reference.in_window(event, tier, first, last)
    assert memory.event_count(event, tier, first, last) == sum(b[0] for b in buckets)
    for param in ("price", "quantity", "sku"):
        sums = [b[3][param] for b in buckets if param in b[3]]
        found = memory.event_sum(event, param, tier, first, last)
        assert found == (sum(sums) if sums else None) and type(found) is type(sum(sums) if sums else None)
    for latest in (False, True):
        stamps = [b[2 if latest else 1] for b in buckets]
        expected = None if not stamps else datetime.fromtimestamp(max(stamps) if latest else min(stamps), timezone.utc)
        assert memory.event_time(event, tier, first, last, latest) == expected


def _run(memory: CustomerMemory, reference: Reference | None, steps) -> None:
    for step in steps:
        if step[0] == "count":
            _, event, offset, params = step
            when = T0 + timedelta(seconds=offset)
            memory.count(event, when, params)
            if reference is not None:
                reference.count(event, when.timestamp(), params)
        elif reference is not None:
            _check_read(memory, reference, *step[1:])
        else:
            memory.event_count(step[1], *span(step[2], T0))  # a read within a call that fails: folds, then undone


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.one_of(_COUNT, _READ, _CALL), max_size=40))
def test_every_windowed_count_sum_and_time_is_the_reference_models(script):
    memory, reference = CustomerMemory.live("Customer", "customer_id=c"), Reference()
    for step in script:
        if step[0] != "call":
            _run(memory, reference, [step])
            continue
        _, steps, fails = step
        memory.record()
        if fails:
            _run(memory, None, steps)
            memory.undo()
        else:
            _run(memory, reference, steps)
            memory.settle()
    assert memory.tiers == reference.stored(reference.tiers)
    assert memory.unsaved.tiers[0] == reference.stored([reference.delta])[0]


_CHANGE = st.one_of(_COUNT, _READ, st.tuples(st.sampled_from(["contact", "respond", "sync", "take", "copy",
                                                               "to_json"]), st.integers(0, 10 * 1440)))


def _change(memory: CustomerMemory, step) -> None:
    kind = step[0]
    if kind in ("count", "read"):
        _run(memory, None, [step])
        return
    when = T0 + timedelta(minutes=step[1])
    if kind == "contact":
        memory.contact(f"O{step[1] % 2}", when)
    elif kind == "respond":
        memory.respond(f"O{step[1] % 2}", when, accepted=step[1] % 2 == 0)
    elif kind == "sync":
        memory.sync({"tier": f"t{step[1] % 3}"}, ("tier",), when)
    elif kind == "take":
        memory.take_unsaved()
    elif kind == "copy":
        memory.copy()
    else:
        memory.to_json()


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(_CHANGE, max_size=30), st.lists(_CHANGE, max_size=30))
def test_a_failed_calls_undo_leaves_the_memory_exactly_as_it_was(before, during):
    memory, twin = (CustomerMemory.live("Customer", "customer_id=c", {"tier": "gold"}) for _ in range(2))
    for step in before:  # the same changes, but the twin folded: the memory may start the call with counts aside
        _change(memory, step)
        _change(twin, step)
    as_it_was = copy.deepcopy(twin.to_json())  # to_json shares the memory's dicts
    memory.record()
    for step in during:
        _change(memory, step)
    memory.undo()
    assert memory == twin and memory.to_json() == as_it_was
    for step in during:  # and it goes on exactly as the memory that never made the undone changes
        _change(memory, step)
        _change(twin, step)
    assert memory.to_json() == twin.to_json()


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=3),
                    st.datetimes(timezones=st.just(timezone.utc)))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.dictionaries(st.text(max_size=3), st.one_of(_VALUES, st.lists(_VALUES, max_size=3)), max_size=4))
def test_a_delta_to_write_holds_its_attributes_as_json_gives_them_back(attributes):
    expected = json.loads(_to_json(attributes))
    written = profile_delta(CustomerMemory("Customer", "customer_id=c", dict(attributes)), T0).changes.attributes
    assert _to_json(written) == _to_json(expected)  # NaN as text, not as a NaN that equals nothing
    assert [type(value) for value in written.values()] == [type(value) for value in expected.values()]


def test_a_delta_to_write_still_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError, match="cannot store set"):
        profile_delta(CustomerMemory("Customer", "customer_id=c", {"tags": {"a"}}), T0)
