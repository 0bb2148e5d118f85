"""What one call decided, gathered while the session is locked and emitted once it is released.

A `Decision` has its own id and the ruleset version that made it; it collects the actions fired (each with an
id, the rule that fired it and a lifecycle state), segment changes, advisories, and the history records and
action events to hand to the writer and the subscription bus after the session lock is let go.

Actions are kept as their encodings until the call is decided: each is its type, state, rule and event (one
cached encoding per combination), the fields every action of the call shares (encoded once per call), its id
and its own fields, already encoded (a handler's fixed fields were encoded when the ruleset compiled; see
CompiledAction.fixed). `actions` parses them into the response in one go, and the subscription bus is handed
the same encodings (`encoded_actions`): no message per action built field by field, nor serialized again.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
import struct
from datetime import datetime, timezone
from typing import Any, Iterable

from google.protobuf.descriptor import FieldDescriptor
from segflow.v1 import action_pb2, decision_service_pb2, value_pb2

from segflow.rules.values import value_fields
from segflow.server import calls
from segflow.server.runtime.trace import Tracer
from segflow.server.sessions.state import SessionState

# Any error inside one evaluation fails that rule, action, flowchart or offer candidate with an advisory, never
# the whole call. These are what generated code raises when a value has an unexpected type (e.g. a callout's
# text compared with a number); any other kind (e.g. AttributeError) is a bug, also logged with its traceback.
EXPECTED_ERRORS = (TypeError, ValueError, ArithmeticError)
EVALUATION_ERRORS = Exception
log = logging.getLogger(__name__)

FIRED = action_pb2.ACTION_STATE_FIRED
ERRORED = action_pb2.ACTION_STATE_ERRORED


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _prefix() -> int:
    """64 bits that tell this process apart from every other one, on this host or another (the top one set, so
    every id has all of its 32 hex digits)."""
    entropy = os.urandom(16) + f"{os.getpid()}@{socket.gethostname()}".encode()
    return int.from_bytes(hashlib.blake2b(entropy, digest_size=8).digest(), "big") | 1 << 63


def _reset_ids() -> None:
    global _COUNTER
    _COUNTER = itertools.count((_prefix() << 64) + 1)


_reset_ids()
os.register_at_fork(after_in_child=_reset_ids)  # a forked worker must not repeat its parent's ids


def new_id() -> str:
    """A unique 128-bit id in hex: this process's random prefix and a counter, one int (next() is atomic under
    the GIL), so it costs no system call, never releases the GIL (unlike os.urandom) and formats in one step."""
    return "%x" % next(_COUNTER)


# -- the protobuf wire format, for the few shapes actions need ------------------------------------------------

_SIZED = 4096
_SIZES = tuple(bytes((n,)) if n < 128 else bytes((n & 127 | 128, n >> 7)) for n in range(_SIZED))
_DOUBLE = struct.Struct("<d").pack
_INT64 = range(-(2**63), 2**63)


def varint(n: int) -> bytes:
    """A non-negative int (below 2**64) as a varint."""
    if n < _SIZED:
        return _SIZES[n]
    out = bytearray()
    while n > 127:
        out.append(n & 127 | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field (a string or a message): its encoded `tag`, the body's length, the body."""
    n = len(body)
    return tag + (_SIZES[n] if n < _SIZED else varint(n)) + body


def tag(message, name: str) -> bytes:
    """The encoded tag of the field `name` of a message class: a varint's for integers, booleans and enums, a
    length-delimited field's for strings and messages (the only kinds the runtime encodes itself)."""
    described = message.DESCRIPTOR.fields_by_name[name]
    return varint(described.number << 3 | (0 if described.cpp_type in _VARINTS else 2))


_VARINTS = frozenset({FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_BOOL,
                      FieldDescriptor.CPPTYPE_ENUM})


