"""The bounds around every callout: timeout, deadline, cache, single flight, breaker, concurrency, isolation.

Plugins here block on an event the test controls, so nothing depends on sleeping for the right time; the
few wall-clock bounds are far above noise (a 0.1 s timeout must return within 1.5 s).
"""

import gc
import threading
import time
from datetime import datetime, timezone

import pytest

from segflow.server.callouts import CalloutRegistry
from segflow.server.callouts.bounded import _cache_key

from .helpers import Control, FakeClock, controlled_plugin, definition


@pytest.fixture
def make_registry():
    """Build registries over controlled plugins; unblock and close them all at teardown."""
    made: list[tuple[CalloutRegistry, list[Control]]] = []

    def make(*defs, clock=time.monotonic):
        controls = [Control() for _ in defs]
        plugins = {d.plugin: controlled_plugin(c, d.arity) for d, c in zip(defs, controls)}
        registry = CalloutRegistry.from_definitions(defs, clock=clock, plugins=plugins)
        made.append((registry, controls))
        return (registry, *controls)

    yield make
    for registry, controls in made:
        for control in controls:
            control.release.set()
        registry.close()


def _in_thread(function, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=function, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def _wait_entered(control: Control, times: int = 1) -> None:
    for _ in range(times):
        assert control.entered.acquire(timeout=10), "the plugin was never called"


def test_timeout_returns_the_default_within_a_bound(make_registry):
    registry, control = make_registry(definition("slow", plugin="slow", timeout=0.1, default="fallback"))
    control.release.clear()
    started = time.monotonic()
    assert registry.call_with_outcome("slow", ("x",)) == ("fallback", "timeout")
    assert time.monotonic() - started < 1.5
    assert registry.stats()["slow"]["timeout"] == 1


def test_caller_deadline_caps_the_timeout(make_registry):
    registry, control = make_registry(definition("slow", plugin="slow", timeout=30, default=-1))
    control.release.clear()
    started = time.monotonic()
    assert registry.call_with_outcome("slow", ("x",), deadline=started + 0.1) == (-1, "timeout")
    assert time.monotonic() - started < 1.5
    # A deadline already past does not even call the plugin.
    assert registry.call_with_outcome("slow", ("y",), deadline=time.monotonic() - 1) == (-1, "timeout")
    assert control.calls == 1


def test_second_call_is_served_from_the_cache_until_the_ttl_expires(make_registry):
    clock = FakeClock()
    registry, control = make_registry(definition("tier", plugin="tier", cache_ttl=60), clock=clock)
    assert registry.call_with_outcome("tier", ("a",)) == ("value:a", "miss")
    assert registry.call_with_outcome("tier", ("a",)) == ("value:a", "hit")
    assert control.calls == 1
    assert registry.call_with_outcome("tier", ("b",)) == ("value:b", "miss")
    assert registry.call_with_outcome("tier", (["a"],))[1] == "miss"  # a list argument is its own key
    clock.advance(61)
    assert registry.call_with_outcome("tier", ("a",)) == ("value:a", "miss")
    assert control.calls == 4


def test_equal_but_differently_typed_arguments_are_cached_apart(make_registry):
    registry, control = make_registry(definition("tier", plugin="tier"))
    assert [registry.call_with_outcome("tier", (arg,))[1] for arg in (1, 1.0, True, 1)] == ["miss"] * 3 + ["hit"]
    lists = ([1], [1.0], [True], [1], [[1]], [[1.0]], [[1]])
    assert [registry.call_with_outcome("tier", (arg,))[1] for arg in lists] == ["miss"] * 3 + ["hit"] + ["miss"] * 2 + [
        "hit"]


def test_cache_keys_of_scalar_arguments_are_not_tracked_by_the_collector():
    """Keys were (types, args): nested tuples, three collector-tracked objects per entry of a 10,000-entry cache
    until a collection untracked them. A key of scalars holds no tracked object, so it is untracked at its first
    collection, and 1, 1.0 and True are still three keys."""
    arguments = [(1,), (1.0,), (True,), ("a", None, 2.5, datetime(2026, 1, 1, tzinfo=timezone.utc))]
    keys = [_cache_key(args) for args in arguments]
    assert not [item for key in keys for item in key if gc.is_tracked(item)]
    gc.collect()
    assert not [key for key in keys if gc.is_tracked(key)]
    assert len(set(keys[:3])) == 3
    assert _cache_key((1,)) == keys[0] and _cache_key(([1],)) != keys[0]


def test_zero_ttl_disables_the_cache(make_registry):
    registry, control = make_registry(definition("fresh", plugin="fresh", cache_ttl=0))
    assert [registry.call_with_outcome("fresh", ("a",))[1] for _ in range(2)] == ["miss", "miss"]
    assert control.calls == 2


def test_failures_are_not_cached(make_registry):
    registry, control = make_registry(definition("flaky", plugin="flaky", default="d"))
    control.fail = True
    assert registry.call_with_outcome("flaky", ("a",)) == ("d", "error")
    control.fail = False
    assert registry.call_with_outcome("flaky", ("a",)) == ("value:a", "miss")


def test_concurrent_identical_calls_share_one_in_flight_call(make_registry):
    registry, control = make_registry(definition("tier", plugin="tier", timeout=10))
    control.release.clear()
    results = []
    threads = [_in_thread(lambda: results.append(registry.call_with_outcome("tier", ("a",))))]
    _wait_entered(control)
    threads += [_in_thread(lambda: results.append(registry.call_with_outcome("tier", ("a",)))) for _ in range(7)]
    time.sleep(0.2)  # let the followers find the call in flight (if late, they hit the cache: same counts)
    control.release.set()
    for thread in threads:
        thread.join(10)
    assert control.calls == 1
    assert sorted(outcome for _, outcome in results).count("miss") == 1
    assert {value for value, _ in results} == {"value:a"} and len(results) == 8
    stats = registry.stats()["tier"]
    assert stats["miss"] == 1 and stats["shared"] + stats["hit"] == 7


def test_breaker_opens_after_n_failures_and_closes_after_a_successful_trial(make_registry):
    clock = FakeClock()
    registry, control = make_registry(
        definition("score", plugin="score", default=0, cache_ttl=0, breaker_failures=3, breaker_reset=10),
        clock=clock,
    )
    control.fail = True
    assert [registry.call_with_outcome("score", ("a",))[1] for _ in range(3)] == ["error"] * 3
    assert registry.breaker_states() == {"score": "open"}
    assert registry.call_with_outcome("score", ("a",)) == (0, "breaker_open")
    assert control.calls == 3

    clock.advance(10)  # half-open: one trial, which fails and opens the breaker again
    assert registry.breaker_states() == {"score": "half_open"}
    assert registry.call_with_outcome("score", ("a",)) == (0, "error")
    assert registry.call_with_outcome("score", ("a",)) == (0, "breaker_open")
    assert control.calls == 4

    clock.advance(10)
    control.fail = False
    assert registry.call_with_outcome("score", ("a",)) == ("value:a", "miss")
    assert registry.breaker_states() == {"score": "closed"}
    assert [registry.call_with_outcome("score", ("a",))[1] for _ in range(3)] == ["miss"] * 3
    assert registry.stats()["score"] == {
        "hit": 0, "miss": 4, "shared": 0, "timeout": 0, "error": 4, "breaker_open": 2, "rejected": 0
    }


def test_timeouts_count_as_breaker_failures(make_registry):
    registry, control = make_registry(
        definition("slow", plugin="slow", timeout=0.05, breaker_failures=2, max_concurrency=4)
    )
    control.release.clear()
    outcomes = [registry.call_with_outcome("slow", (i,))[1] for i in range(3)]
    assert outcomes == ["timeout", "timeout", "breaker_open"]


def test_concurrency_limit_rejects_at_once_when_saturated(make_registry):
    registry, control = make_registry(definition("tier", plugin="tier", timeout=10, max_concurrency=2, default="busy"))
    control.release.clear()
    threads = [_in_thread(registry.call, "tier", (i,)) for i in range(2)]
    _wait_entered(control, 2)
    started = time.monotonic()
    assert registry.call_with_outcome("tier", ("third",)) == ("busy", "rejected")
    assert time.monotonic() - started < 1.0
    control.release.set()
    for thread in threads:
        thread.join(10)
    assert registry.call_with_outcome("tier", ("third",)) == ("value:third", "miss")
    assert control.calls == 3


def test_a_timed_out_plugin_call_keeps_its_slot_until_it_returns(make_registry):
    # 0.5 s leaves the pool ample time to start the call even on a loaded machine.
    registry, control = make_registry(definition("tier", plugin="tier", timeout=0.5, max_concurrency=1))
    control.release.clear()
    assert registry.call_with_outcome("tier", ("a",))[1] == "timeout"
    _wait_entered(control)
    assert registry.call_with_outcome("tier", ("b",))[1] == "rejected"  # the stuck call still runs
    control.release.set()
    deadline = time.monotonic() + 10
    while registry.call_with_outcome("tier", ("c",))[1] != "miss":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_slow_callout_does_not_delay_another(make_registry):
    registry, slow, fast = make_registry(
        definition("slow", plugin="slow", timeout=5, max_concurrency=4), definition("fast", plugin="fast", cache_ttl=0)
    )
    slow.release.clear()
    threads = [_in_thread(registry.call, "slow", (i,)) for i in range(4)]
    _wait_entered(slow, 4)
    worst = 0.0
    for i in range(20):
        started = time.monotonic()
        assert registry.call("fast", (i,)) == f"value:{i}"
        worst = max(worst, time.monotonic() - started)
    assert worst < 0.5  # a plugin call takes microseconds; the slow one blocks for 5 s
    slow.release.set()
    for thread in threads:
        thread.join(10)


def test_unknown_name_and_wrong_argument_count_are_programming_errors(make_registry):
    registry, _ = make_registry(definition("tier", plugin="tier"))
    with pytest.raises(KeyError):
        registry.call("nope", ("a",))
    with pytest.raises(TypeError, match="takes 1 argument.*, got 2"):
        registry.call("tier", ("a", "b"))


def test_the_result_cache_expires_each_value_after_its_ttl_and_evicts_the_oldest_beyond_its_size():
    from segflow.server.callouts.bounded import _NOT_CACHED, ResultCache

    clock = FakeClock()
    cache = ResultCache(2, 10, clock)
    cache.put(("a",), 1)
    clock.advance(5)
    cache.put(("b",), 2)
    assert cache.get(("a",)) == 1 and cache.get(("b",)) == 2
    clock.advance(5)  # "a" is 10 s old: expired
    assert cache.get(("a",)) is _NOT_CACHED and cache.get(("b",)) == 2
    cache.put(("c",), 3)
    cache.put(("b",), 20)  # stored again: newest, with a fresh TTL
    cache.put(("d",), 4)  # over the size of 2: "c", now the oldest, goes
    assert [cache.get((k,)) for k in "bcd"] == [20, _NOT_CACHED, 4]
    clock.advance(9.5)
    assert cache.get(("b",)) == 20
