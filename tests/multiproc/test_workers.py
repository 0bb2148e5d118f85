"""`segflow serve --processes 2` as a user runs it: any worker serves any call of any session, calls on one
session are serialised across workers, deploys and actions reach every worker, and a killed worker comes back
without losing a live session."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc
from segflow.v1 import ruleset_service_pb2 as admin_pb, ruleset_service_pb2_grpc

from segflow.server.examples import EXAMPLE_RULESET
from tests.multiproc.conftest import HEADER
from tests.service.calls import attributes, event, start


def decisions(channel) -> decision_service_pb2_grpc.DecisionServiceStub:
    return decision_service_pb2_grpc.DecisionServiceStub(channel)


def served_by(call) -> int:
    return int(dict(call.trailing_metadata())[HEADER])


def test_a_visit_whose_calls_alternate_between_workers(host):
    """Runs of calls on one worker (served from the session it keeps decoded) between calls on the other."""
    (a, to_a), (b, to_b) = host.channels_by_worker().items()
    stubs = [(a, decisions(to_a)), (b, decisions(to_b))]
    _, call = stubs[0][1].StartSession.with_call(start("alternating"))
    served = [served_by(call)]
    for i, worker in enumerate([1, 0, 0, 1, 1, 0]):
        pid, stub = stubs[worker]
        response, call = stub.PostEvent.with_call(event("alternating", "add_to_cart", sku=f"S{i}", price=10.0))
        served.append(served_by(call))
        assert response.event_sequence == i + 1  # each worker saw every event the other one took
    assert served == [a, b, a, a, b, b, a]
    for _, stub in stubs:
        session = stub.GetSession(pb.GetSessionRequest(session_id="alternating")).session
        assert attributes(session)["cart_items"] == 6 and attributes(session)["cart_total"] == 60.0


def test_concurrent_calls_on_one_session_across_workers_are_serialised(host):
    channels = list(host.channels_by_worker().values())
    decisions(channels[0]).StartSession(start("contended"))
    acknowledged, start_together = [], threading.Barrier(8)

    def post(channel):
        stub = decisions(channel)
        start_together.wait()
        for i in range(15):
            try:
                stub.PostEvent(event("contended", "add_to_cart", sku="S", price=1.0), timeout=20)
                acknowledged.append(1)
            except grpc.RpcError as error:  # counted only if acknowledged; none is expected to fail
                pytest.fail(f"PostEvent failed: {error.code()} {error.details()}")

    threads = [threading.Thread(target=post, args=(channels[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session = decisions(channels[1]).GetSession(pb.GetSessionRequest(session_id="contended")).session
    assert attributes(session)["cart_items"] == len(acknowledged) == 8 * 15
    assert session.event_sequence == len(acknowledged)


def test_a_deploy_through_one_worker_is_in_force_on_all_when_it_returns(host):
    (a, to_a), (b, to_b) = host.channels_by_worker().items()
    for round, (via, other) in enumerate([(to_a, to_b), (to_b, to_a), (to_a, to_b)]):
        text = EXAMPLE_RULESET.replace("cart_total >= 500", f"cart_total >= {400 - round}")
        deployed = ruleset_service_pb2_grpc.RulesetServiceStub(via).DeployRuleset(
            admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=text))).version.version
        session = f"after-deploy-{round}"
        decisions(other).StartSession(start(session))
        response = decisions(other).PostEvent(event(session, "add_to_cart", sku="X", price=450.0))
        assert response.decision.ruleset_version == deployed
        assert "big_spenders" in response.segments_entered  # the new threshold, on the worker that did not deploy


def test_one_subscriber_sees_the_actions_of_every_worker_in_one_sequence(host):
    (a, to_a), (b, to_b) = host.channels_by_worker().items()
    stream = decisions(to_a).SubscribeActions(pb.SubscribeActionsRequest(), timeout=30)
    received = []

    def read():
        try:
            for response in stream:
                if response.HasField("action"):
                    received.append((response.sequence, response.action.session_id))
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.CANCELLED  # by the test, below

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.3)  # the stream is registered once the server has read the request
    for via, name in ((to_a, "sub-a"), (to_b, "sub-b")):
        decisions(via).StartSession(start(name))
        decisions(via).PostEvent(event(name, "add_to_cart", sku="X", price=1.0))
    deadline = time.monotonic() + 10
    while {"sub-a", "sub-b"} - {session for _, session in received} and time.monotonic() < deadline:
        time.sleep(0.05)
    stream.cancel()
    reader.join(5)
    assert {"sub-a", "sub-b"} <= {session for _, session in received}
    sequences = [sequence for sequence, _ in received]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))  # one sequence, no hole


def test_a_killed_worker_is_restarted_without_losing_live_sessions(host):
    (a, to_a), (b, to_b) = host.channels_by_worker().items()
    decisions(to_b).StartSession(start("survivor"))
    decisions(to_b).PostEvent(event("survivor", "add_to_cart", sku="X", price=5.0))
    os.kill(b, signal.SIGKILL)
    # The other worker serves the session at once; the supervisor starts a new worker meanwhile.
    session = decisions(to_a).GetSession(pb.GetSessionRequest(session_id="survivor")).session
    assert attributes(session)["cart_items"] == 1
    deadline, replacement = time.monotonic() + 30, None
    while replacement is None and time.monotonic() < deadline:
        try:
            workers = host.channels_by_worker(tries=16)
            replacement = next((pid for pid in workers if pid not in (a, b)), None)
        except (AssertionError, grpc.RpcError):
            time.sleep(0.2)
    assert replacement is not None, "the killed worker was not replaced"
    stub = decisions(workers[replacement])
    response = stub.PostEvent(event("survivor", "add_to_cart", sku="Y", price=5.0))
    assert response.event_sequence == 2
    assert attributes(stub.GetSession(pb.GetSessionRequest(session_id="survivor")).session)["cart_items"] == 2


@pytest.mark.parametrize("processes", [1, 2])
def test_a_second_server_on_a_taken_port_exits_non_zero_with_a_clear_message(host, tmp_path, processes):
    second = subprocess.run(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--processes", str(processes), "--address",
         f"127.0.0.1:{host.port}", "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    assert f"127.0.0.1:{host.port} is already in use by another process" in second.stderr
