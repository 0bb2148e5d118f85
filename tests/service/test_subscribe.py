"""SubscribeActions against the running service: what PostEvent and GetOffers decide, as it happens."""

from __future__ import annotations

import threading
import time

import grpc
from segflow.v1 import action_pb2 as A, decision_service_pb2 as pb

from tests.service.calls import event, offers, start


def subscribe(decisions, **filter_fields) -> grpc.Future:
    once = filter_fields.pop("once", False)
    resume_after = filter_fields.pop("resume_after", 0)
    request = pb.SubscribeActionsRequest(filter=pb.ActionFilter(**filter_fields), once=once,
                                         resume_after=resume_after)
    return decisions.SubscribeActions(request)


def wait_for_subscribers(service, count: int) -> None:
    deadline = time.monotonic() + 10
    while service.bus.stats()["subscribers"] < count:
        assert time.monotonic() < deadline, "subscription did not register"
        time.sleep(0.01)


def test_an_offer_lifecycle_is_published_under_one_action_id(decisions, service):
    decisions.StartSession(start("watched"))
    stream = subscribe(decisions, session_id="watched", types=[
        A.ACTION_TYPE_OFFER, A.ACTION_TYPE_LOG_CONTACT, A.ACTION_TYPE_LOG_ACCEPTANCE])
    wait_for_subscribers(service, 1)
    decisions.PostEvent(event("watched", "add_to_cart", sku="A", price=20.0))
    [offer] = decisions.GetOffers(offers("watched", ("home_banner", 1))).offer_lists[0].offers
    decisions.PostEvent(event("watched", "offer_shown", treatment_code=offer.treatment_code))
    decisions.PostEvent(event("watched", "offer_click", treatment_code=offer.treatment_code))
    received = [next(stream) for _ in range(3)]
    stream.cancel()
    assert [r.action.state for r in received] == [A.ACTION_STATE_FIRED, A.ACTION_STATE_OFFERED,
                                                  A.ACTION_STATE_ACCEPTED]
    assert len({r.action.action_id for r in received}) == 1
    assert [r.sequence for r in received] == sorted(r.sequence for r in received)
    assert received[2].action.rule_id == "offer-accepted" and received[2].action.ruleset_version == 1


def test_once_ends_after_the_first_match_and_cancel_unsubscribes(decisions, service):
    decisions.StartSession(start("notify-me"))
    first_notify = subscribe(decisions, types=[A.ACTION_TYPE_NOTIFY], once=True)
    everything = subscribe(decisions, session_id="notify-me")
    wait_for_subscribers(service, 2)
    decisions.PostEvent(event("notify-me", "chat_message", text="hello"))
    decisions.PostEvent(event("notify-me", "chat_message", text="again"))
    [only] = list(first_notify)  # the stream ends by itself
    assert only.action.notify.topic == "chatbot"
    assert next(everything).action.type == A.ACTION_TYPE_NOTIFY
    everything.cancel()
    deadline = time.monotonic() + 10
    while service.bus.stats()["subscribers"]:
        assert time.monotonic() < deadline, "cancel did not unsubscribe"
        time.sleep(0.01)


def test_resume_after_a_disconnect_misses_nothing(decisions, service):
    decisions.StartSession(start("resume"))
    stream = subscribe(decisions, session_id="resume", types=[A.ACTION_TYPE_USER_EXPRESSION])
    wait_for_subscribers(service, 1)
    decisions.PostEvent(event("resume", "add_to_cart", sku="A", price=1.0))
    seen = [next(stream), next(stream)]
    stream.cancel()
    for i in range(3):  # while disconnected
        decisions.PostEvent(event("resume", "add_to_cart", sku=f"B{i}", price=1.0))
    resumed = subscribe(decisions, session_id="resume", types=[A.ACTION_TYPE_USER_EXPRESSION],
                        resume_after=seen[-1].sequence)
    replayed = [next(resumed) for _ in range(6)]
    resumed.cancel()
    assert not any(r.HasField("gap") for r in replayed)
    assert replayed[0].sequence > seen[-1].sequence
    assert len({r.action.action_id for r in seen + replayed}) == 8


