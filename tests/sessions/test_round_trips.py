"""How many round trips to Redis a call costs, counted on the wire (each packed send is one request/reply)."""

from __future__ import annotations

import threading
from collections import Counter

import grpc
import pytest
from redis.connection import AbstractConnection
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc

from segflow.server.app import create_service
from segflow.server.config import Config
from tests.service.calls import event, start


@pytest.fixture
def sends(monkeypatch) -> Counter:
    """Packed sends to Redis by thread name: a pipeline or a script call is one send, however many commands."""
    counts: Counter = Counter()
    original = AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        counts[threading.current_thread().name] += 1
        return original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return counts


def test_a_plain_post_event_costs_one_round_trip(redis_url, redis_client, prefix, clock, tmp_path, sends):
    # One serving thread: the connection it keeps (and its handshake) is made by the warm-up call.
    config = Config(address="127.0.0.1:0", data_dir=tmp_path, workers=1, grace_seconds=1,
                    sessions_url=f"{redis_url}?prefix={prefix}")
    service = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            stub.StartSession(start("v1"))
            stub.PostEvent(event("v1", "page_view", category="warm-up"))  # loads the scripts
            sends.clear()
            for i in range(5):
                stub.PostEvent(event("v1", "page_view", category=f"c{i}"))
            calls = {name: n for name, n in sends.items() if name != "segflow-sweeper"}
    finally:
        service.stop(grace=1)
    # the commit of the session as this process committed it last; on a cluster the index, in another slot,
    # takes a second
    per_call = 2 if redis_url.startswith("redis+cluster://") else 1
    assert sum(calls.values()) == 5 * per_call, calls


def test_an_identified_customers_post_event_costs_two_round_trips_too(redis_url, redis_client, prefix, clock,
                                                                      tmp_path, sends):
    """The customer's journeys are read, then the call commits."""
    if redis_url.startswith("redis+cluster://"):
        pytest.skip("on a Cluster a customer's journeys are in their own slot, read by a round trip of their own")
    config = Config(address="127.0.0.1:0", data_dir=tmp_path, workers=1, grace_seconds=1,
                    sessions_url=f"{redis_url}?prefix={prefix}")
    service = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            stub.StartSession(start("v1", customer="c42"))
            stub.PostEvent(event("v1", "add_to_cart", sku="X", price=10.0))  # starts the customer's journey
            sends.clear()
            for i in range(5):  # each continues it
                stub.PostEvent(event("v1", "page_view", category=f"c{i}"))
            calls = {name: n for name, n in sends.items() if name != "segflow-sweeper"}
            journeys = stub.GetSession(pb.GetSessionRequest(session_id="v1")).session.journeys
    finally:
        service.stop(grace=1)
    assert [(j.journey, j.step) for j in journeys] == [("cart_recovery", 6)]
    assert sum(calls.values()) == 5 * 2, calls


def test_calls_alternating_between_two_replicas_cost_two_round_trips_each(redis_url, redis_client, prefix, clock,
                                                                         tmp_path, sends):
    """Each replica kept the session as it committed it, the other's commit since: its commit is refused and
    returns the session as it is, and the call run again on that commits."""
    if redis_url.startswith("redis+cluster://"):
        pytest.skip("on a Cluster each commit also updates the index in another slot")
    services = [create_service(Config(address="127.0.0.1:0", data_dir=tmp_path / name, workers=1, grace_seconds=1,
                                      sessions_url=f"{redis_url}?prefix={prefix}"), clock) for name in "ab"]
    try:
        channels = [grpc.insecure_channel(f"127.0.0.1:{service.port}") for service in services]
        stubs = [decision_service_pb2_grpc.DecisionServiceStub(channel) for channel in channels]
        stubs[0].StartSession(start("v1"))
        for stub in stubs:  # loads the scripts
            stub.PostEvent(event("v1", "page_view", category="warm-up"))
        sends.clear()
        for i in range(6):
            stubs[i % 2].PostEvent(event("v1", "page_view", category=f"c{i}"))
        calls = {name: n for name, n in sends.items() if name != "segflow-sweeper"}
        session = stubs[0].GetSession(pb.GetSessionRequest(session_id="v1")).session
        for channel in channels:
            channel.close()
    finally:
        for service in services:
            service.stop(grace=1)
    assert sum(calls.values()) == 6 * 2, calls
    assert session.event_sequence == 8  # none lost, none counted twice
