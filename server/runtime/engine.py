"""The decision engine: every session operation, from a request message to a response message.

Each call takes the active ruleset of its channel once (a call finishes on the version it started with, whatever
is deployed meanwhile; a call on an existing session takes its session's channel's, under the session's lock),
holds the session's lock while it reads and changes the session, and only after releasing it
hands history records to the writer and actions to the subscription bus. The servicers, ExecuteBatch and the
simulator all go through here, so they cannot disagree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol, Sequence

from segflow.v1 import decision_service_pb2 as pb, session_pb2

from segflow.rules.ruleset import CompiledRuleset
from segflow.server.errors import (FailedPrecondition, InvalidArgument, NotFound, ServiceError, as_service_error,
                                   require)
from segflow.server.history.records import SessionSummary
from segflow.server.profiles.messages import profile_message
from segflow.server.profiles.patterns import met_patterns
from segflow.server.profiles.recall import Recall, memory_of, recalled
from segflow.server.profiles.store import ProfileStore
from segflow.server.rulesets import ActiveVersion
from segflow.server.runtime import idempotency, offers
from segflow.server.runtime.context import SessionContext
from segflow.server.runtime.decision import Decision, EncodedResponse
from segflow.server.runtime.events import EventProcessor
from segflow.server.runtime.requests import (attributes_of, audience_of, did_you_mean, parameters_of, refuse,
                                              timestamp_of)
from segflow.server.runtime.segmentation import resegment
from segflow.server.runtime.sessions import expired_message, session_message
from segflow.server.sessions.journeys import JourneyBook
from segflow.server.sessions.state import SessionState, customer_id_of
from segflow.server.sessions.store import SessionStore, retry_conflicts


class RulesetProvider(Protocol):
    """Where the engine finds what to run: `current(channel)` returns the channel's active version (compiled,
    version, callouts; "" for the only channel served, raising when there are several); a call takes it once
    and keeps it to the end. `served()` is every channel's, by channel."""

    def current(self, channel: str = "") -> ActiveVersion: ...

    def served(self) -> dict[str, ActiveVersion]: ...


