"""`segflow serve --processes 2 --ruleset web.yaml app.yaml`: both channels on every worker, and a deploy to either
channel through either worker in force on the other worker when it returns, the other channel untouched."""

from __future__ import annotations

import pytest
from segflow.v1 import decision_service_pb2_grpc, ruleset_service_pb2 as admin_pb, ruleset_service_pb2_grpc

from segflow.server.examples import EXAMPLE_RULESET
from tests.multiproc.conftest import start_host, stop_host
from tests.service.calls import event, start
from tests.service.test_channels import APP


@pytest.fixture
def host(tmp_path):
    web, app = tmp_path / "web.yaml", tmp_path / "app.yaml"
    web.write_text(EXAMPLE_RULESET)
    app.write_text(APP)
    running = start_host(tmp_path / "data", "--ruleset", str(web), str(app))
    yield running
    running.close()
    assert stop_host(running) == 0, running.process.stderr.read()


def fired(channel, session_id: str, on: str) -> tuple[int, set[str]]:
    """(version, rule ids fired) of a big add_to_cart in a new session of channel `on`."""
    stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
    request = start(session_id)
    request.channel = on
    stub.StartSession(request)
    response = stub.PostEvent(event(session_id, "add_to_cart", sku="TV", price=900.0))
    return response.decision.ruleset_version, {a.rule_id for a in response.actions}


def test_a_deploy_to_one_channel_through_either_worker_is_in_force_on_both(host):
    (_, to_a), (_, to_b) = host.channels_by_worker().items()
    assert fired(to_b, "web-0", "web")[0] == 1 and fired(to_b, "app-0", "app")[0] == 2
    expected = {"web": 1, "app": 2}
    for round, (via, other, channel) in enumerate([(to_a, to_b, "app"), (to_b, to_a, "web"), (to_a, to_b, "web")]):
        text = (APP if channel == "app" else EXAMPLE_RULESET).replace("big-cart-alert", f"big-cart-alert-r{round}")
        expected[channel] = ruleset_service_pb2_grpc.RulesetServiceStub(via).DeployRuleset(
            admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=text))).version.version
        for name in ("web", "app"):  # on the worker that did not deploy: the new version, the other untouched
            assert fired(other, f"{name}-{round}", name)[0] == expected[name]
        assert any(rule.endswith(f"big-cart-alert-r{round}") for rule in fired(other, f"again-{round}", channel)[1])
