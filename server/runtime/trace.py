"""Explain traces: why a decision came out as it did, built only for a request that asks for one.

The runtime asks `decision.tracer` (None unless the request set `explain`) at each step that decides: a rule's
condition, a flowchart's segments, each offer candidate. With a tracer, conditions are evaluated through
`rules.explain`, so the decision and its trace come from the same single evaluation; without one, nothing here
runs and the hot path pays one `is None` test per step.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from segflow.v1 import trace_pb2

from segflow.rules import explain, explain_segments
from segflow.rules.explain import Explanation
from segflow.rules.unparse import literal
from segflow.rules.values import from_value, to_value

def expression_trace(explanation: Explanation) -> trace_pb2.ExpressionTrace:
    return trace_pb2.ExpressionTrace(
        expression=explanation.text, value=to_value(explanation.value), skipped=explanation.skipped,
        operands=[expression_trace(o) for o in explanation.operands],
        reads={name: to_value(value) for name, value in explanation.reads.items()})


_CHANGES = {(False, True): trace_pb2.MEMBERSHIP_CHANGE_ENTERED, (True, False): trace_pb2.MEMBERSHIP_CHANGE_LEFT,
            (True, True): trace_pb2.MEMBERSHIP_CHANGE_STAYED_IN, (False, False): trace_pb2.MEMBERSHIP_CHANGE_STAYED_OUT}


class Tracer:
    """Collects the trace of one decision."""

    def __init__(self):
        self.trace = trace_pb2.Trace()

    def condition(self, evaluator, values: Mapping[str, Any], ctx) -> tuple[bool, trace_pb2.ExpressionTrace | None]:
        """Evaluate a rule condition with its explanation: (TRUE?, trace); no condition is TRUE."""
        if evaluator is None:
            return True, None
        explanation = explain(evaluator, values, ctx)
        return explanation.value is True, expression_trace(explanation)

    def rule(self, rule_id: str, event_name: str, condition: trace_pb2.ExpressionTrace | None, matched: bool,
             action_ids: Iterable[str]) -> None:
        self.trace.rules.add(rule_id=rule_id, event_name=event_name, condition=condition, matched=matched,
                             action_ids=action_ids)

    def segments(self, flowchart: str, evaluator, values: Mapping[str, Any], ctx, before: frozenset[str],
                 ) -> set[str]:
        """Evaluate a flowchart with explanations; returns its members, as `evaluator` would."""
        members = set()
        for name, explanation in explain_segments(evaluator, values, ctx).items():
            member = explanation.value is True
            if member:
                members.add(name)
            self.trace.segments.add(flowchart=flowchart, segment=name, condition=expression_trace(explanation),
                                    change=_CHANGES[(name in before, member)])
        return members

    def not_applicable(self, flowchart: str, segment: str, reason: str) -> None:
        self.trace.segments.add(flowchart=flowchart, segment=segment, reason=reason,
                                change=trace_pb2.MEMBERSHIP_CHANGE_NOT_APPLICABLE)

    def callout(self, name: str, args: tuple, value: Any, outcome: str) -> None:
        self.trace.callouts.add(name=name, arguments=[to_value(a) for a in args], value=to_value(value),
                                outcome=outcome)

    def offer(self, interaction_point: str, treatment, step: int, kept: bool, score: float | None,
              reason: str) -> None:
        self.trace.offers.add(interaction_point=interaction_point, offer_code=treatment.offer.code,
                              treatment_rule_id=treatment.rule.id, segment=treatment.rule.segment, step=step,
                              kept=kept, score=score or 0.0, reason=reason)


def trace_lines(trace: trace_pb2.Trace) -> list[str]:
    """A trace as indented text for people (segflow simulate prints it for a failing step)."""
    lines = []
    for rule in trace.rules:
        lines.append(f"rule {rule.rule_id} on {rule.event_name}: {'matched' if rule.matched else 'not matched'}")
        if rule.HasField("condition"):
            lines += _expression_lines(rule.condition, "  ")
    for segment in trace.segments:
        change = trace_pb2.MembershipChange.Name(segment.change).removeprefix("MEMBERSHIP_CHANGE_").lower()
        lines.append(f"segment {segment.flowchart}/{segment.segment}: {change.replace('_', ' ')}"
                     + (f": {segment.reason}" if segment.reason else ""))
        if segment.HasField("condition"):
            lines += _expression_lines(segment.condition, "  ")
    for offer in trace.offers:
        step = trace_pb2.OfferStep.Name(offer.step).removeprefix("OFFER_STEP_").lower()
        verdict = "kept" if offer.kept else "dropped"
        lines.append(f"offer {offer.interaction_point}/{offer.offer_code} ({offer.treatment_rule_id}): {verdict} at "
                     f"{step}" + (f": {offer.reason}" if offer.reason else ""))
    for call in trace.callouts:
        arguments = ", ".join(literal(from_value(a)) for a in call.arguments)
        lines.append(f"callout {call.name}({arguments}) = {literal(from_value(call.value))}: {call.outcome}")
    return lines


def _expression_lines(node: trace_pb2.ExpressionTrace, indent: str) -> list[str]:
    if node.skipped:
        return [f"{indent}{node.expression} → not evaluated"]
    reads = ", ".join(f"{name} = {literal(from_value(value))}" for name, value in sorted(node.reads.items()))
    lines = [f"{indent}{node.expression} → {literal(from_value(node.value))}" + (f"  ({reads})" if reads else "")]
    for operand in node.operands:
        lines += _expression_lines(operand, indent + "  ")
    return lines