class Engine:
    def __init__(self, rulesets: RulesetProvider, store: SessionStore, *, clock: Callable[[], datetime],
                 submit: Callable[[Any], None] = lambda record: None,
                 publish: Callable[[Sequence[bytes]], Any] = lambda actions: None, journeys: JourneyBook | None = None,
                 admit: Callable[[], None] = lambda: None, profiles: ProfileStore | None = None,
                 summaries: Callable[[str], SessionSummary | None] = lambda session_id: None):
        self.rulesets = rulesets
        self.store = store
        self.clock = clock
        self.submit = submit
        self.publish = publish
        self.admit = admit  # raises when a decision could not be recorded (e.g. the history queue is full)
        self.journeys = journeys or JourneyBook()
        self.summaries = summaries  # a session's latest summary in history (how an expired one is told apart)
        self._recent_expiries: OrderedDict[str, SessionSummary] = OrderedDict()
        self._expiring = threading.Lock()
        self.recall = Recall(profiles)  # customer memory; written like history, after each call commits

    # -- session lifecycle ------------------------------------------------------------------------

    @retry_conflicts
    def start_session(self, request: pb.StartSessionRequest, deadline: float | None = None) -> pb.StartSessionResponse:
        require(request.session_id, "session_id")
        self.admit()
        active = self.rulesets.current(request.channel)
        compiled, version = active.compiled, active.version
        level, ids = audience_of(compiled, request.audience, "audience")
        attributes, notes = attributes_of(compiled, request.parameters, "parameters")
        now = self.clock()
        with self._locked(request.session_id) as slot:
            resumed = slot.state is not None and request.rely_on_existing_session
            if resumed and slot.state.channel != compiled.ruleset.channel:
                raise FailedPrecondition(
                    f"session {request.session_id!r} belongs to channel {slot.state.channel!r}, not "
                    f"{compiled.ruleset.channel!r}: resume it there, or start it without rely_on_existing_session",
                    reason="SESSION_CHANNEL_MISMATCH", fields=[("channel", f"the session's is {slot.state.channel!r}")])
            if resumed:
                session = slot.state
                session.attributes.update(attributes)
            else:
                session = SessionState(
                    session_id=request.session_id, channel=compiled.ruleset.channel, audience_level=level,
                    started_at=now, last_activity_at=now, audience_ids=ids,
                    attributes=dict(compiled.defaults), ruleset_version=version)
                memory_of(compiled, session)  # before the request's values, so they count as this visit's
                session.attributes.update(attributes)
            decision = Decision(session, version, now, explain=request.explain, notes=notes)
            session.ruleset_version = version
            ctx = self._context(active, session, now, deadline, decision)
            self._recall(active, ctx, decision)
            resegment(compiled, ctx, decision)
            decision.profile = self.recall.commit(compiled, session, now)
            response = pb.StartSessionResponse(
                session=session_message(session, self.store, self.journeys), resumed=resumed,
                segments_entered=sorted(decision.entered), decision=decision.proto,
                advisories=decision.advisories, trace=decision.trace)
            if not resumed:  # the session it replaces ends only now that nothing can fail
                if slot.state is not None:
                    self.store.end(slot, "restarted")
                slot.state = session
            committed = self.store.commit_actions(slot, decision.encoded_actions)
        self._emit(decision, committed)
        return response

    @retry_conflicts
    def get_session(self, request: pb.GetSessionRequest) -> pb.GetSessionResponse:
        """A live session; one that expired, as its summary kept it, in SESSION_STATE_EXPIRED; else NOT_FOUND."""
        require(request.session_id, "session_id")
        with self._locked(request.session_id) as slot:
            if slot.state is not None:
                return pb.GetSessionResponse(session=session_message(slot.state, self.store, self.journeys))
        expired = self._expired(request.session_id)  # after the lock: finding it idle just now summarised it
        if expired is None:
            raise _no_live_session(request.session_id)
        return pb.GetSessionResponse(session=expired_message(expired))

    @retry_conflicts
    def end_session(self, request: pb.EndSessionRequest) -> pb.EndSessionResponse:
        with self._session(request.session_id) as slot:
            message = session_message(slot.state, self.store, self.journeys, session_pb2.SESSION_STATE_ENDED)
            self.store.end(slot, "ended")
        return pb.EndSessionResponse(session=message)

    def get_profile(self, request: pb.GetProfileRequest) -> pb.GetProfileResponse:
        """What segflow remembers of a customer (the latest state, also of a visit still running, read from the
        database: another process may have written or erased it)."""
        compiled = self._for_audience(request.audience, request.channel)
        level, customer = self.customer_of(request.audience, request.channel)
        stored = self.recall.store.load(level, customer, fresh=True) if self.recall.store is not None else None
        if stored is None:
            return pb.GetProfileResponse(found=False, profile=pb.CustomerProfile(audience_level=level,
                                                                                 customer_id=customer))
        memory = recalled(compiled, level, customer, stored)
        return pb.GetProfileResponse(found=True, profile=profile_message(
            memory, stored.updated_at, met_patterns(compiled, memory, self.clock())))

    def customer_of(self, audience, channel: str = "") -> tuple[str, str]:
        """(audience level, canonical customer id) of a request's audience; INVALID_ARGUMENT without ids."""
        level, ids = audience_of(self._for_audience(audience, channel), audience, "audience")
        customer = customer_id_of(ids)
        if not customer:
            raise InvalidArgument("audience: name the customer by their id fields", reason="MISSING_FIELD",
                                  fields=[("audience.id_fields", "is required")])
        return level, customer

    def _for_audience(self, audience, channel: str) -> CompiledRuleset:
        """The ruleset that reads a customer's audience: the channel's when named (or the only one served), else
        the first channel's, by name, that has the audience's level (a customer is the same on every channel)."""
        served = self.rulesets.served()
        if not channel and len(served) > 1:
            for _, active in sorted(served.items()):
                if (audience.level or active.compiled.default_audience_level) in active.compiled.audience_levels:
                    return active.compiled
        return self.rulesets.current(channel).compiled

    def summarise(self, session: SessionState, reason: str) -> None:
        """The store's on_close hook: a session that left is summarised to history."""
        now = self.clock()
        summary = SessionSummary(
            session_id=session.session_id, customer_id=session.customer_id, decision_id="",
            ruleset_version=session.ruleset_version, channel=session.channel,
            audience_level=session.audience_level, anonymous=session.anonymous, started_at=session.started_at,
            ended_at=now, end_reason=reason, event_count=session.event_sequence,
            segments=sorted(session.segments),
            attributes=self.rulesets.current(session.channel).compiled.masked(session.attributes))
        with self._expiring:  # what history may not have yet (the writer batches), for GetSession
            if reason == "expired":
                self._recent_expiries[session.session_id] = summary
                self._recent_expiries.move_to_end(session.session_id)
                if len(self._recent_expiries) > RECENT_EXPIRIES:
                    self._recent_expiries.popitem(last=False)
            else:
                self._recent_expiries.pop(session.session_id, None)
        self.submit(summary)

    def _expired(self, session_id: str) -> SessionSummary | None:
        """The summary of `session_id` if its last visit expired: this process's while history may not have it
        yet, else the latest in history (written by any process or replica)."""
        with self._expiring:
            recent = self._recent_expiries.get(session_id)
        if recent is not None and self.clock() - recent.ended_at < RECENT_EXPIRY_WINDOW:
            return recent
        summary = self.summaries(session_id)
        return summary if summary is not None and summary.end_reason == "expired" else None

    # -- decisions --------------------------------------------------------------------------------

    @retry_conflicts
    def post_event(self, request: pb.PostEventRequest, deadline: float | None = None, *,
                   encoded: bool = False) -> pb.PostEventResponse | EncodedResponse:
        """Process one event. `encoded` (the servicer's): the response as an EncodedResponse, whose actions go
        to the wire as they were encoded; else a message with its actions parsed in."""
        event = request.event
        name, event_id = event.name, event.event_id
        require(name, "event.name")
        self.admit()
        occurred = timestamp_of(event.occurred_at, "event.occurred_at") if event.HasField("occurred_at") else None
        with self._session(request.session_id) as slot:
            session = slot.state
            active = self.rulesets.current(session.channel)
            compiled, version = active.compiled, active.version
            parameters = compiled.parameters.get(name)
            if parameters is None and compiled.strict_events:
                raise InvalidArgument(f"event {name!r} is not defined in ruleset {compiled.ruleset.name!r}",
                                      reason="UNKNOWN_EVENT",
                                      fields=[("event.name", did_you_mean(name, compiled.events))])
            params = parameters_of(parameters, event.parameters)
            attributes, notes = (attributes_of(compiled, event.attributes, "event.attributes") if event.attributes
                                 else ({}, ()))  # most events carry none
            audience = (audience_of(compiled, event.audience, "event.audience") if event.HasField("audience")
                        else None)
            first = idempotency.first_response(session, event_id) if event_id else None
            if first is not None:
                return first
            now = self.clock()
            decision = Decision(session, version, now, name, explain=request.explain, notes=notes)
            session.ruleset_version = version
            if attributes:
                session.attributes.update(attributes)
            ctx = self._context(active, session, now, deadline, decision)
            if audience is not None:
                self._set_audience(active, ctx, decision, *audience)
            if parameters is None:
                decision.advise("unknown_event", f"event {name!r} is not defined: recorded, nothing fired")
            processor = EventProcessor(compiled, ctx, decision, self.journeys.journeys_of)
            processor.process(name, params, occurred or now, fire=parameters is not None)
            response = decision.response(sorted(decision.entered), sorted(decision.left), session.event_sequence)
            decision.profile = self.recall.commit(compiled, session, now)
            if event_id:  # last: a failed call must not be remembered (see SessionState.checkpoint)
                idempotency.remember(session, event_id, response)
            committed = self.store.commit_actions(slot, decision.encoded_actions)
        self._emit(decision, committed)
        return response if encoded else response.parsed()

    @retry_conflicts
    def get_offers(self, request: pb.GetOffersRequest, deadline: float | None = None) -> pb.GetOffersResponse:
        self.admit()
        if not request.slots:
            raise InvalidArgument("slots: ask for at least one interaction point", reason="MISSING_FIELD",
                                  fields=[("slots", "is required")])
        allow = request.duplication_policy == pb.DUPLICATION_POLICY_ALLOW_DUPLICATES
        with self._session(request.session_id) as slot:
            session = slot.state
            active = self.rulesets.current(session.channel)
            compiled, version = active.compiled, active.version
            points = {p.name for p in compiled.ruleset.interaction_points}
            bad = [(f"slots[{i}].interaction_point", did_you_mean(s.interaction_point, points))
                   for i, s in enumerate(request.slots) if s.interaction_point not in points]
            bad += [(f"slots[{i}].count", "must not be negative") for i, s in enumerate(request.slots) if s.count < 0]
            if bad:
                refuse(bad, "BAD_SLOT")
            now = self.clock()
            decision = Decision(session, version, now, explain=request.explain)
            ctx = self._context(active, session, now, deadline, decision)
            lists = offers.select_offers(compiled, ctx, decision, request.slots, allow)
            response = pb.GetOffersResponse(offer_lists=lists, decision=decision.proto,
                                            advisories=decision.advisories, trace=decision.trace)
            committed = self.store.commit_actions(slot, decision.encoded_actions)
        self._emit(decision, committed)
        return response

    @retry_conflicts
    def set_audience(self, request: pb.SetAudienceRequest, deadline: float | None = None) -> pb.SetAudienceResponse:
        self.admit()
        with self._session(request.session_id) as slot:
            session = slot.state
            active = self.rulesets.current(session.channel)
            compiled, version = active.compiled, active.version
            level, ids = audience_of(compiled, request.audience, "audience")
            attributes, notes = attributes_of(compiled, request.parameters, "parameters")
            now = self.clock()
            decision = Decision(session, version, now, explain=request.explain, notes=notes)
            session.attributes.update(attributes)
            self._set_audience(active, self._context(active, session, now, deadline, decision), decision, level, ids)
            decision.profile = self.recall.commit(compiled, session, now)
            response = pb.SetAudienceResponse(
                session=session_message(session, self.store, self.journeys),
                segments_entered=sorted(decision.entered), segments_left=sorted(decision.left),
                decision=decision.proto, advisories=decision.advisories, trace=decision.trace)
            committed = self.store.commit_actions(slot, decision.encoded_actions)
        self._emit(decision, committed)
        return response

    def execute_batch(self, request: pb.ExecuteBatchRequest, deadline: float | None = None) -> pb.ExecuteBatchResponse:
        """Run each command in order; each gets its own result or error, as if it had been called alone."""
        if len(request.commands) > MAX_BATCH_COMMANDS:
            raise InvalidArgument(f"commands: at most {MAX_BATCH_COMMANDS} commands in one batch, got "
                                  f"{len(request.commands)}", reason="BATCH_TOO_LARGE",
                                  fields=[("commands", f"at most {MAX_BATCH_COMMANDS}")])
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
                except Exception as exc:  # one command's failure, whatever it is, is that command's result
                    results.append(pb.BatchResult(error=_command_error(as_service_error(exc))))
            if request.stop_on_error and results[-1].HasField("error"):
                break
        return pb.ExecuteBatchResponse(results=results)

    # -- helpers ----------------------------------------------------------------------------------

    def _session(self, session_id: str) -> _Locked:
        """The locked slot of a call on an existing session (its live session in `slot.state`), or NOT_FOUND."""
        require(session_id, "session_id")
        return _Locked(self, session_id, True)

    def _locked(self, session_id: str) -> _Locked:
        """The store's lock on a session, for one call that commits all of its changes or none (`_Locked`)."""
        return _Locked(self, session_id, False)

    def _context(self, active: ActiveVersion, session: SessionState, now: datetime, deadline: float | None,
                 decision: Decision) -> SessionContext:
        self.recall.current(active.compiled, session)  # what an erasure took away is dropped first
        return SessionContext(session, now, active.callouts, deadline, decision.advise, decision.tracer,
                              active.compiled)

    def _set_audience(self, active: ActiveVersion, ctx: SessionContext, decision: Decision, level: str,
                      ids: dict[str, Any]) -> None:
        """Change audience level and ids (de-anonymizing the session when ids arrive), recall the customer's
        memory and resegment."""
        session = ctx.session
        session.audience_level = level
        session.audience_ids = ids
        decision.identify()
        self.journeys.journeys_of(session)  # an identified visitor's anonymous journeys become the customer's
        self._recall(active, ctx, decision)
        resegment(active.compiled, ctx, decision)

    def _recall(self, active: ActiveVersion, ctx: SessionContext, decision: Decision) -> None:
        """Recall the identified customer's memory; patterns it makes met (with an anonymous visit's counts)
        fire their rules."""
        became = self.recall.identify(active.compiled, active.profiles, ctx.session, decision.now, ctx.deadline,
                                      decision.advise)
        if became:
            EventProcessor(active.compiled, ctx, decision, self.journeys.journeys_of).identified(became)

    def _emit(self, decision: Decision, committed: bool) -> None:
        """After the commit: the profile, history records, and the actions unless the store `committed` them
        with the session (`SessionStore.commit_actions`)."""
        self.recall.save(decision.profile)
        submit = self.submit
        for record in decision.records:
            submit(record)
        if decision.encoded_actions and not committed:
            self.publish(decision.encoded_actions)  # in one go: a log shared by processes writes one transaction


