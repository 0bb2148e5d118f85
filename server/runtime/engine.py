"""The decision engine: every session operation, from a request message to a response message.

Each call takes the active ruleset once (a call finishes on the version it started with, whatever is deployed
meanwhile), holds the session's lock while it reads and changes the session, and only after releasing it
hands history records to the writer and actions to the subscription bus. The servicers, ExecuteBatch and the
simulator all go through here, so they cannot disagree.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping, Protocol

from segflow.v1 import decision_service_pb2 as pb

from rules.errors import suggest
from rules.ruleset import TYPE_NAMES, CompiledRuleset
from rules.schema import type_problem
from server.errors import InvalidArgument, NotFound, ServiceError, as_service_error, require
from server.history.records import SessionSummary
from server.runtime import offers
from server.runtime.context import SessionContext
from server.runtime.decision import Decision
from server.runtime.events import EventProcessor
from server.runtime.segmentation import resegment
from server.runtime.sessions import session_message
from server.sessions.journeys import JourneyBook
from server.sessions.state import SessionState
from server.sessions.store import SessionStore
from server.rulesets import ActiveVersion
from server.values import from_value


class RulesetProvider(Protocol):
    """Where the engine finds what to run: `current()` returns the active version (compiled, version,
    callouts); a call takes it once and keeps it to the end."""

    def current(self) -> ActiveVersion: ...


class Engine:
    def __init__(self, rulesets: RulesetProvider, store: SessionStore, *, clock: Callable[[], datetime],
                 submit: Callable[[Any], None] = lambda record: None,
                 publish: Callable[[Any], Any] = lambda action: None, journeys: JourneyBook | None = None,
                 admit: Callable[[], None] = lambda: None):
        self.rulesets = rulesets
        self.store = store
        self.clock = clock
        self.submit = submit
        self.publish = publish
        self.admit = admit  # raises when a decision could not be recorded (e.g. the history queue is full)
        self.journeys = journeys or JourneyBook()

    # -- session lifecycle ------------------------------------------------------------------------

    def start_session(self, request: pb.StartSessionRequest, deadline: float | None = None) -> pb.StartSessionResponse:
        require(request.session_id, "session_id")
        self.admit()
        active = self.rulesets.current()
        compiled, version = active.compiled, active.version
        if request.channel and request.channel != compiled.ruleset.channel:
            raise NotFound(f"no ruleset serves channel {request.channel!r} (this server serves "
                           f"{compiled.ruleset.channel!r})", reason="UNKNOWN_CHANNEL", fields=[("channel", "unknown")])
        level, ids = self._audience(compiled, request.audience, "audience")
        attributes, notes = self._attributes(compiled, request.parameters, "parameters")
        now = self.clock()
        with self._locked(request.session_id) as slot:
            resumed = slot.state is not None and request.rely_on_existing_session
            if resumed:
                session = slot.state
            else:
                if slot.state is not None:
                    self.store.end(slot, "restarted")
                session = slot.state = SessionState(
                    session_id=request.session_id, channel=compiled.ruleset.channel, audience_level=level,
                    started_at=now, last_activity_at=now, audience_ids=ids,
                    attributes={**compiled.defaults, **attributes}, ruleset_version=version)
            if resumed:
                session.attributes.update(attributes)
            decision = Decision(session, version, now, explain=request.explain)
            for code, message in notes:
                decision.advise(code, message)
            session.ruleset_version = version
            resegment(compiled, self._context(active, session, now, deadline, decision), decision)
            response = pb.StartSessionResponse(
                session=session_message(session, self.store, self.journeys), resumed=resumed,
                segments_entered=sorted(decision.entered), decision=decision.proto,
                advisories=decision.advisories, trace=decision.trace)
        self._emit(decision)
        return response

    def get_session(self, request: pb.GetSessionRequest) -> pb.GetSessionResponse:
        with self._session(request.session_id) as (slot, session):
            return pb.GetSessionResponse(session=session_message(session, self.store, self.journeys))

    def end_session(self, request: pb.EndSessionRequest) -> pb.EndSessionResponse:
        with self._session(request.session_id) as (slot, session):
            message = session_message(session, self.store, self.journeys)
            self.store.end(slot, "ended")
        return pb.EndSessionResponse(session=message)

    def summarise(self, session: SessionState, reason: str) -> None:
        """The store's on_close hook: a session that left is summarised to history."""
        now = self.clock()
        self.submit(SessionSummary(
            session_id=session.session_id, customer_id=session.customer_id, decision_id="",
            ruleset_version=session.ruleset_version, channel=session.channel,
            audience_level=session.audience_level, anonymous=session.anonymous, started_at=session.started_at,
            ended_at=now, end_reason=reason, event_count=session.event_sequence,
            segments=sorted(session.segments), attributes=dict(session.attributes)))

    # -- decisions --------------------------------------------------------------------------------

    def post_event(self, request: pb.PostEventRequest, deadline: float | None = None) -> pb.PostEventResponse:
        event = request.event
        require(event.name, "event.name")
        self.admit()
        active = self.rulesets.current()
        compiled, version = active.compiled, active.version
        definition = compiled.events.get(event.name)
        if definition is None and compiled.strict_events:
            raise InvalidArgument(f"event {event.name!r} is not defined in ruleset {compiled.ruleset.name!r}",
                                  reason="UNKNOWN_EVENT",
                                  fields=[("event.name", _did_you_mean(event.name, compiled.events))])
        params = self._parameters(definition, event.parameters)
        attributes, notes = self._attributes(compiled, event.attributes, "event.attributes")
        audience = self._audience(compiled, event.audience, "event.audience") if event.HasField("audience") else None
        with self._session(request.session_id) as (slot, session):
            if event.event_id and event.event_id in session.processed_events:
                response = pb.PostEventResponse.FromString(session.processed_events[event.event_id])
                response.duplicate = True
                return response
            now = self.clock()
            when = event.occurred_at.ToDatetime(tzinfo=now.tzinfo) if event.HasField("occurred_at") else now
            decision = Decision(session, version, now, event.name, explain=request.explain)
            for code, message in notes:
                decision.advise(code, message)
            session.ruleset_version = version
            session.attributes.update(attributes)
            ctx = self._context(active, session, now, deadline, decision)
            if audience is not None:
                self._set_audience(compiled, ctx, decision, *audience)
            if definition is None:
                decision.advise("unknown_event", f"event {event.name!r} is not defined: recorded, nothing fired")
            processor = EventProcessor(compiled, ctx, decision, self.journeys.journeys_of)
            processor.process(event.name, params, when, fire=definition is not None)
            response = pb.PostEventResponse(
                decision=decision.proto, actions=decision.actions, segments_entered=sorted(decision.entered),
                segments_left=sorted(decision.left), advisories=decision.advisories,
                event_sequence=session.event_sequence, trace=decision.trace)
            if event.event_id:
                session.remember_event(event.event_id, response.SerializeToString())
        self._emit(decision)
        return response

    def get_offers(self, request: pb.GetOffersRequest, deadline: float | None = None) -> pb.GetOffersResponse:
        self.admit()
        active = self.rulesets.current()
        compiled, version = active.compiled, active.version
        if not request.slots:
            raise InvalidArgument("slots: ask for at least one interaction point", reason="MISSING_FIELD",
                                  fields=[("slots", "is required")])
        points = {p.name for p in compiled.ruleset.interaction_points}
        bad = [(f"slots[{i}].interaction_point", _did_you_mean(s.interaction_point, points))
               for i, s in enumerate(request.slots) if s.interaction_point not in points]
        bad += [(f"slots[{i}].count", "must not be negative") for i, s in enumerate(request.slots) if s.count < 0]
        if bad:
            raise InvalidArgument(f"bad offer slots: {bad[0][0]}: {bad[0][1]}", reason="BAD_SLOT", fields=bad)
        allow = request.duplication_policy == pb.DUPLICATION_POLICY_ALLOW_DUPLICATES
        with self._session(request.session_id) as (slot, session):
            now = self.clock()
            decision = Decision(session, version, now, explain=request.explain)
            ctx = self._context(active, session, now, deadline, decision)
            lists = offers.select_offers(compiled, ctx, decision, request.slots, allow)
            response = pb.GetOffersResponse(offer_lists=lists, decision=decision.proto,
                                            advisories=decision.advisories, trace=decision.trace)
        self._emit(decision)
        return response

    def set_audience(self, request: pb.SetAudienceRequest, deadline: float | None = None) -> pb.SetAudienceResponse:
        self.admit()
        active = self.rulesets.current()
        compiled, version = active.compiled, active.version
        level, ids = self._audience(compiled, request.audience, "audience")
        attributes, notes = self._attributes(compiled, request.parameters, "parameters")
        with self._session(request.session_id) as (slot, session):
            now = self.clock()
            decision = Decision(session, version, now, explain=request.explain)
            for code, message in notes:
                decision.advise(code, message)
            session.attributes.update(attributes)
            self._set_audience(compiled, self._context(active, session, now, deadline, decision), decision, level, ids)
            response = pb.SetAudienceResponse(
                session=session_message(session, self.store, self.journeys),
                segments_entered=sorted(decision.entered), segments_left=sorted(decision.left),
                decision=decision.proto, advisories=decision.advisories, trace=decision.trace)
        self._emit(decision)
        return response

    def execute_batch(self, request: pb.ExecuteBatchRequest, deadline: float | None = None) -> pb.ExecuteBatchResponse:
        """Run each command in order; each gets its own result or error, as if it had been called alone."""
        results = []
        for i, command in enumerate(request.commands):
            kind = command.WhichOneof("command")
            if kind is None:
                error = InvalidArgument(f"commands[{i}] has no command", reason="MISSING_FIELD")
                results.append(pb.BatchResult(error=_command_error(error)))
            else:
                inner = getattr(command, kind)
                if hasattr(inner, "session_id") and not inner.session_id:
                    inner.session_id = request.session_id
                method = getattr(self, kind)
                try:
                    result = method(inner, deadline) if kind in _DECIDING else method(inner)
                    results.append(pb.BatchResult(**{kind: result}))
                except ServiceError as exc:
                    results.append(pb.BatchResult(error=_command_error(exc)))
            if request.stop_on_error and results[-1].HasField("error"):
                break
        return pb.ExecuteBatchResponse(results=results)

    # -- helpers ----------------------------------------------------------------------------------

    def _session(self, session_id: str):
        require(session_id, "session_id")
        return _LiveSession(self._locked(session_id), session_id)

    @contextmanager
    def _locked(self, session_id: str) -> Iterator[Any]:
        """The store's lock on a session; the journeys the call changed are saved before it is released."""
        with self.store.locked(session_id) as slot:
            try:
                yield slot
            finally:
                self.journeys.save(session_id)

    @staticmethod
    def _context(active: ActiveVersion, session: SessionState, now: datetime, deadline: float | None,
                 decision: Decision) -> SessionContext:
        return SessionContext(session, now, active.callouts, deadline, decision.advise, decision.tracer)

    def _set_audience(self, compiled: CompiledRuleset, ctx: SessionContext, decision: Decision, level: str,
                      ids: dict[str, Any]) -> None:
        """Change audience level and ids (de-anonymizing the session when ids arrive) and resegment."""
        session = ctx.session
        session.audience_level = level
        session.audience_ids = ids
        decision.identify()
        self.journeys.journeys_of(session)  # an identified visitor's anonymous journeys become the customer's
        resegment(compiled, ctx, decision)

    def _audience(self, compiled: CompiledRuleset, audience, field: str) -> tuple[str, dict[str, Any]]:
        level = audience.level or compiled.default_audience_level
        if level not in compiled.audience_levels:
            raise InvalidArgument(f"unknown audience level {level!r}", reason="UNKNOWN_AUDIENCE_LEVEL",
                                  fields=[(f"{field}.level", _did_you_mean(level, compiled.audience_levels))])
        allowed = compiled.audience_levels[level]
        bad = [(f"{field}.id_fields.{name}", f"not an id field of {level} ({', '.join(allowed) or 'none'})")
               for name in audience.id_fields if name not in allowed]
        if bad:
            raise InvalidArgument(f"{bad[0][0]}: {bad[0][1]}", reason="UNKNOWN_ID_FIELD", fields=bad)
        return level, {name: from_value(v) for name, v in audience.id_fields.items()}

    def _attributes(self, compiled: CompiledRuleset, values: Mapping, field: str):
        """Typed attribute values from a request; undeclared names are kept and noted in an advisory."""
        declared = compiled.schema.attributes
        converted, bad, notes = {}, [], []
        for name, value in values.items():
            python = from_value(value)
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
            raise InvalidArgument(f"{bad[0][0]}: {bad[0][1]}", reason="WRONG_TYPE", fields=bad)
        return converted, notes

    def _parameters(self, definition, values: Mapping) -> dict[str, Any]:
        params = {name: from_value(v) for name, v in values.items()}
        if definition is None:
            return params
        bad = []
        for p in definition.parameters:
            value = params.get(p.name)
            if value is None:
                if p.required:
                    bad.append((f"event.parameters.{p.name}", "is required"))
                continue
            kind = TYPE_NAMES.get(p.type, "any")
            problem = type_problem(value, kind)
            if problem:
                bad.append((f"event.parameters.{p.name}", f"expected {kind}, got {problem}"))
            elif kind == "double":
                params[p.name] = float(value)
        if bad:
            raise InvalidArgument(f"{bad[0][0]}: {bad[0][1]}", reason="BAD_PARAMETER", fields=bad)
        return params

    def _emit(self, decision: Decision) -> None:
        for record in decision.records:
            self.submit(record)
        for action in decision.actions:
            self.publish(action)


class _LiveSession:
    """`with engine._session(id) as (slot, session)`: the locked, live session, or NOT_FOUND."""

    def __init__(self, manager, session_id: str):
        self._manager = manager
        self.session_id = session_id

    def __enter__(self):
        slot = self._manager.__enter__()
        if slot.state is None:
            self._manager.__exit__(None, None, None)
            raise NotFound(f"no live session {self.session_id!r} (never started, ended or expired)",
                           reason="SESSION_NOT_FOUND", fields=[("session_id", "no such live session")])
        return slot, slot.state

    def __exit__(self, *exc):
        return self._manager.__exit__(*exc)


# The commands that evaluate expressions, and so may call callouts bounded by the caller's deadline.
_DECIDING = frozenset({"start_session", "post_event", "get_offers", "set_audience"})


def _command_error(error: ServiceError) -> pb.CommandError:
    error = as_service_error(error)
    return pb.CommandError(code=error.code.name, message=error.message)


def _did_you_mean(name: str, known) -> str:
    hint = suggest(name, known)
    return f"unknown {name!r}" + (f"; did you mean {hint!r}?" if hint else "")