def test_a_stalled_subscriber_never_slows_events_and_is_never_silently_skipped(decisions, service):
    decisions.StartSession(start("firehose"))
    stalled = subscribe(decisions)  # not read until every event is posted
    wait_for_subscribers(service, 1)
    for i in range(1000):
        decisions.PostEvent(event("firehose", "add_to_cart", sku=f"S{i}", price=1.0))
    last = service.bus.last_sequence
    covered, ended_behind = set(), False
    try:
        for response in stalled:
            if response.HasField("gap"):
                covered.update(range(response.gap.first_missed, response.gap.last_missed + 1))
            else:
                covered.add(response.sequence)
            if response.sequence >= last:
                stalled.cancel()
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            ended_behind = True
            assert "resume with resume_after=" in error.details()
        else:
            assert error.code() == grpc.StatusCode.CANCELLED
    # Every event was either delivered or reported missing in a gap: no silent hole, overflow or not.
    assert covered == set(range(min(covered), max(covered) + 1))
    if not ended_behind:
        assert max(covered) == last


def test_many_subscribers_each_get_every_matching_event(decisions, service):
    decisions.StartSession(start("crowd"))
    streams = [subscribe(decisions, session_id="crowd", types=[A.ACTION_TYPE_RESEGMENT]) for _ in range(8)]
    wait_for_subscribers(service, 8)
    for i in range(5):
        decisions.PostEvent(event("crowd", "page_view", category="shoes"))
    results = []

    def drain(stream):
        results.append([next(stream).action.action_id for _ in range(5)])
        stream.cancel()

    readers = [threading.Thread(target=drain, args=(s,)) for s in streams]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=20)
    assert len(results) == 8 and all(r == results[0] for r in results)


def test_a_subscriber_receives_the_very_actions_the_response_carried(decisions, service):
    decisions.StartSession(start("same-actions"))
    stream = subscribe(decisions, session_id="same-actions")
    wait_for_subscribers(service, 1)
    response = decisions.PostEvent(event("same-actions", "add_to_cart", sku="TV-55", price=900.0))
    received = [next(stream).action for _ in response.actions]
    stream.cancel()
    assert len(response.actions) >= 5  # cart-update (3), big-cart-alert, the chained event's journey...
    assert received == list(response.actions)
    assert len({a.action_id for a in received}) == len(received)
    assert {a.decision_id for a in received} == {response.decision.decision_id}
    assert all(a.time.seconds == 1772366400 for a in received)  # the service clock: 2026-03-01 12:00 UTC


def test_regression_headers_arrive_before_any_action_so_a_client_knows_it_is_subscribed(decisions, service):
    stream = subscribe(decisions, session_id="nothing-happens")
    headers = threading.Thread(target=stream.initial_metadata, daemon=True)
    headers.start()
    headers.join(timeout=10)
    try:
        assert not headers.is_alive(), "no initial metadata before the first action"
        assert service.bus.stats()["subscribers"] == 1  # registered by the time the headers came
    finally:
        stream.cancel()


def test_a_resumed_subscriber_replays_the_very_events_it_was_sent_live(decisions, service):
    decisions.StartSession(start("replayed"))
    stream = subscribe(decisions, session_id="replayed")
    wait_for_subscribers(service, 1)
    carried = [a for price in (900.0, 20.0) for a in decisions.PostEvent(
        event("replayed", "add_to_cart", sku="TV-55", price=price)).actions]
    live = [next(stream) for _ in carried]
    stream.cancel()
    resumed = subscribe(decisions, session_id="replayed", resume_after=live[0].sequence)  # 0 would be live only
    replayed = [next(resumed) for _ in carried[1:]]
    resumed.cancel()
    assert [r.action for r in live] == carried
    assert replayed == live[1:]  # sequence, time and action, as retained


def test_actions_posted_while_nobody_listened_replay_as_the_response_carried_them(decisions, service):
    """With no subscriber the bus retains each action's encoding as the Decision made it, unparsed: a later
    resume must still see exactly the actions the response carried."""
    decisions.StartSession(start("unheard"))
    decisions.PostEvent(event("unheard", "add_to_cart", sku="A", price=20.0))
    before = service.bus.last_sequence  # > 0: resuming after 0 would be live only
    carried = list(decisions.PostEvent(event("unheard", "add_to_cart", sku="TV-55", price=900.0)).actions)
    resumed = subscribe(decisions, session_id="unheard", resume_after=before)
    replayed = [next(resumed) for _ in carried]
    resumed.cancel()
    assert carried and [r.action for r in replayed] == carried
    # Byte for byte, map entries in key order: a map's wire order is not part of its value (the response carries
    # a log_data action's columns in the order they were encoded; a replayed action comes as the server's protobuf
    # runtime serializes it once decoded, its map in that runtime's order).
    assert ([r.action.SerializeToString(deterministic=True) for r in replayed] ==
            [a.SerializeToString(deterministic=True) for a in carried])
