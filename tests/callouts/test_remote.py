"""Remote callouts against the example CalloutService running in separate processes."""

import socket
import threading
import time

import pytest

from segflow.v1 import session_pb2, value_pb2

from segflow.server.callouts import CalloutRegistry
from segflow.server.callouts.example_server import CALLOUTS
from segflow.server.callouts.remote import audience_proto

from .helpers import FakeClock, definition, example_server


@pytest.fixture(scope="module")
def plain_server():
    yield from example_server()


@pytest.fixture(scope="module")
def slow_server():
    """stock_level answers after 3 s; credit_score fails with UNAVAILABLE."""
    yield from example_server("--delay-ms", "3000", "--slow", "stock_level", "--fail", "credit_score")


def test_remote_value_comes_from_the_other_process_and_is_cached(plain_server):
    defs = [definition("stock_level", target=plain_server, timeout=5)]
    with CalloutRegistry.from_definitions(defs) as registry:
        assert registry.call_with_outcome("stock_level", ("SKU-42",)) == (CALLOUTS["stock_level"]("SKU-42"), "miss")
        assert registry.call_with_outcome("stock_level", ("SKU-42",))[1] == "hit"
        assert registry.call("stock_level", (None,)) is None
        assert registry.stats()["stock_level"]["miss"] == 2


def test_audience_and_session_are_sent(plain_server):
    audience = session_pb2.Audience(level="Customer")
    audience.id_fields["customer_id"].CopyFrom(value_pb2.Value(string_value="C-7"))
    defs = [definition("credit_score", target=plain_server, timeout=5)]
    with CalloutRegistry.from_definitions(defs) as registry:
        value = registry.call("credit_score", ("C-7",), audience=audience, session_id="s-1")
    assert 300 <= value <= 850 and value == CALLOUTS["credit_score"]("C-7")


def test_audience_like_objects_convert_python_id_fields():
    class Audience:
        level = "Customer"
        id_fields = {"customer_id": 17, "email": value_pb2.Value(string_value="a@b.c")}

    class Session:
        audience_level = "Customer"
        audience_ids = Audience.id_fields

    for audience in (Audience(), Session()):
        proto = audience_proto(audience)
        assert proto.level == "Customer"
        assert proto.id_fields["customer_id"].int_value == 17
        assert proto.id_fields["email"].string_value == "a@b.c"


def test_remote_timeout_returns_the_default_within_a_bound(slow_server):
    defs = [definition("stock_level", target=slow_server, timeout=0.1, default=0)]
    with CalloutRegistry.from_definitions(defs) as registry:
        started = time.monotonic()
        assert registry.call_with_outcome("stock_level", ("SKU-1",)) == (0, "timeout")
        assert time.monotonic() - started < 1.5


def test_remote_failures_open_the_breaker(slow_server):
    clock = FakeClock()
    failing = definition(
        "credit_score", target=slow_server, timeout=5, default=600, breaker_failures=2, breaker_reset=30
    )
    with CalloutRegistry.from_definitions([failing], clock=clock) as registry:
        outcomes = [registry.call_with_outcome("credit_score", (f"C-{i}",)) for i in range(3)]
        assert outcomes == [(600, "error"), (600, "error"), (600, "breaker_open")]
    assert registry.breaker_states() == {"credit_score": "open"}


def test_unknown_remote_name_and_unreachable_target_are_errors(plain_server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    defs = [
        definition("not_served", target=plain_server, timeout=5, default="d"),
        definition("nobody_home", target=f"127.0.0.1:{closed_port}", timeout=5, default="d"),
    ]
    with CalloutRegistry.from_definitions(defs) as registry:
        assert registry.call_with_outcome("not_served", ("x",)) == ("d", "error")
        assert registry.call_with_outcome("nobody_home", ("x",)) == ("d", "error")


def test_a_slow_remote_callout_does_not_delay_another_name(slow_server, plain_server):
    defs = [
        definition("stock_level", target=slow_server, timeout=2.5, max_concurrency=8),
        definition("credit_score", target=plain_server, timeout=5, cache_ttl=0),
    ]
    with CalloutRegistry.from_definitions(defs) as registry:
        registry.call("credit_score", ("warm-up",))
        slow = [threading.Thread(target=registry.call, args=("stock_level", (f"SKU-{i}",))) for i in range(6)]
        for thread in slow:
            thread.start()
        worst = 0.0
        for i in range(10):
            started = time.monotonic()
            assert registry.call_with_outcome("credit_score", (f"C-{i}",))[1] == "miss"
            worst = max(worst, time.monotonic() - started)
        for thread in slow:
            thread.join(10)
        assert registry.stats()["stock_level"]["timeout"] == 6
    assert worst < 1.0  # a local round trip takes milliseconds; stock_level is held for 2.5 s
