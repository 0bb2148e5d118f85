"""SessionState to compact bytes and back, so a session can live in shared storage that no replica may trust to
run code (Redis, the host's shared store), at a few hundred bytes a session.

MessagePack, not pickle: a stored session is data, never instructions. A session is one array, `[FORMAT,
field, field, ...]`, with the fields of `SessionState` in the order of `_FIELDS` and no names, so 30 attributes
with short values take well under a kilobyte. Fields are only ever appended: a session written before a field
existed is shorter, and the missing field takes its default. The round trip is exact for the values sessions
hold (`rules.values`: None, str, int, float, bool, aware datetime, list): a datetime is a MessagePack extension
(microseconds since the epoch, UTC offset in seconds), so it keeps its offset (not a zone name) and cannot be
mistaken for any value or key a client chose; a tuple comes back as a list. Processed-event responses are raw
bytes, in their order.
"""

from __future__ import annotations

import operator
import struct
import threading
from collections import OrderedDict
from dataclasses import MISSING, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import msgpack

from segflow.server.profiles.memory import CustomerMemory
from segflow.server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState

FORMAT = 2

_DATETIME = 1  # the extension type code of a datetime
_MOMENT = struct.Struct(">qi")  # microseconds since the epoch (UTC), UTC offset in seconds
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_SECOND = timedelta(seconds=1)
_UTC_OFFSET = timedelta(0)
_SCALARS = frozenset({type(None), str, int, float, bool, datetime})


# An ExtType made as the tuple it is: its own constructor checks its arguments in two Python calls, which are a
# third of the cost of a session's datetimes (ours are right by construction).
_EXT_TYPE = msgpack.ExtType
_new_ext = tuple.__new__
_EPOCH_DAY = _EPOCH.toordinal()

# The extensions of the datetimes encoded lately, by the datetime's id, with the datetime itself (which keeps the
# id its own while it is here): a session a store keeps as an object is encoded again at each commit, most of its
# datetimes the same objects as the last time. Emptied when it holds `_MOMENTS_KEPT`.
_moments: dict[int, tuple[datetime, Any]] = {}
_MOMENTS_KEPT = 4096


