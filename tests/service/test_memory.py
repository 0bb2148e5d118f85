"""Customer memory over a real channel: profiles across visits (SQLite and PostgreSQL), the merge at login,
windowed counts and patterns with a moving clock, per-customer offer caps, and ForgetCustomer."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import grpc
import pytest
from segflow.v1 import (action_pb2, decision_service_pb2 as pb, decision_service_pb2_grpc, ruleset_service_pb2 as admin_pb,
                        ruleset_service_pb2_grpc, session_pb2)

from segflow.rules.values import from_value
from segflow.server.app import create_service
from segflow.server.profiles.example_server import MEMBER_SINCE, profile_of
from tests.callouts.helpers import example_server
from tests.history.conftest import postgres_target, sqlite_target  # noqa: F401 (fixtures)
from tests.sessions.conftest import prefix, redis_client, redis_cluster, redis_url  # noqa: F401 (fixtures)
from tests.service.calls import attributes, event, offers, rpc_error, start, values
from tests.service.memory_ruleset import MEMORY_RULESET


def customer(customer_id: str) -> session_pb2.Audience:
    return session_pb2.Audience(level="Customer", id_fields=values(customer_id=customer_id))


class Client:
    """Both stubs of one running service (in this process, or None: a `segflow serve` of its own)."""

    def __init__(self, channel: grpc.Channel, service=None):
        self.service = service
        self.target = f"127.0.0.1:{service.port}" if service is not None else ""
        self.decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
        self.admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)

    def session(self, session_id: str):
        return self.decisions.GetSession(pb.GetSessionRequest(session_id=session_id)).session

    def visit(self, session_id: str, customer_id: str | None = None):
        """Start a visit (identified when a customer id is given); returns the StartSession response."""
        return self.decisions.StartSession(start(session_id, customer=customer_id))

    def profile(self, customer_id: str) -> pb.GetProfileResponse:
        return self.decisions.GetProfile(pb.GetProfileRequest(audience=customer(customer_id)))


@contextmanager
def running(config, clock, ruleset: str = MEMORY_RULESET):
    """A service with the memory ruleset deployed; stopping it flushes history and profiles."""
    service = create_service(config, clock)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            client = Client(channel, service)
            client.admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=ruleset)))
            yield client
    finally:
        service.stop(grace=1)


@pytest.fixture
def memory(config, clock):
    with running(config, clock) as client:
        yield client


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_second_visit_sees_the_profile_written_in_the_first(request, config, clock, database):
    target = request.getfixturevalue(f"{database}_target")
    config = replace(config, history_url=target.url)
    with running(config, clock) as client:  # visit 1, then the server stops (profiles are flushed)
        client.visit("v1", "c-1")
        client.decisions.PostEvent(event("v1", "view", category="shoes"))
        client.decisions.PostEvent(event("v1", "join", tier="gold"))
    clock.advance(days=3)
    with running(config, clock) as client:  # a new process: the profile comes from the database
        client.visit("v2", "c-1")
        remembered = attributes(client.session("v2"))
        assert (remembered["favourite"], remembered["tier"]) == ("shoes", "gold")
        assert remembered["seen_at"] == datetime(2026, 3, 1, 12, 0, tzinfo=clock.now.tzinfo)  # typed again
        assert attributes(client.session(client.visit("v3").session.session_id))["tier"] == "unknown"
        profile = client.profile("c-1")
        assert profile.found and profile.profile.customer_id == "customer_id=c-1"
        assert from_value(profile.profile.attributes["favourite"]) == "shoes"
    rows = target.read("SELECT audience_level, customer_id FROM profiles")
    assert rows == [("Customer", "customer_id=c-1")]


def test_anonymous_visit_counts_and_profile_merge_into_the_customers_at_login(memory):
    memory.visit("first", "c-2")
    memory.decisions.PostEvent(event("first", "join", tier="silver"))
    memory.decisions.PostEvent(event("first", "view", category="books"))
    memory.decisions.PostEvent(event("first", "purchase", amount=10.0))
    memory.decisions.EndSession(pb.EndSessionRequest(session_id="first"))

    memory.visit("anon")  # the same person, not logged in yet
    memory.decisions.PostEvent(event("anon", "view", category="toys"))
    memory.decisions.PostEvent(event("anon", "purchase", amount=20.0))
    memory.decisions.PostEvent(event("anon", "purchase", amount=30.0))
    assert "buyers" not in memory.session("anon").segments  # Visitors have no such segment
    login = memory.decisions.PostEvent(pb.PostEventRequest(session_id="anon", event=session_pb2.Event(
        name="login", audience=customer("c-2"))))
    merged = attributes(memory.session("anon"))
    assert merged["favourite"] == "toys"   # the visit changed it: the visit wins
    assert merged["tier"] == "silver"      # the visit did not: the stored profile wins
    assert merged["spent"] == 50.0         # the visit changed it (0 + 20 + 30)
    assert merged["who"] == "c-2@Customer"  # audience.customer_id is the id field itself
    assert {"buyers", "regulars"} <= set(login.segments_entered)  # 1 stored + 2 anonymous purchases
    fired = [a.rule_id for a in login.actions if a.type == action_pb2.ACTION_TYPE_NOTIFY]
    assert fired == ["regular-customer"]  # the merge made the pattern met: its rule fires at login
    profile = memory.profile("c-2").profile
    assert {e.event_name: e.count for e in profile.events} == {"purchase": 3, "view": 2}
    # the merge is written: a later visit on another device sees it
    memory.visit("phone", "c-2")
    assert "regulars" in memory.session("phone").segments


def test_windowed_count_and_pattern_across_three_visits_with_a_moving_clock(memory, clock):
    fired = []
    for day, session_id in ((0, "day0"), (10, "day10"), (20, "day20")):
        clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=clock.now.tzinfo) + timedelta(days=day)
        memory.visit(session_id, "c-3")
        response = memory.decisions.PostEvent(event(session_id, "purchase", amount=5.0))
        fired.append([a.rule_id for a in response.actions if a.type == action_pb2.ACTION_TYPE_NOTIFY])
        segments = set(memory.session(session_id).segments)
        assert ("buyers" in segments) == (day >= 10)
        memory.decisions.EndSession(pb.EndSessionRequest(session_id=session_id))
    assert fired == [[], [], ["regular-customer"]]  # met on the third purchase in 30 days, fired once
    # 3 purchases weigh 15 >= 10 within big_fan's fixed dates
    assert memory.profile("c-3").profile.patterns_met == ["big_fan", "regular"]
    clock.advance(days=40)  # day 60: the earlier purchases are out of the window
    memory.visit("day60", "c-3")
    again = memory.decisions.PostEvent(event("day60", "purchase", amount=5.0))
    assert not [a for a in again.actions if a.type == action_pb2.ACTION_TYPE_NOTIFY]
    assert not {"buyers", "regulars"} & set(memory.session("day60").segments)
    # regular is no longer met (it may fire again later); big_fan's range is fixed, so it stays met
    assert memory.profile("c-3").profile.patterns_met == ["big_fan"]


def test_per_customer_cap_and_suppression_across_visits(memory, clock):
    def offered(session_id: str) -> list[str]:
        lists = memory.decisions.GetOffers(offers(session_id, ("home", 2)))
        return [o.code for o in lists.offer_lists[0].offers]

    def show(session_id: str, code: str) -> None:
        treatment = next(o.treatment_code for o in memory.session(session_id).last_recommended_offers
                         if o.code == code)
        memory.decisions.PostEvent(event(session_id, "offer_shown", treatment_code=treatment))

    for visit in ("monday", "tuesday"):
        memory.visit(visit, "c-4")
        assert offered(visit) == ["CAPPED", "ONCE"]
        show(visit, "CAPPED")
        clock.advance(days=1)
    memory.visit("wednesday", "c-4")
    assert offered("wednesday") == ["ONCE"]  # shown twice this week, in two earlier visits
    treatment = memory.session("wednesday").last_recommended_offers[0].treatment_code
    memory.decisions.PostEvent(event("wednesday", "offer_click", treatment_code=treatment))
    clock.advance(days=7)  # the contacts leave the 7-day window; the acceptance suppresses for 30 days
    memory.visit("next-week", "c-4")
    assert offered("next-week") == ["CAPPED"]
    assert offered("next-week") == ["CAPPED"]  # session-only counting still applies to what is not remembered
    clock.advance(days=31)
    memory.visit("next-month", "c-4")
    assert offered("next-month") == ["CAPPED", "ONCE"]
    memory.visit("someone-else", "c-5")
    assert offered("someone-else") == ["CAPPED", "ONCE"]


def test_forget_customer_leaves_no_row(config, clock):
    with running(config, clock) as client:
        client.visit("gone", "c-6")
        client.decisions.PostEvent(event("gone", "view", category="garden"))
        lists = client.decisions.GetOffers(offers("gone", ("home", 1)))
        client.decisions.PostEvent(event("gone", "offer_shown", treatment_code=lists.offer_lists[0].offers[0].treatment_code))
        client.decisions.EndSession(pb.EndSessionRequest(session_id="gone"))
        client.visit("kept", "c-7")
        client.decisions.PostEvent(event("kept", "view", category="garden"))
        erased = client.admin.ForgetCustomer(admin_pb.ForgetCustomerRequest(audience=customer("c-6"), reason="request"))
        assert erased.profiles_deleted == 1 and erased.history_rows_deleted >= 2  # the contact and the summary
        assert not client.profile("c-6").found and client.profile("c-7").found
        _, fields, reason = rpc_error(client.admin.ForgetCustomer, admin_pb.ForgetCustomerRequest(
            audience=session_pb2.Audience(level="Customer")), code=grpc.StatusCode.INVALID_ARGUMENT)
        assert "audience.id_fields" in fields
    with sqlite3.connect(config.data_dir / "history.db") as db:
        for table in ("profiles", "contacts", "responses", "data_rows", "journey_steps", "session_summaries"):
            assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE customer_id = 'customer_id=c-6'").fetchone() == (0,)
        assert db.execute("SELECT customer_id FROM profiles").fetchall() == [("customer_id=c-7",)]


def test_regression_forget_customer_erases_the_journeys_of_a_live_session(config, clock):
    from segflow.server.examples import EXAMPLE_RULESET

    with running(config, clock, EXAMPLE_RULESET) as client:
        client.visit("welcomed", "c-j")
        client.decisions.PostEvent(event("welcomed", "login", loyalty_tier="gold"))
        assert [journey.journey for journey in client.session("welcomed").journeys] == ["vip_welcome"]
        client.admin.ForgetCustomer(admin_pb.ForgetCustomerRequest(audience=customer("c-j"), reason="request"))
        assert not client.session("welcomed").journeys


def _with_source(target: str, timeout: str = "2s") -> str:
    return MEMORY_RULESET + f"""
