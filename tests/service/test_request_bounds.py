"""The work of one call is bounded whatever the ruleset or request: a branching trigger cycle, actions per
call, batch size and simulation steps (#11.9)."""

from __future__ import annotations

import grpc
import pytest
from segflow.v1 import decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb

from segflow.server.runtime.engine import MAX_BATCH_COMMANDS
from segflow.server.runtime.events import MAX_ACTIONS_PER_CALL, MAX_EVENTS_PER_CALL
from segflow.server.simulate import MAX_STEPS
from tests.service.calls import event, rpc_error, start

NOTIFY = "{notify: {topic: t, message: \"'hi'\"}}"
BRANCHING = """
name: branching
channel: web
settings: {max_trigger_depth: 16}
audience_levels: [{name: Visitor}]
events: [{name: ping}, {name: pong}]
rules:
  - id: ping
    on: [ping]
    then: [NOTIFIES, {trigger_events: {events: [pong, pong, pong, pong]}}]
  - id: pong
    on: [pong]
    then: [{trigger_events: {events: [ping]}}]
"""


@pytest.mark.parametrize("notifies, cut_by", [(1, "trigger_limit"), (50, "action_limit")])
def test_a_branching_trigger_cycle_is_cut_by_the_events_or_actions_per_call(decisions, admin, notifies, cut_by):
    ruleset = BRANCHING.replace("NOTIFIES", ", ".join([NOTIFY] * notifies))
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=ruleset)))
    decisions.StartSession(start("v"))
    response = decisions.PostEvent(event("v", "ping"))  # unbounded: 4**16 events
    assert response.event_sequence <= MAX_EVENTS_PER_CALL
    assert len(response.actions) <= MAX_ACTIONS_PER_CALL
    assert cut_by in {a.code for a in response.advisories}
    assert response.ByteSize() < 2_000_000
    decisions.StartSession(start("other"))  # the server goes on serving
    assert decisions.GetSession(pb.GetSessionRequest(session_id="other")).session.session_id == "other"


def test_a_batch_past_its_bound_is_refused_whole(decisions):
    decisions.StartSession(start("v"))
    batch = pb.ExecuteBatchRequest(session_id="v", commands=[
        pb.BatchCommand(get_session=pb.GetSessionRequest())] * (MAX_BATCH_COMMANDS + 1))
    _, fields, reason = rpc_error(decisions.ExecuteBatch, batch, code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "BATCH_TOO_LARGE" and "commands" in fields


def test_a_simulation_past_its_bound_is_refused(admin):
    step = admin_pb.ScenarioStep(command=pb.BatchCommand(start_session=pb.StartSessionRequest()))
    request = admin_pb.SimulateRulesetRequest(scenario=admin_pb.Scenario(steps=[step] * (MAX_STEPS + 1)))
    _, fields, reason = rpc_error(admin.SimulateRuleset, request, code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "SCENARIO_TOO_LONG" and "scenario.steps" in fields