def value_body(py: Any) -> bytes:
    """The encoding of the segflow.v1.Value of a Python value (as `value_fields` makes it; raises as it does):
    the common scalars here, anything else through the message."""
    kind = type(py)
    if kind is float:
        return b"\x21" + _DOUBLE(py)
    if kind is str:
        return field(b"\x12", py.encode())
    if kind is int and py in _INT64:
        return b"\x18" + varint(py if py >= 0 else py + 2**64)
    if kind is bool:
        return b"\x28\x01" if py else b"\x28\x00"
    return value_pb2.Value(**value_fields(py)).SerializeToString()


def value_field(tag: bytes, py: Any) -> bytes:
    """The field `tag` holding the segflow.v1.Value of a Python value (`field(tag, value_body(py))`, with doubles,
    short strings and small non-negative ints put together at once)."""
    kind = type(py)
    if kind is float:
        return tag + b"\x09\x21" + _DOUBLE(py)
    if kind is str:
        raw = py.encode()
        n = len(raw)
        if n < 128:  # the Value is its string field: one byte of tag, one of length
            return tag + _SIZES[n + 2] + b"\x12" + _SIZES[n] + raw
    elif kind is int and 0 <= py < 128:
        return tag + b"\x02\x18" + _SIZES[py]
    return field(tag, value_body(py))


# The encoded type, state, rule id and event name of actions, by those: a ruleset has a few of each.
_HEADS: dict[tuple[int, int, str, str], bytes] = {}
_HEADS_KEPT = 4096  # then forgotten at once (rule ids and event names of old ruleset versions)
_ACTION = tag(decision_service_pb2.PostEventResponse, "actions")
_ID = tag(action_pb2.Action, "action_id")


def _head(key: tuple[int, int, str, str]) -> bytes:
    if len(_HEADS) >= _HEADS_KEPT:
        _HEADS.clear()
    type_, state, rule_id, event_name = key
    head = _HEADS[key] = action_pb2.Action(type=type_, state=state, rule_id=rule_id,
                                           event_name=event_name).SerializeToString()
    return head


def failure(exc: Exception) -> str:
    """What an advisory says of a failed evaluation; an unexpected kind of error is also logged."""
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc)
    log.warning("evaluation failed with an unexpected %s", type(exc).__name__, exc_info=exc)
    return f"{type(exc).__name__}: {exc}"


