"""Offer selection and offer responses: which offers a visitor gets, and what they did with them.

Selection, for each requested interaction point in order: candidates are the treatment rules of the point whose
segment the visitor is in; a candidate is dropped when out of its dates, not eligible (its condition is not
TRUE), suppressed (rejected or explicitly suppressed in the session), over its presentation cap, or without a
score (NULL); the best-scoring treatment of each offer is kept (dedupe), across points too unless duplicates
are allowed; the top n by score win, ties broken by offer code then treatment rule id. Each winner gets a fresh
treatment code and an action id, and becomes one of the session's offers last recommended.
"""

from __future__ import annotations

from datetime import timezone
from typing import Iterable

from segflow.v1 import action_pb2, decision_service_pb2, offer_pb2

from rules.ruleset import CompiledRuleset, CompiledTreatment
from server.history.records import ContactRecord, ResponseRecord
from server.runtime.context import SessionContext
from server.runtime.decision import Decision, new_id
from server.sessions.state import IssuedOffer

_UTC = timezone.utc
# How many treatment codes a session remembers for responses logged later.
ISSUED_KEPT = 512


def select_offers(compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
                  slots: Iterable[decision_service_pb2.OfferSlot], allow_duplicates: bool,
                  ) -> list[offer_pb2.OfferList]:
    session = ctx.session
    chosen_codes: set[str] = set()
    lists = []
    recommended: list[IssuedOffer] = []
    for slot in slots:
        best: dict[str, tuple[float, CompiledTreatment]] = {}
        for treatment in compiled.treatments.get(slot.interaction_point, ()):
            if treatment.rule.segment not in session.segments:
                continue
            score = _score_if_allowed(compiled, ctx, treatment)
            if score is None:
                continue
            code = treatment.offer.code
            if code in chosen_codes and not allow_duplicates:
                continue
            if code not in best or (-score, treatment.rule.id) < (-best[code][0], best[code][1].rule.id):
                best[code] = (score, treatment)
        ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0], item[1][1].rule.id))
        offers = []
        for code, (score, treatment) in ranked[:max(slot.count, 0) or 1]:
            issued = IssuedOffer(offer_code=code, treatment_code=new_id()[:16], action_id=new_id(),
                                 interaction_point=slot.interaction_point, treatment_rule_id=treatment.rule.id,
                                 segment=treatment.rule.segment, score=score, name=treatment.offer.name)
            recommended.append(issued)
            chosen_codes.add(code)
            offers.append(offer_message(issued, treatment.offer.attributes))
            decision.action(action_pb2.ACTION_TYPE_OFFER, action_id=issued.action_id,
                            offer_response=action_pb2.OfferResponseDetails(
                                treatment_codes=[issued.treatment_code], offer_codes=[code]))
        lists.append(offer_pb2.OfferList(interaction_point=slot.interaction_point, offers=offers))
    session.last_recommended = recommended
    for issued in recommended:
        session.issued[issued.treatment_code] = issued
    while len(session.issued) > ISSUED_KEPT:
        session.issued.pop(next(iter(session.issued)))
    return lists


def _score_if_allowed(compiled: CompiledRuleset, ctx: SessionContext, treatment: CompiledTreatment):
    """The candidate's score, or None when dates, suppression, the cap or eligibility rule it out."""
    session = ctx.session
    offer = treatment.offer
    now = ctx.now()
    for starts, ends in ((treatment.starts, treatment.ends), (_when(offer, "effective_at"), _when(offer, "expires_at"))):
        if (starts is not None and now < starts) or (ends is not None and now >= ends):
            return None
    if offer.code in session.rejected or offer.code in session.suppressed:
        return None
    cap = offer.max_presentations or compiled.default_max_presentations
    if session.presentations.get(offer.code, 0) >= cap:
        return None
    values = session.attributes
    if treatment.eligibility is not None and treatment.eligibility(values, ctx) is not True:
        return None
    score = treatment.score(values, ctx)
    if score is None or isinstance(score, bool) or not isinstance(score, (int, float)):
        return None
    return float(score)


def _when(offer, field: str):
    return getattr(offer, field).ToDatetime(tzinfo=_UTC) if offer.HasField(field) else None


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
        action = decision.action(type_, state=state, action_id=issued.action_id, offer_response=details)
        keys = dict(session_id=session.session_id, customer_id=decision.customer_id, decision_id=decision.id,
                    ruleset_version=decision.version, time=decision.now, action_id=action.action_id,
                    offer_code=issued.offer_code, treatment_code=code)
        if kind == "log_contact":
            session.presentations[issued.offer_code] = session.presentations.get(issued.offer_code, 0) + 1
            decision.record(ContactRecord(**keys, interaction_point=issued.interaction_point,
                                          treatment_rule_id=issued.treatment_rule_id, segment=issued.segment,
                                          score=issued.score))
        else:
            accepted = kind == "log_acceptance"
            if not accepted:
                session.rejected.add(issued.offer_code)
            decision.record(ResponseRecord(**keys, response_type=response_type, accepted=accepted))