class _Locked:
    """The store's lock on a session for one call that commits all of its changes or none: the journeys it
    changed are saved before the lock is released, and if it fails the session and journeys are put back.
    With `live`, a call on a session that is not live fails NOT_FOUND. A class rather than a generator: entering
    and leaving cost a method call each."""

    __slots__ = ("engine", "session_id", "live", "held", "slot", "before")

    def __init__(self, engine: Engine, session_id: str, live: bool):
        self.engine, self.session_id, self.live = engine, session_id, live

    def __enter__(self):
        held = self.held = self.engine.store.locked(self.session_id)
        slot = self.slot = held.__enter__()
        try:
            state = slot.state
            self.before = state.checkpoint() if state is not None else None
        except BaseException as failed:
            held.__exit__(type(failed), failed, failed.__traceback__)
            raise
        if state is None and self.live:
            error = _no_live_session(self.session_id)
            self.__exit__(NotFound, error, None)
            raise error
        return slot

    def __exit__(self, kind, exc, tb) -> bool:
        """Commit or put back, then let the store's lock go (which never swallows an error)."""
        before, held = self.before, self.held
        try:
            if kind is None:
                if before is not None:
                    before.committed()
                self.engine.journeys.save(self.session_id)
            else:
                self.slot.state = before.rolled_back() if before is not None else None
                self.engine.journeys.discard(self.session_id)
        except BaseException as failed:
            held.__exit__(type(failed), failed, failed.__traceback__)
            raise
        return held.__exit__(kind, exc, tb)


MAX_BATCH_COMMANDS = 100
# The expiries a process remembers itself, and for how long after them: until their summaries are surely in
# history, which answers for every process from then on.
RECENT_EXPIRIES = 1_000
RECENT_EXPIRY_WINDOW = timedelta(seconds=30)


def _no_live_session(session_id: str) -> NotFound:
    return NotFound(f"no live session {session_id!r} (never started, ended or expired)",
                    reason="SESSION_NOT_FOUND", fields=[("session_id", "no such live session")])

# The commands that evaluate expressions, and so may call callouts bounded by the caller's deadline.
_DECIDING = frozenset({"start_session", "post_event", "get_offers", "set_audience"})


def _command_error(error: ServiceError) -> pb.CommandError:
    return pb.CommandError(code=error.code.name, message=error.message, reason=error.reason)
