"""Offer selection and offer responses: which offers a visitor gets, and what they did with them.

Selection, for each requested interaction point in order: candidates are the treatment rules of the point whose
segment the visitor is in; a candidate is dropped when out of its dates, not eligible (its condition is not
TRUE), suppressed (rejected or explicitly suppressed in the session, or responded to by the customer within
`suppress_after_response`), over its presentation cap (in the session, or with `per` the customer's contacts
over that many days, across visits), or without a score (NULL); the best-scoring treatment of each offer is kept (dedupe), across points too unless duplicates
are allowed; the top n by score win, ties broken by offer code then treatment rule id. Each winner gets a fresh
treatment code and an action id, and becomes one of the session's offers last recommended.
"""

from __future__ import annotations

from typing import Iterable

from segflow.v1 import action_pb2, decision_service_pb2, offer_pb2, trace_pb2

from segflow.rules.ruleset import CompiledRuleset, CompiledTreatment
from segflow.server.history.records import ContactRecord, ResponseRecord
from segflow.server.runtime.context import SessionContext
from segflow.server.runtime.decision import EVALUATION_ERRORS, Decision, failure, new_id
from segflow.server.sessions.state import IssuedOffer

DATES, SUPPRESSION, CAP = trace_pb2.OFFER_STEP_DATES, trace_pb2.OFFER_STEP_SUPPRESSION, trace_pb2.OFFER_STEP_CAP
ELIGIBILITY, SCORE = trace_pb2.OFFER_STEP_ELIGIBILITY, trace_pb2.OFFER_STEP_SCORE
DEDUPE, TOP_N = trace_pb2.OFFER_STEP_DEDUPE, trace_pb2.OFFER_STEP_TOP_N
# How many treatment codes a session remembers for responses logged later.
ISSUED_KEPT = 512


def select_offers(compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
                  slots: Iterable[decision_service_pb2.OfferSlot], allow_duplicates: bool,
                  ) -> list[offer_pb2.OfferList]:
    session = ctx.session
    tracer = decision.tracer
    chosen_codes: set[str] = set()
    lists = []
    recommended: list[IssuedOffer] = []
    for slot in slots:
        point = slot.interaction_point
        best: dict[str, tuple[float, CompiledTreatment]] = {}
        for treatment in compiled.treatments.get(point, ()):
            if treatment.rule.segment not in session.segments:
                continue
            try:
                score, step, reason = _candidate(compiled, ctx, treatment)
            except EVALUATION_ERRORS as exc:
                score, step, reason = None, SCORE, f"evaluation failed: {failure(exc)}"
                decision.advise("evaluation_error", f"treatment rule {treatment.rule.id!r} dropped: {reason}")
            code = treatment.offer.code
            if score is not None and code in chosen_codes and not allow_duplicates:
                score, step, reason = None, DEDUPE, "already recommended for an earlier interaction point"
            if score is None:
                if tracer is not None:
                    tracer.offer(point, treatment, step, False, None, reason)
                continue
            if code in best:
                loser = max((score, treatment), best[code], key=lambda c: (-c[0], c[1].rule.id))
                if tracer is not None:
                    tracer.offer(point, loser[1], DEDUPE, False, loser[0], "a better treatment of the same offer")
                if loser[1] is treatment:
                    continue
            best[code] = (score, treatment)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0], item[1][1].rule.id))
        count = max(slot.count, 0) or 1
        offers = []
        for code, (score, treatment) in ranked[:count]:
            issued = IssuedOffer(offer_code=code, treatment_code=new_id(), action_id=new_id(),
                                 interaction_point=point, treatment_rule_id=treatment.rule.id,
                                 segment=treatment.rule.segment, score=score, name=treatment.offer.name)
            recommended.append(issued)
            chosen_codes.add(code)
            offers.append(offer_message(issued, treatment.offer.attributes))
            decision.action(action_pb2.ACTION_TYPE_OFFER, action_id=issued.action_id,
                            offer_response=action_pb2.OfferResponseDetails(
                                treatment_codes=[issued.treatment_code], offer_codes=[code]))
        if tracer is not None:
            for rank, (code, (score, treatment)) in enumerate(ranked):
                kept = rank < count
                tracer.offer(point, treatment, TOP_N, kept, score, f"rank {rank + 1} of {len(ranked)}, "
                                                                   f"{count} asked for")
        lists.append(offer_pb2.OfferList(interaction_point=point, offers=offers))
    session.last_recommended = recommended
    for issued in recommended:
        session.issued[issued.treatment_code] = issued
    while len(session.issued) > ISSUED_KEPT:
        session.issued.pop(next(iter(session.issued)))
    return lists


