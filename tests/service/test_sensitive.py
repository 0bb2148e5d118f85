"""Attributes declared `sensitive: true` are masked in what segflow logs (session summaries, logged data rows,
log_data actions) and still drive the rules; over a real channel, read back from the SQLite history."""

from __future__ import annotations

import json
import sqlite3

from segflow.v1 import action_pb2, decision_service_pb2 as pb, ruleset_service_pb2 as admin_pb

from segflow.rules.ruleset import MASK
from segflow.rules.values import from_value
from tests.service.calls import event, start

SENSITIVE_RULESET = """
name: sensitive
channel: web
attributes:
  - {name: email, type: string, sensitive: true}
  - {name: plan, type: string}
events:
  - {name: signup, parameters: [{name: email, type: string}, {name: plan, type: string}]}
rules:
  - id: remember
    on: [signup]
    then:
      - expression: {expression: event.email, assign_to: email}
      - expression: {expression: event.plan, assign_to: plan}
      - log_data: {table: signups, columns: {address: email, shouted: UPPER(email), plan: plan,
                                             known: email IS NOT NULL}}
      - resegment: {}
flowcharts:
  - {name: all, audience_level: Visitor, segments: [{name: with_email, when: "email LIKE '%@%'"}]}
audience_levels: [{name: Visitor}]
"""


def test_sensitive_attributes_are_masked_in_history_and_logged_data_but_still_decide(decisions, admin, service,
                                                                                       config):
    admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=SENSITIVE_RULESET)))
    decisions.StartSession(start("s1"))
    posted = decisions.PostEvent(event("s1", "signup", email="ann@example.com", plan="pro"))
    assert "with_email" in posted.segments_entered  # the rules still see the real value
    logged, = [a for a in posted.actions if a.type == action_pb2.ACTION_TYPE_LOG_DATA]
    columns = {k: from_value(v) for k, v in logged.log_data.columns.items()}
    assert columns == {"address": MASK, "shouted": MASK, "plan": "pro", "known": MASK}
    live = decisions.GetSession(pb.GetSessionRequest(session_id="s1")).session
    assert from_value(live.attributes["email"]) == "ann@example.com"  # the session keeps it
    decisions.EndSession(pb.EndSessionRequest(session_id="s1"))
    service.stop(grace=1)  # flushes history
    with sqlite3.connect(config.data_dir / "history.db") as db:
        (summary,), = db.execute("SELECT attributes FROM session_summaries WHERE session_id = 's1'").fetchall()
        (data,), = db.execute("SELECT data FROM data_rows WHERE table_name = 'signups'").fetchall()
    assert json.loads(summary) == {"email": MASK, "plan": "pro"}
    assert json.loads(data) == {"address": MASK, "shouted": MASK, "plan": "pro", "known": MASK}
    assert "ann@example.com" not in summary + data