profile_sources:
  - {{audience_level: Customer, target: "{target}", timeout: {timeout}, cache_ttl: 0s}}
"""


@pytest.fixture
def profile_server():
    yield from example_server("--delay-ms", "1500", "--slow", "customer_id=c-slow",
                              module="segflow.server.profiles.example_server")


def test_a_remote_profile_service_in_another_process_fills_the_profile_and_times_out_to_the_default(
        config, clock, profile_server):
    with running(config, clock, _with_source(profile_server, timeout="300ms")) as client:
        filled = client.visit("fast", "c-8")
        assert not [a for a in filled.advisories if a.code.startswith("profile_source")]
        values_now = attributes(client.session("fast"))
        assert values_now["tier"] == profile_of("customer_id=c-8")["tier"]
        assert values_now["member_since"] == MEMBER_SINCE
        slow = client.visit("slow", "c-slow")
        assert [a.code for a in slow.advisories] == ["profile_source_timeout"]
        assert attributes(client.session("slow"))["tier"] == "unknown"  # the default


def test_loading_a_profile_does_not_block_other_sessions(config, clock, profile_server):
    with running(config, clock, _with_source(profile_server)) as client:
        loading = client.decisions.StartSession.future(start("waits", customer="c-slow"))
        client.visit("other")
        for n in range(3):
            client.decisions.PostEvent(event("other", "view", category=f"c{n}"))
        assert not loading.done()  # still waiting for its profile while the other visit went on
        assert attributes(client.session("other"))["favourite"] == "c2"
        assert loading.result(timeout=10).session.audience.level == "Customer"
        assert attributes(client.session("waits"))["tier"] == profile_of("customer_id=c-slow")["tier"]


def test_segflow_forget_erases_a_customer_of_a_running_server(capsys, config, clock):
    from segflow.server.cli import main

    with running(config, clock) as client:
        client.visit("cli", "c-9")
        client.decisions.PostEvent(event("cli", "view", category="pets"))
        client.decisions.EndSession(pb.EndSessionRequest(session_id="cli"))
        assert client.profile("c-9").found
        target = ["--target", client.target]
        assert main(["forget", *target, "--id", "customer_id=c-9", "--reason", "asked to"]) == 0
        assert "forgot customer_id=c-9 (Customer): 1 profile(s), 1 history row(s)" in capsys.readouterr().out
        assert not client.profile("c-9").found
        assert main(["forget", *target, "--id", "nonsense"]) == 2
        assert main(["forget", *target, "--level", "Customer", "--id", "shoe_size=9"]) == 1
        assert "INVALID_ARGUMENT" in capsys.readouterr().err


def test_profiles_unused_for_the_retention_period_are_purged_and_logged(caplog, config, clock):
    with running(replace(config, profile_retention_days=30), clock) as client:
        for name, days in (("old", 0), ("recent", 20)):
            clock.advance(days=days)
            client.visit(name, f"c-{name}")
            client.decisions.PostEvent(event(name, "view", category="x"))
        client.service.profiles.writer.flush(timeout=10)
        clock.advance(days=15)  # "old" last changed 35 days ago, "recent" 15
        with caplog.at_level("INFO", logger="segflow.server.profiles.store"):
            client.service.purge()
        assert "purged 1 profile(s)" in caplog.text
        assert not client.profile("c-old").found and client.profile("c-recent").found


def test_two_replicas_on_redis_and_postgresql_share_a_visit_and_the_customers_memory(config, clock, redis_url, prefix,
                                                                                      postgres_target):
    shared = replace(config, sessions_url=f"{redis_url}?prefix={prefix}", history_url=postgres_target.url)
    with running(shared, clock) as one, running(replace(shared, data_dir=config.data_dir / "two"), clock) as two:
        one.visit("before", "c-10")
        one.decisions.PostEvent(event("before", "purchase", amount=1.0))
        one.decisions.EndSession(pb.EndSessionRequest(session_id="before"))
        assert one.service.profiles.writer.flush(timeout=10)  # written within 0.2 s; here, at once
        one.visit("roaming")  # anonymous, on replica one
        one.decisions.PostEvent(event("roaming", "view", category="hats"))
        two.decisions.PostEvent(event("roaming", "purchase", amount=2.0))  # same visit, replica two
        login = two.decisions.PostEvent(pb.PostEventRequest(session_id="roaming", event=session_pb2.Event(
            name="login", audience=customer("c-10"))))
        assert "buyers" in login.segments_entered  # 1 purchase before + 1 in this visit, across replicas
        assert attributes(one.session("roaming"))["favourite"] == "hats"
    rows = postgres_target.read("SELECT customer_id, memory FROM profiles")
    assert [r[0] for r in rows] == ["customer_id=c-10"]
    assert sum(bucket[0] for bucket in rows[0][1]["counters"]["purchase"].values()) == 2


def test_set_audience_recalls_the_profile_and_get_profile_refuses_bad_audiences(memory):
    memory.visit("known", "c-11")
    memory.decisions.PostEvent(event("known", "join", tier="platinum"))
    memory.visit("later")
    identified = memory.decisions.SetAudience(pb.SetAudienceRequest(session_id="later", audience=customer("c-11")))
    assert from_value(identified.session.attributes["tier"]) == "platinum"
    _, fields, reason = rpc_error(memory.decisions.GetProfile, pb.GetProfileRequest(
        audience=session_pb2.Audience(level="Custmer", id_fields=values(customer_id="c-11"))),
        code=grpc.StatusCode.INVALID_ARGUMENT)
    assert reason == "UNKNOWN_AUDIENCE_LEVEL" and "did you mean 'Customer'" in fields["audience.level"]
    _, fields, _ = rpc_error(memory.decisions.GetProfile, pb.GetProfileRequest(
        audience=session_pb2.Audience(level="Customer", id_fields=values(shoe_size=9))),
        code=grpc.StatusCode.INVALID_ARGUMENT)
    assert "audience.id_fields.shoe_size" in fields
    missing = memory.profile("c-nobody")
    assert not missing.found and missing.profile.customer_id == "customer_id=c-nobody"


def _events(profile: pb.GetProfileResponse) -> dict[str, int]:
    return {e.event_name: e.count for e in profile.profile.events}


def _flush(*clients: Client) -> None:
    for client in clients:
        assert client.service.profiles.writer.flush(timeout=10)


def _remembered_nothing_erased(profile: pb.GetProfileResponse) -> None:
    """What the erased visit did before the erasure (tier gold, 100 spent, a purchase) is not in `profile`."""
    remembered = {name: from_value(value) for name, value in profile.profile.attributes.items()}
    assert remembered.get("tier") != "gold" and remembered.get("spent") in (None, 0.0, 5.0)
    assert _events(profile).get("purchase", 0) <= 1 and _events(profile).get("view", 0) <= 1


def _before_the_erasure(client: Client, session_id: str, customer_id: str) -> None:
    client.visit(session_id, customer_id)
    client.decisions.PostEvent(event(session_id, "join", tier="gold"))
    client.decisions.PostEvent(event(session_id, "purchase", amount=100.0))
    _flush(client)
    assert client.profile(customer_id).found


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_forget_customer_reaches_a_live_session_which_writes_nothing_erased_back(request, config, clock, database):
    config = replace(config, history_url=request.getfixturevalue(f"{database}_target").url)
    with running(config, clock) as client:
        _before_the_erasure(client, "live", "c-live")
        client.admin.ForgetCustomer(admin_pb.ForgetCustomerRequest(audience=customer("c-live"), reason="asked"))
        client.decisions.PostEvent(event("live", "view", category="hats"))  # the visit goes on
        after = attributes(client.session("live"))
        assert (after["tier"], after["spent"], after["favourite"]) == ("unknown", 0.0, "hats")  # dropped at once
        _flush(client)
        profile = client.profile("c-live")
        _remembered_nothing_erased(profile)
        assert _events(profile) == {"view": 1}  # what the visit did after the erasure is a new profile
        client.decisions.PostEvent(event("live", "tally"))
        assert attributes(client.session("live"))["purchases"] == 0


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_forget_customer_on_another_replica_sharing_redis_sessions(request, config, clock, redis_url, prefix, database):
    target = request.getfixturevalue(f"{database}_target")
    shared = replace(config, sessions_url=f"{redis_url}?prefix={prefix}", history_url=target.url)
    with running(shared, clock) as one, running(replace(shared, data_dir=config.data_dir / "two"), clock) as two:
        _before_the_erasure(one, "roaming", "c-roam")
        two.admin.ForgetCustomer(admin_pb.ForgetCustomerRequest(audience=customer("c-roam")))
        # Replica one may not know yet (its sweep learns within seconds): this call may decide with what the
        # session loaded, but what it changes is not written back.
        one.decisions.PostEvent(event("roaming", "purchase", amount=5.0))
        _flush(one)
        for client in (one, two):
            _remembered_nothing_erased(client.profile("c-roam"))
        one.service.profiles.refresh(clock())  # what its sweeper does every few seconds
        two.decisions.PostEvent(event("roaming", "view", category="new"))
        assert attributes(two.session("roaming"))["tier"] == "unknown"
        _flush(one, two)
        for client in (one, two):
            profile = client.profile("c-roam")
            _remembered_nothing_erased(profile)
            assert from_value(profile.profile.attributes["favourite"]) == "new"


def test_forget_customer_reaches_a_live_session_on_every_worker_of_a_host(tmp_path):
    from tests.multiproc.conftest import start_host, stop_host

    host = start_host(tmp_path / "host")
    try:
        (_, to_a), (_, to_b) = host.channels_by_worker().items()
        a, b = Client(to_a), Client(to_b)
        a.admin.DeployRuleset(admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=MEMORY_RULESET)))
        a.visit("host-visit", "c-host")
        a.decisions.PostEvent(event("host-visit", "join", tier="gold"))
        a.decisions.PostEvent(event("host-visit", "purchase", amount=100.0))
        deadline = time.monotonic() + 30
        while not b.profile("c-host").found:  # worker a writes it within 0.2 s
            assert time.monotonic() < deadline
            time.sleep(0.1)
        b.admin.ForgetCustomer(admin_pb.ForgetCustomerRequest(audience=customer("c-host")))
        # Every worker of the host knows of the erasure when it returns: the visit goes on through worker a,
        # which drops what it had loaded at once.
        a.decisions.PostEvent(event("host-visit", "view", category="new"))
        assert attributes(a.session("host-visit"))["tier"] == "unknown"
        deadline = time.monotonic() + 30
        while "view" not in _events(b.profile("c-host")):  # worker a writes it within 0.2 s
            assert time.monotonic() < deadline
            time.sleep(0.1)
        for client in (a, b):
            profile = client.profile("c-host")
            _remembered_nothing_erased(profile)
            assert _events(profile) == {"view": 1}
    finally:
        host.close()
        assert stop_host(host) == 0, host.process.stderr.read()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_concurrent_visits_of_one_customer_on_two_replicas_are_all_counted(request, config, clock, database):
    target = request.getfixturevalue(f"{database}_target")
    config = replace(config, history_url=target.url)
    with running(config, clock) as one, running(replace(config, data_dir=config.data_dir / "two"), clock) as two:
        one.visit("laptop", "c-both")
        two.visit("phone", "c-both")
        for n in range(5):  # interleaved
            one.decisions.PostEvent(event("laptop", "purchase", amount=1.0))
            two.decisions.PostEvent(event("phone", "purchase", amount=1.0))
        one.decisions.PostEvent(event("laptop", "join", tier="silver"))  # an attribute: the later change wins
        clock.advance(seconds=1)
        two.decisions.PostEvent(event("phone", "join", tier="gold"))

        def buy(client: Client, session_id: str) -> None:
            for _ in range(10):
                client.decisions.PostEvent(event(session_id, "purchase", amount=1.0))

        threads = [threading.Thread(target=buy, args=pair) for pair in [(one, "laptop"), (two, "phone")] * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        _flush(one, two)
        for client in (one, two):
            assert _events(client.profile("c-both"))["purchase"] == 50
            assert from_value(client.profile("c-both").profile.attributes["tier"]) == "gold"
    with running(config, clock) as three:  # a new process: the windowed count reads the merged counters
        three.visit("tablet", "c-both")
        three.decisions.PostEvent(event("tablet", "tally"))
        assert attributes(three.session("tablet"))["purchases"] == 50


def test_windows_of_minutes_and_hours_and_a_pattern_over_one_hour(memory, clock):
    def buy(session_id: str) -> bool:  # each in a visit of its own: a visit idles out after 30 minutes
        memory.visit(session_id, "c-quick")
        response = memory.decisions.PostEvent(event(session_id, "purchase", amount=1.0))
        return "quick-buyer" in [a.rule_id for a in response.actions]

    def tally(session_id: str) -> tuple[int, int]:
        memory.visit(session_id, "c-quick")
        memory.decisions.PostEvent(event(session_id, "tally"))
        counted = attributes(memory.session(session_id))
        return counted["purchases"], counted["recent_purchases"]

    notified = [buy("first")]
    clock.advance(minutes=61)
    notified.append(buy("second"))  # the first left the hour
    clock.advance(minutes=39)
    notified.append(buy("third"))
    assert notified == [False, False, True]  # two purchases within an hour, on the third
    assert tally("now") == (3, 2)  # 90 minutes: the last two
    clock.advance(minutes=55)  # 155 minutes after the first: the second left the 90 minutes
    assert tally("later") == (3, 1)
    assert "quick_buyer" not in memory.profile("c-quick").profile.patterns_met  # it lapsed: nothing fired


def test_a_pattern_that_lapsed_as_its_window_slid_fires_again_on_the_event_that_meets_it_again(memory, clock):
    fired = []
    for minutes in (0, 30, 100, 110):  # met at 30, lapsed by 100 (nothing fires then), met again at 110
        clock.now = datetime(2026, 3, 1, 12, 0, tzinfo=clock.now.tzinfo) + timedelta(minutes=minutes)
        memory.visit(f"v{minutes}", "c-lapse")
        response = memory.decisions.PostEvent(event(f"v{minutes}", "purchase", amount=1.0))
        fired.append(bool([a for a in response.actions if a.rule_id == "quick-buyer"]))
    assert fired == [False, True, False, True]


def test_a_pattern_no_rule_listens_to_is_still_reported_when_met_at_the_trigger_depth_limit(config, clock):
    # Only patterns that fire something are checked around each event, except at the depth limit, where each
    # one met is reported as cut, as before.
    chained = MEMORY_RULESET.replace("settings: {", "settings: {max_trigger_depth: 1, ").replace(
        "\nrules:\n", "\nrules:\n  - {id: chain, 'on': [tally], then: [{trigger_events: {events: [purchase]}}]}\n")
    with running(config, clock, chained) as client:
        client.visit("deep", "c-deep")
        client.decisions.PostEvent(event("deep", "view", category="hats"))
        response = client.decisions.PostEvent(event("deep", "tally"))
    assert [a.message for a in response.advisories if a.code == "trigger_depth"] == [
        "pattern 'browser_and_buyer' met at the depth limit: its rules did not run"]
