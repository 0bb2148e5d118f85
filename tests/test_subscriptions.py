"""Tests of the action bus and of SubscribeActions over a real gRPC channel."""

import gc
import threading
import time
from concurrent import futures
from itertools import islice

import grpc
import pytest

from segflow.v1 import action_pb2, decision_service_pb2, decision_service_pb2_grpc
from segflow.server.subscriptions import (
    ActionBus,
    BusClosed,
    InvalidSubscription,
    SubscriberFellBehind,
    serve_subscription,
)

T = action_pb2.ActionType
S = action_pb2.ActionState
WAIT = 10.0  # upper bound for anything that should happen "promptly"; never reached when the code is right


def make_action(action_id, type=T.ACTION_TYPE_LOG_CONTACT, state=S.ACTION_STATE_FIRED, session="s1",
                customer="c1", rule="r1"):
    return action_pb2.Action(action_id=action_id, type=type, state=state, session_id=session,
                             customer_id=customer, rule_id=rule)


def request(once=False, resume_after=0, **action_filter):
    return decision_service_pb2.SubscribeActionsRequest(
        filter=decision_service_pb2.ActionFilter(**action_filter), once=once, resume_after=resume_after)


def wait_until(condition, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def take(stream, count):
    return list(islice(stream, count))


def ids(responses):
    return [r.action.action_id for r in responses]


def in_thread(function):
    """Run `function` in a daemon thread; returns the thread and a list that receives its result or error."""
    outcome = []

    def run():
        try:
            outcome.append(function())
        except Exception as error:  # noqa: BLE001 - handed to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


# Actions that differ in one field each from "a" so that every filter field is exercised.
VARIED = [
    make_action("a"),
    make_action("b", type=T.ACTION_TYPE_LOG_ACCEPTANCE),
    make_action("c", state=S.ACTION_STATE_OFFERED),
    make_action("d", session="s2"),
    make_action("e", customer="c2"),
    make_action("f", rule="r2"),
    make_action("g", type=T.ACTION_TYPE_NOTIFY, session="s2", customer="", rule="r3"),
]

FILTER_CASES = [
    ({}, "abcdefg"),
    ({"types": [T.ACTION_TYPE_LOG_ACCEPTANCE]}, "b"),
    ({"types": [T.ACTION_TYPE_LOG_ACCEPTANCE, T.ACTION_TYPE_NOTIFY]}, "bg"),
    ({"states": [S.ACTION_STATE_OFFERED]}, "c"),
    ({"session_id": "s2"}, "dg"),
    ({"customer_id": "c2"}, "e"),
    ({"rule_ids": ["r2", "r3"]}, "fg"),
    ({"session_id": "s2", "types": [T.ACTION_TYPE_NOTIFY]}, "g"),
    ({"customer_id": "c1", "session_id": "s1", "states": [S.ACTION_STATE_FIRED]}, "abf"),
    ({"customer_id": "c2", "session_id": "s2"}, ""),
]


# ---------------------------------------------------------------- the bus, in process


@pytest.mark.parametrize(("action_filter", "expected"), FILTER_CASES)
def test_filter_fields_are_anded_and_values_ored(action_filter, expected):
    bus = ActionBus()
    subscription = bus.subscribe(request(**action_filter))
    for action in VARIED:
        bus.publish(action)
    bus.close()
    received = []
    with pytest.raises(BusClosed):
        for response in subscription:
            received.append(response)
    assert "".join(ids(received)) == expected


@pytest.mark.parametrize(("action_filter", "field"), [
    ({"types": [T.ACTION_TYPE_NOTIFY, 99]}, "filter.types[1]"),
    ({"types": [T.ACTION_TYPE_UNSPECIFIED]}, "filter.types[0]"),
    ({"states": [42]}, "filter.states[0]"),
    ({"rule_ids": ["r1", ""]}, "filter.rule_ids[1]"),
])
def test_invalid_filter_is_refused_with_its_field(action_filter, field):
    bus = ActionBus()
    with pytest.raises(InvalidSubscription) as raised:
        bus.subscribe(request(**action_filter))
    assert isinstance(raised.value, ValueError)
    assert raised.value.field == field
    assert str(raised.value).startswith(field + ": ")
    assert bus.stats()["subscribers"] == 0


def test_resume_position_beyond_the_log_is_refused():
    bus = ActionBus()
    bus.publish(make_action("a"))
    with pytest.raises(InvalidSubscription) as raised:
        bus.subscribe(request(resume_after=5))
    assert raised.value.field == "resume_after"
    assert "last published sequence 1" in raised.value.message


def test_sequences_count_up_and_time_comes_from_the_clock():
    bus = ActionBus(clock=lambda: 1_700_000_000_123_456_789)
    subscription = bus.subscribe(request())
    assert [bus.publish(make_action(str(n))) for n in range(3)] == [1, 2, 3]
    responses = take(subscription, 3)
    assert [r.sequence for r in responses] == [1, 2, 3]
    assert responses[0].time.ToNanoseconds() == 1_700_000_000_123_456_789
    assert responses[2].action == make_action("2")


def test_each_state_change_of_one_action_is_delivered():
    bus = ActionBus()
    subscription = bus.subscribe(request(session_id="s1"))
    for state in (S.ACTION_STATE_FIRED, S.ACTION_STATE_OFFERED, S.ACTION_STATE_ACCEPTED):
        bus.publish(make_action("a", state=state))
    assert [r.action.state for r in take(subscription, 3)] == [
        S.ACTION_STATE_FIRED, S.ACTION_STATE_OFFERED, S.ACTION_STATE_ACCEPTED]


def test_once_ends_after_the_first_match_and_unsubscribes():
    bus = ActionBus()
    subscription = bus.subscribe(request(once=True, types=[T.ACTION_TYPE_NOTIFY]))
    for action in VARIED:
        bus.publish(action)
    assert ids(subscription) == ["g"]
    assert bus.stats()["subscribers"] == 0


def test_close_from_another_thread_ends_a_waiting_iteration():
    bus = ActionBus()
    subscription = bus.subscribe(request())
    thread, outcome = in_thread(lambda: list(subscription))
    time.sleep(0.1)  # let the iteration block on its empty queue (the test is also right if it has not yet)
    subscription.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert outcome == [[]]
    assert bus.stats()["subscribers"] == 0


def test_bus_close_ends_every_stream_and_refuses_new_ones():
    bus = ActionBus()
    bus.publish(make_action("a"))
    subscriptions = [bus.subscribe(request(session_id="s1")), bus.subscribe(request())]
    threads = [in_thread(lambda s=s: list(s)) for s in subscriptions]
    bus.close()
    for thread, outcome in threads:
        thread.join(WAIT)
        assert isinstance(outcome[0], BusClosed)
        assert outcome[0].resume_after == 1
    with pytest.raises(BusClosed):
        bus.subscribe(request())
    assert bus.stats()["subscribers"] == 0


def test_resume_replays_retained_matches_then_continues_live():
    bus = ActionBus()
    for n in range(1, 6):
        bus.publish(make_action(str(n), session="s1" if n % 2 else "s2"))
    subscription = bus.subscribe(request(resume_after=1, session_id="s1"))
    bus.publish(make_action("6"))
    responses = take(subscription, 3)
    assert [(r.sequence, r.action.action_id) for r in responses] == [(3, "3"), (5, "5"), (6, "6")]


def test_resume_after_evicted_events_starts_with_a_gap():
    bus = ActionBus(retention=3)
    for n in range(1, 11):
        bus.publish(make_action(str(n)))
    subscription = bus.subscribe(request(resume_after=2))
    gap, *replayed = take(subscription, 4)
    assert gap.WhichOneof("event") == "gap"
    assert (gap.gap.first_missed, gap.gap.last_missed, gap.sequence) == (3, 7, 7)
    assert ids(replayed) == ["8", "9", "10"]


def test_overflow_delivers_the_queue_then_a_gap_then_ends():
    bus = ActionBus(queue_size=3)
    slow = bus.subscribe(request())
    healthy = bus.subscribe(request(resume_after=0))
    for n in range(1, 11):
        bus.publish(make_action(str(n)))
        take(healthy, 1)
    assert bus.stats() == {"published": 10, "subscribers": 1, "dropped": 1, "retained": 10}
    received = []
    with pytest.raises(SubscriberFellBehind) as raised:
        for response in slow:
            received.append(response)
    assert ids(received[:3]) == ["1", "2", "3"]
    assert received[3].gap == decision_service_pb2.ActionGap(first_missed=4, last_missed=10)
    assert received[3].sequence == 3
    assert len(received) == 4
    assert str(raised.value) == "subscriber fell behind: events 4..10 dropped; resume with resume_after=3"
    resumed = bus.subscribe(request(resume_after=raised.value.resume_after))
    assert ids(take(resumed, 7)) == [str(n) for n in range(4, 11)]


def test_events_the_bus_missed_end_live_streams_with_the_gap_and_restart_retention():
    bus = ActionBus()
    live = bus.subscribe(request())
    for n in range(1, 4):
        bus.publish(make_action(str(n)), sequence=n)
    bus.missed(4, 9)
    bus.publish(make_action("10"), sequence=10)
    received = []
    with pytest.raises(SubscriberFellBehind) as raised:
        for response in live:
            received.append(response)
    assert ids(received[:3]) == ["1", "2", "3"]
    assert (received[3].gap.first_missed, received[3].gap.last_missed) == (4, 10)
    assert raised.value.resume_after == 3
    assert bus.stats()["dropped"] == 1
    gap, replayed = take(bus.subscribe(request(resume_after=3)), 2)
    assert (gap.gap.first_missed, gap.gap.last_missed, gap.sequence) == (4, 9, 9)
    assert ids([replayed]) == ["10"]


def tracked_objects():
    gc.collect()
    return len(gc.get_objects())


def encoded(*actions):
    """Actions as the engine publishes them: their encodings."""
    return [action.SerializeToString() for action in actions]


def fired(count, call):
    """The encodings of `count` actions as the engine publishes a call's."""
    return encoded(*(action_pb2.Action(action_id=f"{call}-{n}", type=T.ACTION_TYPE_NOTIFY, session_id="s1",
                                       customer_id="c1", rule_id="r1", notify={"message": "x" * n})
                     for n in range(count)))


def test_regression_retained_and_queued_actions_are_no_objects_the_collector_tracks():
    """The bus kept a (sequence, time, Action) tuple per retained and per queued event, each message and tuple
    tracked by the collector, so the heap every full collection walks grew with the 10,000-event ring."""
    bus = ActionBus(retention=1_000, queue_size=1_000)
    published = []
    before = tracked_objects()
    for call in range(200):  # nobody subscribed: publish_all's own path
        bus.publish_all(actions := fired(5, call))
        published += actions
    assert bus.stats()["retained"] == 1_000
    assert tracked_objects() - before < 20
    subscription = bus.subscribe(request(resume_after=500))  # replays 500, then queues what follows
    before = tracked_objects()
    for call in range(200, 300):
        bus.publish_all(actions := fired(5, call))
        published += actions
    assert tracked_objects() - before < 20
    served = take(subscription, 1_000)
    assert [r.sequence for r in served] == list(range(501, 1_501))
    assert [r.action.SerializeToString() for r in served] == published[500:]


def test_a_published_action_is_kept_as_it_was_when_published():
    bus = ActionBus()
    action = make_action("a")
    for state in (S.ACTION_STATE_FIRED, S.ACTION_STATE_OFFERED, S.ACTION_STATE_ACCEPTED):
        action.state = state
        bus.publish(action)
    action.state = S.ACTION_STATE_ERRORED  # changed after its last publication: no subscriber sees that
    replayed = take(bus.subscribe(request(resume_after=1)), 2)
    assert [r.action.state for r in replayed] == [S.ACTION_STATE_OFFERED, S.ACTION_STATE_ACCEPTED]


def test_resume_while_publishing_has_no_hole_and_no_duplicate():
    bus = ActionBus(queue_size=1_000_000)
    stop = threading.Event()

    def publish_until_stopped():
        while not stop.is_set():
            bus.publish(make_action("x"))

    publisher, _ = in_thread(publish_until_stopped)
    try:
        for _ in range(20):
            wait_until(lambda: bus.last_sequence > 0)
            resume_after = bus.last_sequence // 2 or bus.last_sequence
            subscription = bus.subscribe(request(resume_after=resume_after))
            sequences = [r.sequence for r in take(subscription, 300)]
            subscription.close()
            assert sequences == list(range(resume_after + 1, resume_after + 301))
    finally:
        stop.set()
        publisher.join(WAIT)


def test_concurrent_publishers_reach_every_subscriber_in_order_exactly_once():
    bus = ActionBus(queue_size=1_000_000)
    threads, per_thread = 4, 3_000

    def action_for(thread_no, n):
        kind = T.ACTION_TYPE_NOTIFY if n % 3 == 0 else T.ACTION_TYPE_LOG_CONTACT
        return make_action(f"{thread_no}-{n}", type=kind, session=f"s{n % 2}", customer=f"c{thread_no % 3}")

    cases = [
        ({}, lambda a: True),
        ({"session_id": "s1"}, lambda a: a.session_id == "s1"),
        ({"customer_id": "c2"}, lambda a: a.customer_id == "c2"),
        ({"types": [T.ACTION_TYPE_NOTIFY]}, lambda a: a.type == T.ACTION_TYPE_NOTIFY),
    ]
    published = [action_for(t, n) for t in range(threads) for n in range(per_thread)]
    expected = [{a.action_id for a in published if wanted(a)} for _, wanted in cases]
    subscriptions = [bus.subscribe(request(**action_filter)) for action_filter, _ in cases]
    consumers = [in_thread(lambda s=s, e=e: take(s, len(e))) for s, e in zip(subscriptions, expected)]
    publishers = [threading.Thread(target=lambda t=t: [bus.publish(action_for(t, n)) for n in range(per_thread)])
                  for t in range(threads)]
    for thread in publishers:
        thread.start()
    for thread in publishers:
        thread.join(WAIT)
    for (thread, outcome), wanted in zip(consumers, expected):
        thread.join(WAIT)
        responses = outcome[0]
        sequences = [r.sequence for r in responses]
        assert sequences == sorted(set(sequences))
        assert len(responses) == len(wanted)
        assert set(ids(responses)) == wanted
    assert bus.stats()["published"] == threads * per_thread


# ---------------------------------------------------------------- SubscribeActions over a real channel


class SubscribingServicer(decision_service_pb2_grpc.DecisionServiceServicer):
    def __init__(self, bus):
        self.bus = bus

    def SubscribeActions(self, request, context):
        yield from serve_subscription(self.bus, request, context)


@pytest.fixture
def serve():
    """Start a server around a new ActionBus(**options); returns (bus, stub). Everything stops after the test."""
    started = []

    def start(**options):
        bus = ActionBus(**options)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        decision_service_pb2_grpc.add_DecisionServiceServicer_to_server(SubscribingServicer(bus), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        started.append((bus, server, channel))
        return bus, decision_service_pb2_grpc.DecisionServiceStub(channel)

    yield start
    for bus, server, channel in started:
        bus.close()
        channel.close()
        server.stop(grace=None)


def open_stream(bus, stub, subscribers_before=0, **request_options):
    """Start a SubscribeActions call and wait until the server has registered it."""
    call = stub.SubscribeActions(request(**request_options), timeout=WAIT * 2)
    wait_until(lambda: bus.stats()["subscribers"] == subscribers_before + 1)
    return call


def test_service_filters(serve):
    bus, stub = serve()
    call = open_stream(bus, stub, session_id="s2", types=[T.ACTION_TYPE_NOTIFY, T.ACTION_TYPE_LOG_CONTACT])
    for action in VARIED:
        bus.publish(action)
    assert [(r.sequence, r.action.action_id) for r in take(call, 2)] == [(4, "d"), (7, "g")]
    call.cancel()


def test_service_refuses_a_bad_filter(serve):
    _, stub = serve()
    with pytest.raises(grpc.RpcError) as raised:
        list(stub.SubscribeActions(request(states=[77]), timeout=WAIT))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "filter.states[0]: unknown ActionState value 77"


def test_service_once(serve):
    bus, stub = serve()
    call = open_stream(bus, stub, once=True, rule_ids=["r2"])
    for action in VARIED:
        bus.publish(action)
    assert ids(call) == ["f"]
    assert call.code() == grpc.StatusCode.OK
    wait_until(lambda: bus.stats()["subscribers"] == 0)


def test_service_cancel_unsubscribes(serve):
    bus, stub = serve()
    calls = [open_stream(bus, stub, subscribers_before=n) for n in range(2)]
    calls[0].cancel()
    wait_until(lambda: bus.stats()["subscribers"] == 1)
    calls[1].cancel()
    wait_until(lambda: bus.stats()["subscribers"] == 0)


def test_service_resume_after_disconnect(serve):
    bus, stub = serve()
    call = open_stream(bus, stub, customer_id="c1")
    for n in range(1, 4):
        bus.publish(make_action(str(n)))
    last_seen = take(call, 2)[-1].sequence
    call.cancel()
    wait_until(lambda: bus.stats()["subscribers"] == 0)
    for n in range(4, 7):
        bus.publish(make_action(str(n), customer="c1" if n != 5 else "c9"))
    resumed = open_stream(bus, stub, customer_id="c1", resume_after=last_seen)
    bus.publish(make_action("7"))
    assert [(r.sequence, r.action.action_id) for r in take(resumed, 4)] == [(3, "3"), (4, "4"), (6, "6"), (7, "7")]
    resumed.cancel()


def test_service_many_subscribers(serve):
    bus, stub = serve()
    sessions = [f"s{n % 4}" for n in range(20)]
    calls = [open_stream(bus, stub, subscribers_before=n, session_id=s) for n, s in enumerate(sessions)]
    calls.append(open_stream(bus, stub, subscribers_before=20))
    for n in range(40):
        bus.publish(make_action(str(n), session=f"s{n % 4}"))
    readers = [in_thread(lambda c=c: take(c, 10)) for c in calls[:-1]]
    readers.append(in_thread(lambda: take(calls[-1], 40)))
    for (thread, outcome), session in zip(readers, sessions + [None]):
        thread.join(WAIT)
        expected = [str(n) for n in range(40) if session in (None, f"s{n % 4}")]
        assert ids(outcome[0]) == expected
    for call in calls:
        call.cancel()
    wait_until(lambda: bus.stats()["subscribers"] == 0)


def test_service_stalled_subscriber_never_slows_publishing(serve):
    bus, stub = serve(queue_size=100)
    stalled = open_stream(bus, stub)  # never read until the publisher is done
    # Sizeable messages, so the server's sending thread is far slower than the publisher, as with a real client.
    action = make_action("hot", type=T.ACTION_TYPE_NOTIFY)
    action.notify.message = "x" * 4096
    publisher, outcome = in_thread(lambda: [bus.publish(action) for _ in range(100_000)])
    publisher.join(WAIT)
    # Normally well under a second; a publisher that waited for the stalled stream would never end.
    assert not publisher.is_alive(), "publishing 100k events was held up by a stalled subscriber"
    assert outcome[0][-1] == 100_000
    assert bus.stats() == {"published": 100_000, "subscribers": 0, "dropped": 1, "retained": 10_000}

    received = []
    with pytest.raises(grpc.RpcError) as raised:
        for response in stalled:
            received.append(response)
    *actions, gap = received
    delivered = len(actions)
    assert [r.sequence for r in actions] == list(range(1, delivered + 1))
    assert gap.sequence == delivered
    assert gap.gap.first_missed == delivered + 1
    # The gap reaches as far as the log had got when the stream ran dry.
    assert delivered < gap.gap.last_missed <= 100_000
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert raised.value.details() == (
        f"subscriber fell behind: events {delivered + 1}..{gap.gap.last_missed} dropped; "
        f"resume with resume_after={delivered}")


def test_service_shutdown_ends_streams_with_unavailable(serve):
    bus, stub = serve()
    call = open_stream(bus, stub)
    bus.publish(make_action("a"))
    assert ids(take(call, 1)) == ["a"]
    bus.close()
    with pytest.raises(grpc.RpcError) as raised:
        list(call)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "resume with resume_after=1" in raised.value.details()
