"""The session codec: every SessionState round-trips exactly, and stored data that is not a session is refused."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

import msgpack

from segflow.server.sessions import codec
from segflow.server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState

names = st.text(max_size=8)
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1),
                       timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5, minutes=-30))]))
scalars = st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | names | moments
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
value_maps = st.dictionaries(names, values, max_size=4)
offers = st.builds(IssuedOffer, names, names, names, names, names, names, st.floats(allow_nan=False), names)

states = st.builds(
    SessionState,
    session_id=names, channel=names, audience_level=names, started_at=moments, last_activity_at=moments,
    audience_ids=value_maps, attributes=value_maps,
    segments=st.frozensets(names, max_size=4),
    event_stats=st.dictionaries(names, st.builds(EventStat, st.integers(0, 10**6), st.none() | moments,
                                                 st.none() | moments, value_maps), max_size=3),
    event_sequence=st.integers(0, 10**9),
    processed_events=st.lists(st.tuples(names, st.binary(max_size=40)), max_size=4).map(OrderedDict),
    last_recommended=st.lists(offers, max_size=3),
    issued=st.dictionaries(names, offers, max_size=3),
    presentations=st.dictionaries(names, st.integers(0, 99), max_size=3),
    rejected=st.sets(names, max_size=3), suppressed=st.sets(names, max_size=3),
    journeys=st.dictionaries(names, st.builds(JourneyStep, st.booleans(), st.integers(0, 99), names, moments,
                                              moments), max_size=3),
    ruleset_version=st.integers(0, 10**6),
)


def same(a: SessionState, b: SessionState) -> bool:
    """Equal, and with the same types and order where equality would not see them."""
    return (a == b and type(b.segments) is frozenset and type(b.rejected) is set
            and type(b.processed_events) is OrderedDict and list(a.processed_events) == list(b.processed_events)
            and all(x.utcoffset() == y.utcoffset() for x, y in zip(_times(a), _times(b))))


def _times(state: SessionState):
    yield from (state.started_at, state.last_activity_at)
    yield from (v for v in state.attributes.values() if isinstance(v, datetime))


@settings(max_examples=300, deadline=None)
@given(states)
def test_every_state_round_trips_exactly(state):
    assert same(state, codec.decode(codec.encode(state)))


def test_keys_a_client_chose_are_never_mistaken_for_a_datetime():
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    state = SessionState("s", "web", "Visitor", t, t, attributes={"$dt": "2026-03-01T00:00:00+00:00"},
                         event_stats={"$dt": EventStat(1, t, t, {"$dt": [t]})})
    assert codec.decode(codec.encode(state)) == state


def test_a_value_a_session_cannot_hold_is_refused_when_written():
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(TypeError, match="bytes"):
        codec.encode(SessionState("s", "web", "Visitor", t, t, attributes={"blob": b"\x00"}))


@pytest.mark.parametrize("data", [b"", b"\x90", msgpack.packb([99, "s"]), msgpack.packb([codec.FORMAT, "s"]),
                                  msgpack.packb({"format": codec.FORMAT}), b'{"format": 1}', b"\xc1\x00"])
def test_data_that_is_not_a_stored_session_is_refused(data):
    with pytest.raises(ValueError, match="not a segflow session"):
        codec.decode(data)


def test_a_session_stored_before_a_field_existed_loads_with_its_default():
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    document = msgpack.unpackb(codec.encode(SessionState("s", "web", "Visitor", t, t, ruleset_version=7)))
    assert document[-2:] == [7, None]  # ruleset_version, then memory (the last field added)
    assert codec.decode(msgpack.packb(document[:-2], use_bin_type=True)).ruleset_version == 0


def test_a_datetime_keeps_its_utc_offset_and_microseconds():
    moment = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    state = codec.decode(codec.encode(SessionState("s", "web", "Visitor", moment, moment)))
    assert state.started_at == moment and state.started_at.utcoffset() == moment.utcoffset()


@settings(max_examples=300)
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.builds(timezone, st.timedeltas(timedelta(hours=-23, minutes=-59),
                                                                timedelta(hours=23, minutes=59)))))
def test_a_datetime_is_written_as_its_microseconds_since_the_epoch_and_again_the_same(moment):
    """The encoding reads the datetime's fields (cheaper than timedelta arithmetic) and keeps it for the next
    commit of the same object: both as the arithmetic has it."""
    offset = moment.utcoffset()
    expected = codec._MOMENT.pack((moment - codec._EPOCH) // timedelta(microseconds=1), offset // timedelta(seconds=1))
    assert codec._default(moment) == msgpack.ExtType(1, expected)
    assert codec._default(moment) == msgpack.ExtType(1, expected)  # kept
    assert codec._default(moment.replace()) == msgpack.ExtType(1, expected)  # an equal one, not kept


@pytest.mark.parametrize("value", [b"\x00", {"a": 1}, {1, 2}, [1, [b"x"]], 2**64, datetime(2026, 3, 1)])
def test_every_value_a_session_cannot_hold_is_refused(value):
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    with pytest.raises(TypeError):
        codec.encode(SessionState("s", "web", "Visitor", t, t, attributes={"x": value}))


def test_a_session_with_30_attributes_and_a_few_event_statistics_is_compact():
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    attributes = {f"attribute_{i}": (i * 1.5 if i % 3 else f"value-{i}") for i in range(30)}
    stats = {f"event_{i}": EventStat(i + 1, t, t, {"sku": "SKU-1", "price": 9.5}) for i in range(4)}
    encoded = codec.encode(SessionState("visitor-0001", "web", "Visitor", t, t, attributes=attributes,
                                        event_stats=stats, segments=frozenset({"browsers", "big_cart"})))
    assert len(encoded) < 1024


def test_encoding_from_many_threads_at_once_round_trips_each_session():
    """Regression: one Packer shared by every thread interleaved two sessions' bytes when `_default` (a
    datetime) let another thread pack in the middle; the shared LMDB store then read garbled sessions."""
    import sys
    import threading
    from datetime import datetime, timedelta, timezone

    from segflow.server.sessions import codec
    from segflow.server.sessions.state import SessionState

    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    failures, start = [], threading.Barrier(8)

    def work(worker: int):
        start.wait()
        for n in range(300):
            at = t0 + timedelta(seconds=n)
            state = SessionState(session_id=f"s{worker}-{n}", channel="web", audience_level="Visitor",
                                 started_at=at, last_activity_at=at,
                                 attributes={"n": n, "seen": at, "when": [at, at + timedelta(days=1)]})
            try:
                back = codec.decode(codec.encode(state))
            except ValueError:  # garbled beyond reading
                back = None
            if back is None or (back.session_id, back.attributes) != (state.session_id, state.attributes):
                failures.append(state.session_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, inside packs too
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []


def test_a_session_is_written_byte_for_byte_as_earlier_versions_wrote_it():
    """Replicas of two versions share Redis during an upgrade: the bytes must not change with the encoder."""
    t = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    local = t.astimezone(timezone(timedelta(hours=-5, minutes=-30)))
    state = SessionState("s1", "web", "Visitor", t, t, {}, {"cart": 2.5, "seen": local, "tags": ["a", 1]},
                         frozenset({"shoppers"}), {"add_to_cart": EventStat(2, t, t, {"sku": "X"})}, 2,
                         OrderedDict(e1=b"\x01"), journeys={"j": JourneyStep(True, 1, "add_to_cart", t, t)})
    assert codec.encode(state).hex() == (
        "dc001402a27331a3776562a756697369746f72c70c0100064bf535b0f24000000000c70c0100064bf535b0f240000000008083a4"
        "63617274cb4004000000000000a47365656ec70c0100064bf535b0f240ffffb2a8a47461677392a1610191a873686f707065727381"
        "ab6164645f746f5f636172749402c70c0100064bf535b0f24000000000c70c0100064bf535b0f2400000000081a3736b75a15802"
        "92a26531c40101908080909081a16a95c301ab6164645f746f5f63617274c70c0100064bf535b0f24000000000c70c0100064bf5"
        "35b0f2400000000000c0")
