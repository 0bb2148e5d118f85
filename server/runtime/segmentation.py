"""Resegmentation: run a session's flowcharts on its current data and note who entered and left what.

Only the segments whose inputs changed since this process last segmented the session are evaluated again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

from segflow.v1 import action_pb2

from segflow.rules.incremental import Memo
from segflow.rules.ruleset import CompiledRuleset
from segflow.server.runtime.context import SessionContext
from segflow.server.runtime.decision import EVALUATION_ERRORS, Decision, failure


# Per process, the inputs and bits of the last evaluation of each (session, flowchart), so that a
# resegmentation evaluates only the segments whose inputs changed (rules.incremental). A memo is valid for any
# session state, so it needs no invalidation; a session without one (evicted, or last served by another
# process) is evaluated in full. Beside it, the names of its bits and the names tuple they were read from:
# unchanged bits of the same evaluator reuse them instead of turning bits into names again.
MEMO_SIZE = 20_000
_memos: OrderedDict[tuple[str, str], tuple[Memo, frozenset[str], tuple[str, ...]]] = OrderedDict()  # LRU first
_memos_lock = threading.Lock()


def resegment(compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
              flowcharts: Iterable[str] = ()) -> tuple[set[str], set[str]]:
    """Run the named flowcharts (all of the session's audience level when none) and apply the result.

    The new membership is computed completely before it replaces the old one, so a reader holding the
    session never sees half of it. Returns (entered, left).
    """
    session = ctx.session
    charts = compiled.flowcharts_for(session.audience_level, flowcharts)
    members: set[str] = set()
    covered: set[str] = set()
    values = session.attributes
    before = session.segments
    tracer = decision.tracer
    if tracer is not None:
        _trace_other_levels(compiled, session.audience_level, flowcharts, tracer)
    for chart in charts:
        evaluator = chart.segments
        key = (session.session_id, evaluator.digest)
        try:
            if tracer is None:
                with _memos_lock:
                    memo, names, of = _memos.pop(key, None) or (None, None, None)
                bits, memo_after = evaluator.incremental(values, ctx, memo)
                if memo is None or bits != memo.bits or of is not evaluator.names:
                    names = evaluator.names_of(bits)
                with _memos_lock:
                    _memos[key] = memo_after, names, evaluator.names
                    if len(_memos) > MEMO_SIZE:
                        _memos.popitem(last=False)
                members |= names
            else:
                members |= tracer.segments(chart.name, evaluator, values, ctx, before)
        except EVALUATION_ERRORS as exc:
            members |= before & set(evaluator.names)  # a flowchart that fails keeps the memberships it had
            decision.advise("evaluation_error", f"flowchart {chart.name!r} failed, memberships kept: {failure(exc)}")
        covered.update(evaluator.names)
    after = (before - covered) | members
    if not flowcharts:  # a full resegmentation also drops segments of other levels
        after = frozenset(members)
    if after == before:  # the common case: nothing entered or left
        entered, left = set(), set()
    else:
        entered, left = set(after - before), set(before - after)
        session.segments = frozenset(after)
    decision.segments_changed(entered, left)
    return entered, left


def _trace_other_levels(compiled: CompiledRuleset, level: str, flowcharts: Iterable[str], tracer) -> None:
    """Say in the trace which segments did not apply because their flowchart is for another audience level."""
    wanted = set(flowcharts)
    for other, charts in compiled.flowcharts.items():
        if other == level:
            continue
        for chart in charts:
            if wanted and chart.name not in wanted:
                continue
            for name in chart.segments.names:
                tracer.not_applicable(chart.name, name, f"flowchart {chart.name!r} is for audience level "
                                                        f"{other}; the session is {level}")


def resegment_action(compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
                     flowcharts: Iterable[str] = ()) -> action_pb2.Action:
    """A resegment action: resegment and record what changed."""
    names = list(flowcharts)
    entered, left = resegment(compiled, ctx, decision, names)
    charts = names or [c.name for c in compiled.flowcharts_for(ctx.session.audience_level)]
    return decision.action(action_pb2.ACTION_TYPE_RESEGMENT, resegment={
        "flowcharts": charts, "segments_entered": sorted(entered), "segments_left": sorted(left)})
