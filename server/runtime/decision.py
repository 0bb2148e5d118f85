"""What one call decided, gathered while the session is locked and emitted once it is released.

A `Decision` has its own id and the ruleset version that made it; it collects the actions fired (each with an
id, the rule that fired it and a lifecycle state), segment changes, advisories, and the history records and
action events to hand to the writer and the subscription bus after the session lock is let go.

Actions are built once, in place, in the response message that will carry them (`response()` fills in the
rest), never as a message per action copied into the response later; the subscription bus is handed the
same messages after the response is complete.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import socket
from datetime import datetime, timezone
from typing import Iterable

from segflow.v1 import action_pb2, decision_service_pb2

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


def _prefix() -> str:
    """64 bits that tell this process apart from every other one, on this host or another."""
    entropy = os.urandom(16) + f"{os.getpid()}@{socket.gethostname()}".encode()
    return hashlib.blake2b(entropy, digest_size=8).hexdigest()


def _reset_ids() -> None:
    global _PREFIX, _COUNTER
    _PREFIX, _COUNTER = _prefix(), itertools.count(1)


_reset_ids()
os.register_at_fork(after_in_child=_reset_ids)  # a forked worker must not repeat its parent's ids


# The encoded type, state, rule id and event name of actions, by those: a ruleset has a few of each.
_HEADS: dict[tuple[int, int, str, str], bytes] = {}
_HEADS_KEPT = 4096  # then forgotten at once (rule ids and event names of old ruleset versions)


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


def new_id() -> str:
    """A unique 128-bit id in hex: this process's random prefix and a counter (next() is atomic under the
    GIL), so it costs no system call and never releases the GIL, unlike os.urandom."""
    return f"{_PREFIX}{next(_COUNTER):016x}"


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
        self.actions = self._response.actions  # the fired actions, in order (a repeated Action field)
        self.entered: set[str] = set()
        self.left: set[str] = set()
        self.advisories = [action_pb2.Advisory(code=code, message=message) for code, message in notes]
        self.records: list = []
        self.profile = None  # the customer's profile to write once the call has committed (a ProfileRecord)
        self.tracer = Tracer() if explain else None  # an explain trace, only when the request asks
        self.identify()

    def identify(self) -> None:
        """Note who the session belongs to (again, after its audience changed) for the actions to come."""
        self.customer_id = self.session.customer_id
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
    def trace(self):
        """The explain trace for the response, or None."""
        return self.tracer.trace if self.tracer is not None else None

    @property
    def proto(self) -> decision_service_pb2.Decision:
        return decision_service_pb2.Decision(decision_id=self.id, ruleset_version=self.version)

    def response(self, **fields) -> decision_service_pb2.PostEventResponse:
        """The PostEventResponse of this decision: its actions as built, its decision, advisories and trace, and
        `fields` (scalars set, lists extended). Call once, when the decision is complete."""
        response = self._response
        response.decision.decision_id = self.id
        response.decision.ruleset_version = self.version
        response.advisories.extend(self.advisories)
        if self.tracer is not None:
            response.trace.CopyFrom(self.tracer.trace)
        for name, value in fields.items():
            if isinstance(value, list):
                getattr(response, name).extend(value)
            else:
                setattr(response, name, value)
        return response

    def action(self, type_: int, *, state: int = FIRED, action_id: str = "", error: tuple[str, str] | None = None,
               media_type: str = "", **details) -> action_pb2.Action:
        """Record a fired action (or a state change of an earlier one, when `action_id` is given); `details` are
        its one details field, a message or, cheaper, a dict of its fields."""
        if media_type:
            details["media_type"] = media_type
        action = self.actions.add(action_id=action_id or new_id(), **details)
        # The other fields parsed from their encodings (the call's shared ones, and those of the rule's actions of
        # this type and state): cheaper than passing them as arguments to every action.
        key = (type_, ERRORED if error else state, self.rule_id, self.event_name)
        action.MergeFromString((_HEADS.get(key) or _head(key)) + (self._shared or self._share()))
        if error:
            action.error_code, action.error_message = error
        return action

    def advise(self, code: str, message: str) -> None:
        self.advisories.append(action_pb2.Advisory(code=code, message=message, rule_id=self.rule_id))

    def segments_changed(self, entered: set[str], left: set[str]) -> None:
        """Fold one resegmentation into the call's net change: entering then leaving is no change."""
        self.entered, self.left = ((self.entered - left) | (entered - self.left),
                                   (self.left - entered) | (left - self.entered))

    def record(self, record) -> None:
        self.records.append(record)
