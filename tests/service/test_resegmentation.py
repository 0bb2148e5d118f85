"""Resegmentation over a real channel: what a process keeps between calls to resegment only what changed."""

from __future__ import annotations

import gc

from segflow.v1 import decision_service_pb2 as pb

from segflow.rules.segments import SegmentEvaluator
from segflow.server.runtime import segmentation
from tests.service.calls import event, start


def test_the_flowchart_groups_a_process_keeps_hold_no_evaluator(decisions):
    # Kept by the evaluators' digests, not the evaluators: a ruleset replaced since leaves no code or source.
    decisions.StartSession(start("kept"))
    decisions.PostEvent(event("kept", "add_to_cart", sku="TV-1", price=600.0))
    assert "big_spenders" in decisions.GetSession(pb.GetSessionRequest(session_id="kept")).session.segments
    held = [*segmentation._groups, *segmentation._groups.values()]
    held += gc.get_referents(*held)
    held += gc.get_referents(*held)
    assert segmentation._groups and not [o for o in held if isinstance(o, SegmentEvaluator)]
