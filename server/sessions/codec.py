"""SessionState to bytes and back, so a session can live in shared storage that no replica may trust to run code.

JSON, not pickle: a stored session is data, never instructions. Each field of `SessionState` has an entry in
`_FIELDS` (how to write it, how to read it back); a field missing from stored data takes its default, so a
session written by an older replica still loads. The round trip is exact for the values sessions hold
(`rules.values`: None, str, int, float, bool, aware datetime, list): a datetime is written as
`{"$dt": iso-8601}` and read back only where a value can be, so it cannot be mistaken for a dict (values are
never dicts) nor collide with a key a client chose. Datetimes keep their UTC offset, not a zone name; a tuple
comes back as a list. Processed-event responses (bytes) are base64, in their order.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from collections import OrderedDict
from dataclasses import MISSING, fields
from datetime import datetime
from typing import Any, Callable

from segflow.server.sessions.state import EventStat, IssuedOffer, JourneyStep, SessionState

FORMAT = 1


def _default(value: Any) -> Any:
    """json's hook for what it cannot write itself: datetimes, anywhere in a value."""
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"a session cannot hold a {type(value).__name__}: {value!r}")


def _value(value: Any) -> Any:
    """A session value read back: only a datetime was written as a dict."""
    if type(value) is dict:
        return datetime.fromisoformat(value["$dt"])
    if type(value) is list:
        return [_value(item) for item in value]
    return value


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _value(value) for name, value in values.items()}


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def encode_step(step: JourneyStep) -> list:
    return [step.active, step.step, step.last_event, step.started_at.isoformat(), step.updated_at.isoformat()]


def decode_step(row: list) -> JourneyStep:
    active, number, last_event, started_at, updated_at = row
    return JourneyStep(active, number, last_event, datetime.fromisoformat(started_at),
                       datetime.fromisoformat(updated_at))


def _encode_stat(stat: EventStat) -> list:
    return [stat.count, _iso(stat.first_time), _iso(stat.last_time), stat.last_data]


def _decode_stat(row: list) -> EventStat:
    count, first_time, last_time, last_data = row
    return EventStat(count, _time(first_time), _time(last_time), _values(last_data))


def _mapping(encode: Callable, decode: Callable) -> tuple[Callable, Callable]:
    """A dict whose values are written with `encode` and read with `decode`."""
    return (lambda d: {k: encode(v) for k, v in d.items()},
            lambda d: {k: decode(v) for k, v in d.items()})


_SAME = (lambda v: v, lambda v: v)
_VALUES = (lambda v: v, _values)  # datetimes inside are written by `_default`
_OFFER_FIELDS = tuple(f.name for f in fields(IssuedOffer))
_OFFER = (lambda offer: [getattr(offer, name) for name in _OFFER_FIELDS], lambda row: IssuedOffer(*row))

# Field name -> (to a JSON-ready value, from the parsed JSON value). Every SessionState field is listed:
# `_check_fields` refuses to load the module if a field is added to the state and forgotten here.
_FIELDS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "session_id": _SAME,
    "channel": _SAME,
    "audience_level": _SAME,
    "started_at": (datetime.isoformat, datetime.fromisoformat),
    "last_activity_at": (datetime.isoformat, datetime.fromisoformat),
    "audience_ids": _VALUES,
    "attributes": _VALUES,
    "segments": (sorted, frozenset),
    "event_stats": _mapping(_encode_stat, _decode_stat),
    "event_sequence": _SAME,
    "processed_events": (lambda events: [[k, b64encode(v).decode("ascii")] for k, v in events.items()],
                         lambda pairs: OrderedDict((k, b64decode(v)) for k, v in pairs)),
    "last_recommended": (lambda offers: [_OFFER[0](o) for o in offers],
                         lambda rows: [_OFFER[1](row) for row in rows]),
    "issued": _mapping(*_OFFER),
    "presentations": _SAME,
    "rejected": (sorted, set),
    "suppressed": (sorted, set),
    "journeys": _mapping(encode_step, decode_step),
    "ruleset_version": _SAME,
}


def _check_fields() -> None:
    missing = {f.name for f in fields(SessionState)} ^ set(_FIELDS)
    if missing:
        raise TypeError(f"segflow.server.sessions.codec does not match SessionState: {sorted(missing)}")


_check_fields()
_REQUIRED = {f.name for f in fields(SessionState) if f.default is MISSING and f.default_factory is MISSING}
_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False)
_DECODER = json.JSONDecoder()


def encode(state: SessionState) -> bytes:
    """The session as compact UTF-8 JSON. Raises TypeError for a value a session may not hold."""
    document = {name: write(getattr(state, name)) for name, (write, _) in _FIELDS.items()}
    document["format"] = FORMAT
    return _ENCODER.encode(document).encode("utf-8")


def decode(data: bytes | str) -> SessionState:
    """The session `encode` wrote. Raises ValueError for data that is not a stored session."""
    document = _DECODER.decode(data.decode("utf-8") if isinstance(data, bytes) else data)
    if not isinstance(document, dict) or document.get("format") != FORMAT or not _REQUIRED <= document.keys():
        raise ValueError("not a segflow session (or a format this version cannot read)")
    return SessionState(**{name: _FIELDS[name][1](document[name]) for name in _FIELDS if name in document})