def _candidate(compiled: CompiledRuleset, ctx: SessionContext, treatment: CompiledTreatment,
               ) -> tuple[float | None, int, str]:
    """(score, step, why): the score is None when a step (dates, suppression, cap, eligibility, a NULL
    score) rules the candidate out, and `step` and `why` say which and why."""
    session = ctx.session
    offer = treatment.offer
    now = ctx.now()
    for starts, ends in treatment.windows:
        if starts is not None and now < starts:
            return None, DATES, f"not effective before {starts.isoformat()}"
        if ends is not None and now >= ends:
            return None, DATES, f"expired at {ends.isoformat()}"
    if offer.code in session.rejected:
        return None, SUPPRESSION, "rejected in this session"
    if offer.code in session.suppressed:
        return None, SUPPRESSION, "suppressed in this session"
    cap = offer.max_presentations or compiled.default_max_presentations
    remembered = compiled.offer_memory.get(offer.code)
    memory = session.memory
    if remembered is not None and memory is not None:
        response = memory.last_response(offer.code)
        if remembered.suppress_seconds is not None and response is not None and (
                (now - response[0]).total_seconds() < remembered.suppress_seconds):
            what = "accepted" if response[1] else "rejected"
            return None, SUPPRESSION, f"{what} at {response[0].isoformat()}, suppressed for " \
                                      f"{remembered.suppress_seconds:g}s after a response"
        if remembered.per_days is not None:
            presented = memory.contacts(offer.code, ctx.today - remembered.per_days + 1)
            if presented >= cap:
                return None, CAP, f"presented {presented} times in {remembered.per_days} days, cap {cap}"
    presented = session.presentations.get(offer.code, 0)
    if presented >= cap:
        return None, CAP, f"presented {presented} times, cap {cap}"
    values = session.attributes
    if treatment.eligibility is not None and not treatment.eligibility.test(values, ctx):
        return None, ELIGIBILITY, f"eligibility is not TRUE: {treatment.eligibility.sql}"
    score = treatment.score(values, ctx)
    if score is None or isinstance(score, bool) or not isinstance(score, (int, float)):
        return None, SCORE, f"score is {'NULL' if score is None else 'not a number'}: {treatment.score.sql}"
    return float(score), SCORE, ""


def offer_message(issued: IssuedOffer, attributes) -> offer_pb2.Offer:
    return offer_pb2.Offer(code=issued.offer_code, treatment_code=issued.treatment_code, name=issued.name,
                           score=issued.score, attributes=attributes, interaction_point=issued.interaction_point,
                           segment=issued.segment, treatment_rule_id=issued.treatment_rule_id)


_RESPONSES = {
    "log_contact": (action_pb2.ACTION_TYPE_LOG_CONTACT, action_pb2.ACTION_STATE_OFFERED),
    "log_acceptance": (action_pb2.ACTION_TYPE_LOG_ACCEPTANCE, action_pb2.ACTION_STATE_ACCEPTED),
    "log_rejection": (action_pb2.ACTION_TYPE_LOG_REJECTION, action_pb2.ACTION_STATE_REJECTED),
}


def log_response(kind: str, treatment_codes: list[str], response_type: str, ctx: SessionContext,
                 decision: Decision) -> None:
    """Log a contact, acceptance or rejection for treatment codes (the offers last recommended when none).

    Each is a state change of the offer's own action id: offered, accepted or rejected.
    """
    session = ctx.session
    type_, state = _RESPONSES[kind]
    fallback = not treatment_codes
    issued_offers = session.last_recommended if fallback else [session.issued.get(code) for code in treatment_codes]
    if fallback and not issued_offers:
        decision.action(type_, error=("no_offers", "no treatment code given and no offers recommended yet"))
        return
    for code, issued in zip(treatment_codes or [o.treatment_code for o in issued_offers], issued_offers):
        details = action_pb2.OfferResponseDetails(treatment_codes=[code], response_type=response_type,
                                                  from_last_recommended=fallback)
        if issued is None:
            decision.action(type_, offer_response=details,
                            error=("unknown_treatment", f"treatment code {code!r} was not recommended in this session"))
            continue
        details.offer_codes.append(issued.offer_code)
        action_id = decision.action(type_, state=state, action_id=issued.action_id, offer_response=details)
        keys = dict(session_id=session.session_id, customer_id=decision.customer_id, decision_id=decision.id,
                    ruleset_version=decision.version, time=decision.now, action_id=action_id,
                    trace_id=decision.trace_id, offer_code=issued.offer_code, treatment_code=code)
        remember = session.memory is not None and ctx.compiled is not None and \
            issued.offer_code in ctx.compiled.offer_memory
        if kind == "log_contact":
            session.presentations[issued.offer_code] = session.presentations.get(issued.offer_code, 0) + 1
            if remember:
                session.memory.contact(issued.offer_code, decision.now)
            decision.record(ContactRecord(**keys, interaction_point=issued.interaction_point,
                                          treatment_rule_id=issued.treatment_rule_id, segment=issued.segment,
                                          score=issued.score))
        else:
            accepted = kind == "log_acceptance"
            if not accepted:
                session.rejected.add(issued.offer_code)
            if remember:
                session.memory.respond(issued.offer_code, decision.now, accepted)
            decision.record(ResponseRecord(**keys, response_type=response_type, accepted=accepted))

