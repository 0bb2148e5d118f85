"""Actions in one Redis Stream shared by every replica: one subscriber sees all replicas' actions in one order,
resumes on another replica, or on a restarted one, with no loss and no duplicate; a trimmed log is a gap."""

from __future__ import annotations

import threading

import grpc
import pytest
from segflow.v1 import action_pb2 as A, decision_service_pb2 as pb, decision_service_pb2_grpc

from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.subscriptions import BusClosed
from segflow.server.subscriptions.redis_log import RedisActionLog
from tests.service.calls import event, start
from tests.service.test_subscribe import subscribe, wait_for_subscribers


class Replicas:
    """Running services on one Redis prefix; start(name) (re)starts one, each with its own data directory."""

    def __init__(self, url: str, clock, tmp_path, **settings):
        self.url, self.clock, self.tmp_path, self.settings = url, clock, tmp_path, settings
        self.services, self.channels = {}, {}

    def start(self, name: str):
        config = Config(address="127.0.0.1:0", data_dir=self.tmp_path / name, workers=8, grace_seconds=1,
                        sessions_url=self.url, **self.settings)
        self.services[name] = service = create_service(config, self.clock)
        self.channels[name] = grpc.insecure_channel(f"127.0.0.1:{service.port}")
        return decision_service_pb2_grpc.DecisionServiceStub(self.channels[name])

    def stop(self, name: str) -> None:
        self.channels.pop(name).close()
        self.services.pop(name).stop(grace=1)

    def stop_all(self) -> None:
        for name in list(self.services):
            self.stop(name)


@pytest.fixture
def replicas(redis_url, redis_client, prefix, clock, tmp_path):
    made = []

    def make(**settings) -> Replicas:
        made.append(Replicas(f"{redis_url}?prefix={prefix}", clock, tmp_path, **settings))
        return made[-1]

    yield make
    for group in made:
        group.stop_all()


def until(stream, last: int) -> list[pb.SubscribeActionsResponse]:
    """What a stream delivers up to sequence `last`, then cancel it."""
    received = []
    for response in stream:
        received.append(response)
        if response.sequence >= last:
            break
    stream.cancel()
    return received


def post(stub, session_id: str, count: int, tag: str) -> None:
    for i in range(count):
        stub.PostEvent(event(session_id, "add_to_cart", sku=f"{tag}{i}", price=1.0))


def test_one_subscriber_sees_both_replicas_actions_and_resumes_on_the_other(replicas):
    group = replicas()
    to_a, to_b = group.start("a"), group.start("b")
    log = group.services["a"].bus
    stream = subscribe(to_a)
    wait_for_subscribers(group.services["a"], 1)
    to_a.StartSession(start("va"))
    to_b.StartSession(start("vb"))
    writers = [threading.Thread(target=post, args=(stub, sid, 5, sid)) for stub, sid in ((to_a, "va"), (to_b, "vb"))]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    half = log.last_sequence // 2
    seen = until(stream, half)
    post(to_a, "va", 2, "x")  # while disconnected, on the replica it left
    post(to_b, "vb", 2, "y")
    rest = until(subscribe(to_b, resume_after=seen[-1].sequence), log.last_sequence)
    assert not any(r.HasField("gap") for r in seen + rest)
    assert [r.sequence for r in seen + rest] == list(range(1, log.last_sequence + 1))  # no hole, no duplicate
    assert len({(r.action.action_id, r.action.state) for r in seen + rest}) == log.last_sequence
    assert {r.action.session_id for r in rest} == {"va", "vb"}  # both replicas posted while it was away


def test_a_restarted_replica_resumes_a_subscriber_where_it_left(replicas):
    group = replicas()
    to_a = group.start("a")
    log = group.services["a"].bus
    to_a.StartSession(start("v"))
    post(to_a, "v", 2, "a")
    seen = until(subscribe(to_a, resume_after=1), log.last_sequence)
    post(to_a, "v", 2, "b")
    group.stop("a")
    to_a = group.start("a")
    log = group.services["a"].bus
    rest = until(subscribe(to_a, resume_after=seen[-1].sequence), log.last_sequence)
    assert [r.sequence for r in seen + rest] == list(range(2, log.last_sequence + 1))


def test_resuming_past_what_the_stream_kept_starts_with_a_gap(redis_client, prefix):
    log = RedisActionLog(redis_client, prefix=prefix, retention=10)
    try:
        for n in range(1, 301):
            log.publish_all([A.Action(action_id=str(n)).SerializeToString()])
        kept = redis_client.xlen(log.keys[0])
        assert 10 <= kept < 300  # trimmed to about the retention (whole stream nodes at a time)
        with log.subscribe(pb.SubscribeActionsRequest(resume_after=5)) as subscription:
            gap, first = next(subscription), next(subscription)
        # A replica keeps the last `retention` of what the stream kept, for resuming.
        assert (gap.gap.first_missed, gap.gap.last_missed) == (6, 290)
        assert (first.sequence, first.action.action_id) == (291, "291")
    finally:
        log.close()


def test_a_log_redis_lost_ends_its_subscriptions_and_numbers_start_over(redis_client, prefix):
    log = RedisActionLog(redis_client, prefix=prefix)
    try:
        log.publish_all([A.Action(action_id="before").SerializeToString()])
        subscription = log.subscribe(pb.SubscribeActionsRequest())
        redis_client.delete(*log.keys)  # as a Redis restarted without persistence
        log.publish_all([A.Action(action_id="after").SerializeToString()])
        with pytest.raises(BusClosed):
            list(subscription)
        with log.subscribe(pb.SubscribeActionsRequest()) as fresh:
            log.publish_all([A.Action(action_id="next").SerializeToString()])
            assert (next(fresh).sequence, log.stats()["published"]) == (2, 2)
    finally:
        log.close()


def test_a_call_that_fails_appends_nothing(replicas, redis_client, prefix):
    group = replicas()
    to_a = group.start("a")
    to_a.StartSession(start("v"))
    log = group.services["a"].bus
    before = log.last_sequence
    with pytest.raises(grpc.RpcError) as failed:  # a required parameter missing: refused before any action
        to_a.PostEvent(event("v", "add_to_cart", price=1.0))
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert log.last_sequence == before