class Decision:
    def __init__(self, session: SessionState, version: int, now: datetime, event_name: str = "",
                 explain: bool = False, notes: Iterable[tuple[str, str]] = ()):
        self.id = new_id()
        self.version = version
        call = calls.current()
        self.trace_id = call.trace_id if call is not None else ""  # the call's W3C trace, for actions and history
        self.session = session
        self.now = now
        self.event_name = event_name
        self.rule_id = ""  # the rule whose actions are running
        self._response = decision_service_pb2.PostEventResponse()
        self._encoded: list[bytes] = []  # the actions fired and not yet parsed into the response, in order
        self.encoded_actions: list[bytes] = []  # every fired action's encoding, in order: what is published
        self.entered: set[str] = set()
        self.left: set[str] = set()
        self.advisories = [action_pb2.Advisory(code=code, message=message) for code, message in notes] if notes else []
        self.records: list = []
        self.profile = None  # the customer's profile to write once the call has committed (a ProfileRecord)
        self.tracer = Tracer() if explain else None  # an explain trace, only when the request asks
        self.identify()

    def identify(self) -> None:
        """Note who the session belongs to (again, after its audience changed) for the actions to come."""
        session = self.session
        self.customer_id = session.customer_id if session.audience_ids else ""  # (an anonymous visit's, at once)
        self.anonymous = not self.customer_id
        self._shared = b""  # the encoded fields every action of the call shares, made by the first action

    def _share(self) -> bytes:
        since = self.now - _EPOCH
        self._shared = action_pb2.Action(
            ruleset_version=self.version, session_id=self.session.session_id, decision_id=self.id,
            customer_id=self.customer_id, anonymous=self.anonymous, trace_id=self.trace_id,
            time={"seconds": since.days * 86400 + since.seconds, "nanos": since.microseconds * 1000},
        ).SerializeToString()
        return self._shared

    @property
    def fired(self) -> int:
        """How many actions were fired so far."""
        return len(self.encoded_actions)

    @property
    def actions(self):
        """The fired actions, in order (the response's repeated Action field): those fired since the last read
        are parsed into it first."""
        return self._parsed().actions

    def _parsed(self) -> decision_service_pb2.PostEventResponse:
        """The response with every action fired so far parsed in."""
        if self._encoded:
            self._response.MergeFromString(b"".join(self._encoded))
            self._encoded = []
        return self._response

    @property
    def trace(self):
        """The explain trace for the response, or None."""
        return self.tracer.trace if self.tracer is not None else None

    @property
    def proto(self) -> decision_service_pb2.Decision:
        return decision_service_pb2.Decision(decision_id=self.id, ruleset_version=self.version)

    def response(self, segments_entered: list[str], segments_left: list[str], event_sequence: int) -> EncodedResponse:
        """The PostEventResponse of this decision: its actions, its decision, advisories and trace, and the
        fields given; the actions not parsed yet stay encoded (EncodedResponse). Call once, when the decision is
        complete."""
        response = self._response
        response.decision.decision_id = self.id
        response.decision.ruleset_version = self.version
        if self.advisories:
            response.advisories.extend(self.advisories)
        if self.tracer is not None:
            response.trace.CopyFrom(self.tracer.trace)
        if segments_entered:
            response.segments_entered.extend(segments_entered)
        if segments_left:
            response.segments_left.extend(segments_left)
        response.event_sequence = event_sequence
        return EncodedResponse(self)

    def fire(self, type_: int, state: int, fields: bytes, action_id: str = "") -> str:
        """Record a fired action (or a state change of an earlier one, when `action_id` is given) whose own fields
        (details, media type, error) are `fields`, encoded; returns its id."""
        action_id = action_id or "%x" % next(_COUNTER)  # new_id(), without its call
        encoded_id = action_id.encode()  # far shorter than _SIZED
        key = (type_, state, self.rule_id, self.event_name)
        body = b"".join((_HEADS.get(key) or _head(key), self._shared or self._share(), _ID, _SIZES[len(encoded_id)],
                         encoded_id, fields))
        n = len(body)
        self._encoded += (_ACTION, _SIZES[n] if n < _SIZED else varint(n), body)
        self.encoded_actions.append(body)
        return action_id

    def action(self, type_: int, *, state: int = FIRED, action_id: str = "", error: tuple[str, str] | None = None,
               media_type: str = "", **details) -> str:
        """`fire` with the action's own fields as arguments: `details` its one details field, a message or a
        dict of its fields; `error` (code, message) makes it errored."""
        code, message = error or ("", "")
        fields = action_pb2.Action(media_type=media_type, error_code=code, error_message=message, **details)
        return self.fire(type_, ERRORED if error else state, fields.SerializeToString(), action_id)

    def advise(self, code: str, message: str) -> None:
        self.advisories.append(action_pb2.Advisory(code=code, message=message, rule_id=self.rule_id))

    def segments_changed(self, entered: set[str], left: set[str]) -> None:
        """Fold one resegmentation into the call's net change: entering then leaving is no change."""
        self.entered, self.left = ((self.entered - left) | (entered - self.left),
                                   (self.left - entered) | (left - self.entered))

    def record(self, record) -> None:
        self.records.append(record)


class EncodedResponse:
    """A decision's PostEventResponse whose actions not parsed yet stay encoded: on the wire (SerializeToString)
    they follow the rest of the message as its repeated `actions` fields, so a call served over gRPC never
    parses them into the message to serialize them again. Protobuf parsers take fields in any order and append
    repeated ones in order, so the bytes parse as the message with every action in it would. Reading `actions`
    (the business counters do) parses them in first; every other attribute is the message's (the access log
    writes the trace id into its decision)."""

    __slots__ = ("_decision",)

    def __init__(self, decision: Decision):
        self._decision = decision

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decision._response, name)

    @property
    def actions(self):
        return self._decision.actions

    def parsed(self) -> decision_service_pb2.PostEventResponse:
        """The message, with every action parsed in."""
        return self._decision._parsed()

    def SerializeToString(self) -> bytes:
        decision = self._decision
        return decision._response.SerializeToString() + b"".join(decision._encoded)
