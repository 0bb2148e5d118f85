"""Failures of a replica or of Redis itself: a replica killed while a call holds a session's lock, and a Redis
restarted under a running service."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from segflow.v1 import callout_service_pb2, callout_service_pb2_grpc, decision_service_pb2 as pb
from segflow.v1 import decision_service_pb2_grpc

from segflow.rules.values import to_value
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.servicers.parsing import add_servicer
from tests.multiproc.conftest import start_host
from tests.service.calls import attributes, event, rpc_error, start
from tests.service.test_subscribe import wait_for_subscribers
from tests.sessions.conftest import RedisServers, free_port, need_redis_server, start_cluster, wait_for_cluster


class HeldCallout(callout_service_pb2_grpc.CalloutServiceServicer):
    """Answers 0 at once, or, once `hold` is set, only when `release` is: a call in the callout holds its lock."""

    def __init__(self):
        self.hold, self.entered, self.release = threading.Event(), threading.Event(), threading.Event()

    def GetValue(self, request, context):
        if self.hold.is_set():
            self.entered.set()
            context.add_callback(self.release.set)
            self.release.wait(30)
        return callout_service_pb2.GetValueResponse(value=to_value(0.0))


@pytest.fixture
def held_callout():
    servicer = HeldCallout()
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    add_servicer(servicer, callout_service_pb2.DESCRIPTOR.services_by_name["CalloutService"], server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, f"127.0.0.1:{port}"
    servicer.release.set()
    server.stop(0)


def test_a_replica_killed_mid_call_leaves_the_session_as_committed_and_its_lock_recoverable(
        redis_url, redis_client, prefix, clock, tmp_path, held_callout):
    callout, target = held_callout
    ruleset = tmp_path / "ruleset.yaml"
    ruleset.write_text(EXAMPLE_RULESET.replace("plugin: propensity", f'target: "{target}"', 1)
                       .replace("timeout: 50ms", "timeout: 20s", 1))
    url = f"{redis_url}?prefix={prefix}&lock_timeout=1"
    host = start_host(tmp_path / "killed", "--sessions-url", url, "--ruleset", str(ruleset), processes=1)
    try:
        killed = decision_service_pb2_grpc.DecisionServiceStub(host.channel())
        killed.StartSession(start("k1"))
        killed.PostEvent(event("k1", "add_to_cart", sku="A", price=10.0))
        callout.hold.set()
        in_flight = killed.PostEvent.future(event("k1", "add_to_cart", sku="B", price=5.0))
        assert callout.entered.wait(30), "the call never reached the callout"
        os.killpg(host.process.pid, signal.SIGKILL)  # while that call holds the session's lock
        host.process.wait(10)
        assert in_flight.exception(10) is not None
    finally:
        host.close()
        if host.process.poll() is None:
            os.killpg(host.process.pid, signal.SIGKILL)
    callout.hold.clear()
    callout.release.set()
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "survivor", workers=4, grace_seconds=1,
                    sessions_url=url, ruleset=ruleset)
    survivor = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{survivor.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            # The dead call's lock expires by itself (lock_timeout=1); nothing of that call was written.
            session = stub.GetSession(pb.GetSessionRequest(session_id="k1")).session
            assert session.event_sequence == 1 and attributes(session)["cart_total"] == 10.0
            after = stub.PostEvent(event("k1", "add_to_cart", sku="C", price=1.0))
            assert after.event_sequence == 2
            assert attributes(stub.GetSession(pb.GetSessionRequest(session_id="k1")).session)["cart_total"] == 11.0
    finally:
        survivor.stop(grace=1)


@pytest.fixture(params=["single", "cluster"])
def private_redis(request, tmp_path):
    """A Redis of this test's own that keeps its data across a restart (append-only file, fsync always): one
    server, or a 3-node cluster stopped and started whole; (url, down, up)."""
    need_redis_server()
    servers = RedisServers(tmp_path / "redis")
    servers.home.mkdir()
    persist = ("--appendonly", "yes", "--appendfsync", "always")
    if request.param == "single":
        ports = [free_port()]
        servers.start(ports[0], *persist)
        url = f"redis://127.0.0.1:{ports[0]}/0"
    else:
        ports = [free_port() for _ in range(3)]
        url = start_cluster(servers, ports, *persist)

    def down() -> None:
        for port in ports:
            servers.stop(port)

    def up() -> None:
        for port in ports:
            servers.restart(port)
        if len(ports) > 1:
            wait_for_cluster(ports)

    try:
        yield url, up, down
    finally:
        servers.stop_all()


def test_a_redis_restart_gives_unavailable_then_the_service_recovers_with_its_sessions(private_redis, clock,
                                                                                       tmp_path):
    url, up, down = private_redis
    config = Config(address="127.0.0.1:0", data_dir=tmp_path / "service", workers=4, grace_seconds=1,
                    sessions_url=url)
    service = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = decision_service_pb2_grpc.DecisionServiceStub(channel)
            stub.StartSession(start("r1"))
            stub.PostEvent(event("r1", "add_to_cart", sku="A", price=10.0))
            subscription = stub.SubscribeActions(pb.SubscribeActionsRequest())
            wait_for_subscribers(service, 1)
            down()
            _, _, reason = rpc_error(stub.PostEvent, event("r1", "add_to_cart", sku="B", price=1.0),
                                     code=grpc.StatusCode.UNAVAILABLE)
            assert reason == "SESSION_STORE_UNAVAILABLE"
            _, _, reason = rpc_error(lambda request: next(stub.SubscribeActions(request)),
                                     pb.SubscribeActionsRequest(resume_after=1), code=grpc.StatusCode.UNAVAILABLE)
            assert reason == "ACTION_LOG_UNAVAILABLE"
            up()
            deadline = time.monotonic() + 10
            while True:  # the client reconnects on its next command
                try:
                    after = stub.PostEvent(event("r1", "add_to_cart", sku="C", price=1.0))
                    break
                except grpc.RpcError as error:
                    assert error.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline
                    time.sleep(0.1)
            assert after.event_sequence == 2  # the visit survived; the failed call changed nothing
            assert attributes(stub.GetSession(pb.GetSessionRequest(session_id="r1")).session)["cart_total"] == 11.0
            first = next(subscription)  # the subscriber's stream carried on across the restart
            assert first.action.session_id == "r1" and first.sequence > 0
            subscription.cancel()
    finally:
        service.stop(grace=1)