def _default(value: Any) -> Any:
    """msgpack's hook for what it cannot write itself: datetimes, anywhere in a value."""
    kept = _moments.get(id(value))
    if kept is not None and kept[0] is value:
        return kept[1]
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            raise TypeError(f"a session holds aware datetimes only, not {value.isoformat()}")
        # (value - _EPOCH) // _MICROSECOND, from the fields: a third cheaper than timedelta arithmetic
        micros = (((value.toordinal() - _EPOCH_DAY) * 86400 + value.hour * 3600 + value.minute * 60 + value.second)
                  * 1000000 + value.microsecond)
        if offset:
            ext = _new_ext(_EXT_TYPE, (_DATETIME, _MOMENT.pack(micros - offset // _MICROSECOND, offset // _SECOND)))
        else:
            ext = _new_ext(_EXT_TYPE, (_DATETIME, _MOMENT.pack(micros, 0)))
        if len(_moments) >= _MOMENTS_KEPT:
            _moments.clear()
        _moments[id(value)] = (value, ext)
        return ext
    raise TypeError(f"a session cannot hold a {type(value).__name__}: {value!r}")


def _ext(code: int, data: bytes) -> datetime:
    if code != _DATETIME:
        raise ValueError(f"unknown extension type {code}")
    micros, offset = _MOMENT.unpack(data)
    moment = _EPOCH + micros * _MICROSECOND
    return moment if offset == 0 else moment.astimezone(timezone(timedelta(seconds=offset)))


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The values, refused (TypeError) if one is not a session value: msgpack itself would also write bytes,
    dicts and sets."""
    for value in values.values():
        if type(value) not in _SCALARS:
            _check(value)
    return values


def _check(value: Any) -> None:
    if isinstance(value, (list, tuple)):
        for item in value:
            _check(item)
    elif not isinstance(value, (str, int, float, datetime)) and value is not None:
        raise TypeError(f"a session cannot hold a {type(value).__name__}: {value!r}")


def encode_step(step: JourneyStep) -> list:
    """A journey step as a JSON-ready list (the Redis journey book stores these)."""
    return [step.active, step.step, step.last_event, step.started_at.isoformat(), step.updated_at.isoformat()]


def decode_step(row: list) -> JourneyStep:
    active, number, last_event, started_at, updated_at = row
    return JourneyStep(active, number, last_event, datetime.fromisoformat(started_at),
                       datetime.fromisoformat(updated_at))


def _same(value: Any) -> Any:
    return value


def _mapping(encode: Callable, decode: Callable) -> tuple[Callable, Callable]:
    """A dict whose values are written with `encode` and read with `decode`."""
    return (lambda d: {k: encode(v) for k, v in d.items()},
            lambda d: {k: decode(v) for k, v in d.items()})


_STAT = (lambda s: [s.count, s.first_time, s.last_time, _checked(s.last_data)], lambda row: EventStat(*row))
_OFFER_FIELDS = tuple(f.name for f in fields(IssuedOffer))
_OFFER = (lambda offer: [getattr(offer, name) for name in _OFFER_FIELDS], lambda row: IssuedOffer(*row))
_STEP = (lambda s: [s.active, s.step, s.last_event, s.started_at, s.updated_at], lambda row: JourneyStep(*row))


def _pairs(events: OrderedDict[str, bytes]) -> list:
    return [item for pair in events.items() for item in pair]


def _unpairs(flat: list) -> OrderedDict[str, bytes]:
    return OrderedDict(zip(flat[::2], flat[1::2]))


# (field, to a msgpack-ready value, from the unpacked value), in stored order: append new fields at the end,
# never reorder. `_check_fields` refuses to load the module if a SessionState field is forgotten here.
_FIELDS: tuple[tuple[str, Callable[[Any], Any], Callable[[Any], Any]], ...] = (
    ("session_id", _same, _same),
    ("channel", _same, _same),
    ("audience_level", _same, _same),
    ("started_at", _same, _same),
    ("last_activity_at", _same, _same),
    ("audience_ids", _checked, _same),
    ("attributes", _checked, _same),
    ("segments", list, frozenset),
    ("event_stats", *_mapping(*_STAT)),
    ("event_sequence", _same, _same),
    ("processed_events", _pairs, _unpairs),
    ("last_recommended", lambda offers: [_OFFER[0](o) for o in offers], lambda rows: [_OFFER[1](r) for r in rows]),
    ("issued", *_mapping(*_OFFER)),
    ("presentations", _same, _same),
    ("rejected", list, set),
    ("suppressed", list, set),
    ("journeys", *_mapping(*_STEP)),
    ("ruleset_version", _same, _same),
    ("memory", lambda m: None if m is None else m.to_json(),
     lambda d: None if d is None else CustomerMemory.from_json(d)),
)
_NAMES = tuple(name for name, _, _ in _FIELDS)
_VALUES = operator.attrgetter(*_NAMES)  # a state's fields in stored order, in one call
_DEFAULTS = {f.name: f.default if f.default_factory is MISSING else f.default_factory() for f in fields(SessionState)}
# (position in the document, writer, what it writes for the field's empty default) of the fields not written as
# they are: each is a container or None, and an empty one (most of a session's) is written without a call
_WRITTEN = tuple((i + 1, write, write(_DEFAULTS[name])) for i, (name, write, _) in enumerate(_FIELDS)
                 if write is not _same)


def _check_fields() -> None:
    missing = {f.name for f in fields(SessionState)} ^ set(_NAMES)
    if missing:
        raise TypeError(f"segflow.server.sessions.codec does not match SessionState: {sorted(missing)}")


_check_fields()
_REQUIRED = sum(1 for f in fields(SessionState) if f.default is MISSING and f.default_factory is MISSING)
# One Packer per thread: a Packer keeps its output in a buffer of its own, and `_default` runs Python code in
# the middle of a pack, where another thread using the same Packer would write into that buffer.
_PACKERS = threading.local()


def _packer() -> msgpack.Packer:
    packer = getattr(_PACKERS, "packer", None)
    if packer is None:
        packer = _PACKERS.packer = msgpack.Packer(default=_default, use_bin_type=True, datetime=False)
    return packer


def encode(state: SessionState) -> bytes:
    """The session as one MessagePack array. Raises TypeError for a value a session may not hold."""
    document = [FORMAT, *_VALUES(state)]
    for i, write, empty in _WRITTEN:
        value = document[i]
        document[i] = write(value) if value else empty
    try:
        return _packer().pack(document)
    except (OverflowError, ValueError) as exc:  # an int beyond 64 bits, a string too long
        raise TypeError(f"a session cannot hold that value: {exc}") from exc


def decode(data: bytes) -> SessionState:
    """The session `encode` wrote. Raises ValueError for data that is not a stored session."""
    try:
        document = msgpack.unpackb(data, ext_hook=_ext, raw=False)
    except Exception as exc:  # msgpack's errors for truncated or garbled data, or an unknown extension
        raise ValueError(f"not a segflow session: {exc}") from exc
    if (type(document) is not list or not document or document[0] != FORMAT
            or not _REQUIRED < len(document) <= len(_FIELDS) + 1):
        raise ValueError("not a segflow session (or a format this version cannot read)")
    return SessionState(**{name: read(value) for (name, _, read), value in zip(_FIELDS, document[1:])})
