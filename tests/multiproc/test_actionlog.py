"""The host's shared action log as two workers of one host use it (two buses on one LMDB environment): nothing is
logged while nobody listens, and whoever subscribes later sees one sequence with every pause reported as a gap."""

from __future__ import annotations

import time

import pytest
from segflow.v1 import decision_service_pb2 as pb

from segflow.server.sessions.lmdb_store import open_environment
from segflow.server.workers.actionlog import SharedActionBus
from tests.test_subscriptions import encoded, ids, make_action, take, wait_until


@pytest.fixture
def buses(tmp_path):
    env, _ = open_environment(tmp_path)
    pair = [SharedActionBus(env, worker, retention=100, linger=0.0) for worker in (0, 1)]
    yield pair
    for bus in pair:
        bus.close()


def logged(bus: SharedActionBus) -> int:
    with bus.env.begin() as txn:
        return txn.stat(bus.env.open_db(b"actions"))["entries"]


def listed(bus: SharedActionBus) -> int:
    with bus.env.begin() as txn:
        return txn.stat(bus.env.open_db(b"listeners"))["entries"]


def test_nothing_is_logged_while_no_worker_has_a_subscriber(buses):
    first, second = buses
    first.publish_all(encoded(make_action("a"), make_action("b")))
    second.publish_all(encoded(make_action("c")))
    assert logged(first) == 0
    assert (first.stats()["published"], second.stats()["published"]) == (2, 1)


def test_a_subscriber_arriving_after_skipped_actions_sees_one_sequence_from_its_point(buses):
    first, second = buses
    first.publish_all(encoded(make_action("skipped")))
    with second.subscribe(pb.SubscribeActionsRequest()) as subscription:
        first.publish_all(encoded(make_action("1"), make_action("2")))
        second.publish_all(encoded(make_action("3")))
        received = take(subscription, 3)
    assert ids(received) == ["1", "2", "3"]
    assert [r.sequence for r in received] == [2, 3, 4]  # 1 is the pause's gap entry


def test_a_resume_across_a_pause_starts_with_a_gap_for_what_nobody_saw(buses):
    first, second = buses
    with second.subscribe(pb.SubscribeActionsRequest()) as subscription:
        first.publish_all(encoded(make_action("1"), make_action("2")))
        assert [r.sequence for r in take(subscription, 2)] == [1, 2]
    wait_until(lambda: listed(second) == 0)  # its last subscriber left `linger` (0 s) ago
    first.publish_all(encoded(make_action("unseen")))
    resumed = second.subscribe(pb.SubscribeActionsRequest(resume_after=2))
    first.publish_all(encoded(make_action("4")))
    gap, after = take(resumed, 2)
    assert (gap.gap.first_missed, gap.gap.last_missed) == (3, 3)
    assert (after.sequence, after.action.action_id) == (4, "4")
    resumed.close()


def test_a_worker_that_stays_listed_logs_for_a_subscriber_that_reconnects(tmp_path):
    env, _ = open_environment(tmp_path)
    lingering, publisher = SharedActionBus(env, 0, linger=3600.0), SharedActionBus(env, 1, linger=3600.0)
    try:
        with lingering.subscribe(pb.SubscribeActionsRequest()) as subscription:
            publisher.publish_all(encoded(make_action("1")))
            take(subscription, 1)
        time.sleep(0.05)  # several polls of the follower: it stays listed
        publisher.publish_all(encoded(make_action("2")))
        replayed = take(lingering.subscribe(pb.SubscribeActionsRequest(resume_after=1)), 1)
        assert [(r.sequence, r.action.action_id) for r in replayed] == [(2, "2")]
    finally:
        lingering.close()
        publisher.close()


def test_a_restarted_worker_unlists_the_subscribers_of_its_previous_process(tmp_path):
    env, _ = open_environment(tmp_path)
    before = SharedActionBus(env, 0)
    before.subscribe(pb.SubscribeActionsRequest())
    assert listed(before) == 1
    again = SharedActionBus(env, 0)  # as a worker started in place of one that died with a subscriber
    try:
        assert listed(again) == 0
    finally:
        again.close()
        before.close()
