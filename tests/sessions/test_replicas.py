"""Two full servers sharing sessions in Redis and history in PostgreSQL: one visit, served by both replicas."""

from __future__ import annotations

import threading

import grpc
import pytest
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc, session_pb2
from segflow.v1 import ruleset_service_pb2 as admin_pb, ruleset_service_pb2_grpc

from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from tests.history.conftest import postgres_target  # noqa: F401 (fixture: a fresh PostgreSQL schema)
from tests.service.calls import attributes, event, rpc_error, start


@pytest.fixture
def replicas(redis_url, redis_client, prefix, postgres_target, clock, tmp_path):
    """Two running services ("replicas") on one Redis prefix and one PostgreSQL schema, and a stub for each."""
    services, channels = [], []
    for name in ("a", "b"):
        config = Config(address="127.0.0.1:0", data_dir=tmp_path / name, workers=8, grace_seconds=1,
                        sessions_url=f"{redis_url}?prefix={prefix}", history_url=postgres_target.url)
        services.append(create_service(config, clock))
        channels.append(grpc.insecure_channel(f"127.0.0.1:{services[-1].port}"))
    yield services, [decision_service_pb2_grpc.DecisionServiceStub(c) for c in channels]
    for channel, service in zip(channels, services):
        channel.close()
        service.stop(grace=1)


def session(stub, session_id):
    return stub.GetSession(pb.GetSessionRequest(session_id=session_id)).session


def test_one_visit_served_by_two_replicas(replicas, postgres_target, clock):
    (a, b), (to_a, to_b) = replicas
    to_a.StartSession(start("v1", customer="c42"))
    to_b.PostEvent(event("v1", "add_to_cart", sku="X", price=10.0))  # starts the customer's cart journey
    seen_on_a = session(to_a, "v1")
    assert seen_on_a.event_sequence == 1 and attributes(seen_on_a)["cart_total"] == 10.0
    assert [(j.journey, j.step) for j in seen_on_a.journeys] == [("cart_recovery", 1)]
    again = to_a.PostEvent(event("v1", "add_to_cart", sku="Y", price=1.0))
    assert [advice.code for advice in again.advisories] == ["journey_already_active"]  # B's journey, seen by A

    def post_many(stub, tag):
        for i in range(10):
            stub.PostEvent(event("v1", "page_view", event_id=f"{tag}{i}", category=f"{tag}{i}"))

    threads = [threading.Thread(target=post_many, args=(stub, tag)) for stub, tag in ((to_a, "a"), (to_b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = session(to_b, "v1")
    assert after.event_sequence == 2 + 20  # no event lost between the replicas
    assert [(j.journey, j.step) for j in after.journeys] == [("cart_recovery", 21)]  # each page_view continued it
    duplicate = to_b.PostEvent(event("v1", "page_view", event_id="a3", category="a3"))
    assert duplicate.duplicate  # an event id first processed by A is known to B

    a.stop(grace=1)  # one replica going away ends nothing
    assert session(to_b, "v1").session_id == "v1"
    clock.advance(minutes=31)
    b.store.expire_idle()
    expired = to_b.GetSession(pb.GetSessionRequest(session_id="v1")).session
    assert expired.state == session_pb2.SESSION_STATE_EXPIRED
    rpc_error(to_b.PostEvent, event("v1", "login"), code=grpc.StatusCode.NOT_FOUND)
    b.stop(grace=1)  # flushes history
    rows = postgres_target.read("SELECT end_reason, event_count FROM session_summaries WHERE session_id = 'v1'")
    assert rows == [("expired", 22)]


def test_a_deploy_through_one_replica_reaches_the_other(replicas):
    (a, b), (to_a, to_b) = replicas
    changed = EXAMPLE_RULESET.replace("cart_total >= 500", "cart_total >= 400")
    with grpc.insecure_channel(f"127.0.0.1:{a.port}") as channel:
        deployed = ruleset_service_pb2_grpc.RulesetServiceStub(channel).DeployRuleset(
            admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=changed))).version.version
    assert b.registry.current().version != deployed
    b.registry.sync()  # what b's sweeper does every few seconds
    assert b.registry.current().version == deployed
    to_b.StartSession(start("v2"))
    assert "big_spenders" in to_b.PostEvent(event("v2", "add_to_cart", sku="X", price=450.0)).segments_entered
