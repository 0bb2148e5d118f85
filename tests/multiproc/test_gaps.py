"""Regression tests for the gaps of `segflow serve --processes N` found after it landed (issue 10), each named
after its gap, with real processes over real gRPC."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import urllib.request
from concurrent import futures

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc
from segflow.v1 import ruleset_service_pb2 as admin_pb, ruleset_service_pb2_grpc

from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.history.journal import Journal
from tests.history.conftest import data_row
from tests.multiproc.conftest import start_host, stop_host
from tests.service.calls import attributes, event, start
from tests.test_subscriptions import wait_until


def decisions(channel) -> decision_service_pb2_grpc.DecisionServiceStub:
    return decision_service_pb2_grpc.DecisionServiceStub(channel)


def deploy(channel, threshold: int, timeout: float = 60):
    text = EXAMPLE_RULESET.replace("cart_total >= 500", f"cart_total >= {threshold}")
    return ruleset_service_pb2_grpc.RulesetServiceStub(channel).DeployRuleset(
        admin_pb.DeployRulesetRequest(source=admin_pb.RulesetSource(yaml=text)), timeout=timeout)


def test_a_deploy_while_the_host_stops_returns_at_once_instead_of_waiting_for_the_announcement(tmp_path):
    host = start_host(tmp_path)
    (silent, _), (_, via) = host.channels_by_worker().items()
    os.kill(silent, signal.SIGSTOP)  # it cannot confirm the deploy: only the stop releases it
    try:
        with futures.ThreadPoolExecutor(1) as pool:
            deploying = pool.submit(deploy, via, 300)
            host.process.send_signal(signal.SIGTERM)
            try:
                outcome = deploying.result(timeout=15).version.version  # the announcement waited 30 s
            except grpc.RpcError as error:  # refused by a worker that had stopped taking calls: as fast
                outcome = error.code()
            assert outcome == grpc.StatusCode.UNAVAILABLE or outcome > 0
    finally:
        os.kill(silent, signal.SIGCONT)
    host.close()
    assert stop_host(host) == 0, host.process.stderr.read()


def journal_with(directory, session: str) -> None:
    """A journal holding one acknowledged record the database never got, as a killed worker leaves it."""
    journal = Journal(directory, submit=lambda record: None)
    journal.replay(lambda records: None)
    journal.submit(data_row({"sku": "J"}, session=session))
    journal.close()


def test_journals_of_worker_numbers_a_restart_with_fewer_processes_no_longer_has_are_replayed(tmp_path):
    journal_with(tmp_path / "workers" / "2", "of-worker-2")  # the host ran with --processes 3 before
    journal_with(tmp_path, "of-one-process")  # and before that as a single process
    host = start_host(tmp_path, "--history-durability", "sync")
    host.close()
    assert stop_host(host) == 0, host.process.stderr.read()
    with sqlite3.connect(tmp_path / "history.db") as db:
        sessions = {row[0] for row in db.execute("SELECT session_id FROM data_rows WHERE table_name = 'cart_adds'")}
    assert sessions == {"of-worker-2", "of-one-process"}
    assert not (tmp_path / "workers" / "2").exists()
    assert sorted(path.name for path in (tmp_path / "workers").iterdir()) == ["0", "1"]


def test_journals_of_the_workers_are_replayed_by_a_restart_as_one_process(tmp_path):
    journal_with(tmp_path / "workers" / "0", "of-worker-0")
    journal_with(tmp_path / "workers" / "1", "of-worker-1")
    host = start_host(tmp_path, processes=1)
    host.close()
    assert stop_host(host) == 0, host.process.stderr.read()
    with sqlite3.connect(tmp_path / "history.db") as db:
        sessions = {row[0] for row in db.execute("SELECT session_id FROM data_rows WHERE table_name = 'cart_adds'")}
    assert sessions == {"of-worker-0", "of-worker-1"}
    assert list((tmp_path / "workers").iterdir()) == []


def test_the_subscribers_of_a_lagging_worker_get_a_gap_message_for_the_events_it_never_read(tmp_path):
    host = start_host(tmp_path, "--action-retention", "5")
    try:
        (lagging, to_lagging), (_, to_other) = host.channels_by_worker().items()
        stream = decisions(to_lagging).SubscribeActions(pb.SubscribeActionsRequest(), timeout=30)
        stream.initial_metadata()  # sent once the subscription is registered
        other = decisions(to_other)
        other.StartSession(start("lag"))
        other.PostEvent(event("lag", "add_to_cart", sku="X", price=1.0))
        seen = [next(stream)]
        os.kill(lagging, signal.SIGSTOP)  # it reads nothing while the log moves on past its retention
        try:
            for n in range(6):  # each fires at least one action: more than the 5 retained
                other.PostEvent(event("lag", "add_to_cart", sku=f"Y{n}", price=1.0))
        finally:
            os.kill(lagging, signal.SIGCONT)
        with pytest.raises(grpc.RpcError) as ended:
            for response in stream:
                seen.append(response)
        assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        *actions, gap = seen
        assert gap.HasField("gap") and all(response.HasField("action") for response in actions)
        sequences = [response.sequence for response in actions]
        assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
        assert gap.gap.first_missed == sequences[-1] + 1 <= gap.gap.last_missed
    finally:
        host.close()
        assert stop_host(host) == 0, host.process.stderr.read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_one_metrics_endpoint_reports_every_worker_instead_of_a_port_per_worker(tmp_path):
    port = free_port()
    host = start_host(tmp_path, "--metrics-port", str(port))
    try:
        (a, to_a), (b, to_b) = host.channels_by_worker().items()
        calls = {to_a: 3, to_b: 2}
        for n, (channel, count) in enumerate(calls.items()):
            decisions(channel).StartSession(start(f"scraped-{n}"))
            for _ in range(count):
                decisions(channel).PostEvent(event(f"scraped-{n}", "add_to_cart", sku="X", price=1.0))
        metrics = scrape(port)
        posted = {dict(labels)["worker"]: value for (name, labels), value in metrics.items()
                  if name == "grpc_server_handled_total" and dict(labels)["grpc_method"] == "PostEvent"}
        assert sorted(posted.values()) == [2.0, 3.0] and set(posted) == {"0", "1"}
        assert metrics[("segflow_workers_scraped", ())] == 2
        sessions = {value for (name, _), value in metrics.items() if name == "segflow_sessions_live"}
        assert sessions == {2.0}  # the host's shared store, as each worker sees it
    finally:
        host.close()
        assert stop_host(host) == 0, host.process.stderr.read()


def stored_category(host, customer: str) -> str | None:
    """The customer's last_category in the history database's profiles table."""
    with sqlite3.connect(host.data_dir / "history.db") as db:
        row = db.execute("SELECT attributes FROM profiles WHERE customer_id = ?", (f"customer_id={customer}",)
                         ).fetchone()
    return None if row is None else json.loads(row[0]).get("last_category")


def written(host, stub, session: str, customer: str, category: str) -> None:
    """A visit of the customer that views `category`, once its worker has written the profile."""
    stub.StartSession(start(session, customer=customer))
    stub.PostEvent(event(session, "page_view", category=category))
    wait_until(lambda: stored_category(host, customer) == category)


def category_recalled(stub, session: str, customer: str) -> str:
    """A new visit of the customer: the last_category recalled into it from the worker's profile store."""
    stub.StartSession(start(session, customer=customer))
    return attributes(stub.GetSession(pb.GetSessionRequest(session_id=session)).session)["last_category"]


def test_a_profile_written_by_another_worker_is_not_served_from_a_stale_cache(host):
    (_, to_writer), (_, to_reader) = host.channels_by_worker().items()
    writer, reader = decisions(to_writer), decisions(to_reader)
    for round, category in enumerate(["books", "electronics"]):
        written(host, writer, f"written-{round}", "C-cache", category)
        # A later batch of the same writer: the one above has been stamped (right after its commit) by now.
        written(host, writer, f"fence-{round}", f"C-fence-{round}", "fence")
        # The first round caches the profile in the reader; the second must not be answered from that copy,
        # which the cache keeps for 60 s: the writer's stamp makes it stale at once.
        assert category_recalled(reader, f"read-{round}", "C-cache") == category
