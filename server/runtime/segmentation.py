"""Resegmentation: run a session's flowcharts on its current data and note who entered and left what.

Only the segments whose inputs changed since this process last segmented the session are evaluated again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from operator import attrgetter
from typing import Iterable

from segflow.v1 import action_pb2

from segflow.rules.incremental import Group, evaluate
from segflow.rules.ruleset import CompiledRuleset
from segflow.server.runtime.context import SessionContext
from segflow.server.runtime.decision import EVALUATION_ERRORS, FIRED, Decision, failure, field, tag


# Per process, the inputs and bits of the last evaluation of each (session, set of flowcharts), so that a
# resegmentation evaluates only the segments whose inputs changed (rules.incremental). A memo is valid for any
# session state, so it needs no invalidation; a session without one (evicted, or last served by another
# process) is evaluated in full. Beside the bits, the names of each flowchart's members and their union:
# unchanged bits reuse them instead of turning bits into names again.
MEMO_SIZE = 20_000
# (session id, the evaluators' digests: same digests, same inputs and names) -> (inputs, bits per flowchart or
# None where it failed, names per flowchart, their union)
_memos: OrderedDict[tuple[str, tuple[str, ...]], tuple[tuple, tuple, tuple, frozenset[str]]] = OrderedDict()
_memos_lock = threading.Lock()
# The Group of each set of evaluators resegmented together and every segment they cover, built once (a few
# per deployed ruleset), by their digests: same digests, same group; and it holds no evaluator (nor the code
# and source of a ruleset since replaced).
GROUPS_SIZE = 256
_groups: dict[tuple[str, ...], tuple[Group, frozenset[str]]] = {}
_DIGEST = attrgetter("segments.digest")


def resegment(compiled: CompiledRuleset, ctx: SessionContext, decision: Decision,
              flowcharts: Iterable[str] = ()) -> tuple[set[str], set[str]]:
    """Run the named flowcharts (all of the session's audience level when none) and apply the result.

    The new membership is computed completely before it replaces the old one, so a reader holding the
    session never sees half of it. Returns (entered, left).
    """
    session = ctx.session
    charts = compiled.flowcharts_for(session.audience_level, flowcharts)
    before = session.segments
    tracer = decision.tracer
    if tracer is None:
        members, covered = _evaluated(charts, ctx, decision, before)
    else:
        _trace_other_levels(compiled, session.audience_level, flowcharts, tracer)
        members, covered = _traced(charts, ctx, decision, before, tracer)
    # a full resegmentation also drops segments of other levels
    after = (before - covered) | members if flowcharts else members
    if after is before or after == before:  # the common case: nothing entered or left
        return set(), set()
    entered, left = set(after - before), set(before - after)
    session.segments = frozenset(after)
    decision.segments_changed(entered, left)
    return entered, left


def _evaluated(charts, ctx: SessionContext, decision: Decision,
               before: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(members, segments covered) of the flowcharts `charts`, evaluating only what changed since the
    session's memo; a flowchart that fails keeps the memberships it had."""
    digests = tuple(map(_DIGEST, charts))
    entry = _groups.get(digests)
    if entry is None:
        if len(_groups) >= GROUPS_SIZE:
            _groups.clear()
        evaluators = tuple(chart.segments for chart in charts)
        entry = _groups[digests] = (Group(evaluators), frozenset().union(*(e.names for e in evaluators)))
    group, covered = entry
    session = ctx.session
    key = (session.session_id, digests)
    memo = _memos.get(key)  # one C call, safe without the lock (which guards changing the dict)
    if memo is None:
        old_inputs, old_bits, old_names, old_members = None, (None,) * len(charts), (None,) * len(charts), None
    else:
        old_inputs, old_bits, old_names, old_members = memo
    values = session.attributes
    inputs, want = group.changes(values, ctx, old_inputs)
    bits, names, same = [], [], memo is not None
    for chart, (offset, mask), old, named in zip(charts, group.spans, old_bits, old_names):
        evaluator = chart.segments
        mine = want if want < 0 else (want >> offset) & mask
        if not mine and old is not None:  # nothing it reads changed
            bits.append(old)
            names.append(named)
            continue
        try:
            now = evaluate(evaluator, mine, old, values, ctx)
        except EVALUATION_ERRORS as exc:
            now, named, same = None, before & frozenset(evaluator.names), False  # it keeps its memberships
            decision.advise("evaluation_error", f"flowchart {chart.name!r} failed, memberships kept: {failure(exc)}")
        else:
            if now != old:
                named, same = evaluator.names_of(now), False
        bits.append(now)
        names.append(named)
    members = old_members if same else frozenset().union(*names)
    with _memos_lock:
        _memos[key] = (inputs, tuple(bits), tuple(names), members)
        _memos.move_to_end(key)
        if len(_memos) > MEMO_SIZE:
            _memos.popitem(last=False)
    return members, covered


def _traced(charts, ctx: SessionContext, decision: Decision, before: frozenset[str],
            tracer) -> tuple[frozenset[str], frozenset[str]]:
    """(members, segments covered) of `charts`, each segment evaluated and traced (no memo read or kept)."""
    members: set[str] = set()
    covered: set[str] = set()
    values = ctx.session.attributes
    for chart in charts:
        evaluator = chart.segments
        try:
            members |= tracer.segments(chart.name, evaluator, values, ctx, before)
        except EVALUATION_ERRORS as exc:
            members |= before & set(evaluator.names)  # a flowchart that fails keeps the memberships it had
            decision.advise("evaluation_error", f"flowchart {chart.name!r} failed, memberships kept: {failure(exc)}")
        covered.update(evaluator.names)
    return frozenset(members), frozenset(covered)


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
                     flowcharts: Iterable[str], fixed: bytes) -> str:
    """A resegment action: resegment and record what changed. `fixed`: the encoding of the flowcharts named
    (CompiledAction.fixed); the action of all of the level's names them. Returns its id."""
    names = list(flowcharts)
    entered, left = resegment(compiled, ctx, decision, names)
    if not names:
        fixed = _all_charts(compiled, ctx.session.audience_level)
    changes = b"".join([field(_ENTERED, name.encode()) for name in sorted(entered)] +
                       [field(_LEFT, name.encode()) for name in sorted(left)]) if entered or left else b""
    return decision.fire(action_pb2.ACTION_TYPE_RESEGMENT, FIRED, fixed + field(_RESEGMENT, changes))


def _all_charts(compiled: CompiledRuleset, level: str) -> bytes:
    """The encoded flowchart names of a resegment action of all of `level`'s flowcharts, kept by ruleset and
    level (a few per deployed ruleset)."""
    key = (compiled.digest, level)
    encoded = _CHARTS.get(key)
    if encoded is None:
        if len(_CHARTS) >= GROUPS_SIZE:
            _CHARTS.clear()
        names = [c.name for c in compiled.flowcharts_for(level)]
        encoded = _CHARTS[key] = action_pb2.Action(resegment={"flowcharts": names}).SerializeToString()
    return encoded


_CHARTS: dict[tuple[str, str], bytes] = {}
_RESEGMENT = tag(action_pb2.Action, "resegment")
_ENTERED = tag(action_pb2.ResegmentDetails, "segments_entered")
_LEFT = tag(action_pb2.ResegmentDetails, "segments_left")
