"""Logs as an operator reads them: `segflow serve --log-format json` in its own process, every stderr line
parsed as JSON; access lines with the caller's trace id; audit lines; one line even for a traceback."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys

import grpc
import pytest
from segflow.v1 import decision_service_pb2_grpc

from segflow.server import cli, logs
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.observability.traceparent import parse
from tests.service.calls import event, start
from tests.service.test_serve_process import free_port, wait_until_serving

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_json_logs_one_object_per_line_with_access_audit_and_trace(tmp_path, capsys):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--address", f"127.0.0.1:{port}",
         "--data-dir", str(tmp_path), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, process)
            decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
            decisions.StartSession(start("traced"))
            response = decisions.PostEvent(event("traced", "add_to_cart", sku="TV", price=400.0),
                                           metadata=(("traceparent", TRACEPARENT),))
            with pytest.raises(grpc.RpcError):
                decisions.PostEvent(event("nobody", "login"))
        ruleset = tmp_path / "r.yaml"
        ruleset.write_text(EXAMPLE_RULESET.replace("name: retail-web", "name: retail-web-logged", 1))
        assert cli.main(["deploy", str(ruleset), "--target", f"127.0.0.1:{port}", "--author", "ann"]) == 0
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "segflow.access"]
    [traced] = [r for r in access if r["trace_id"]]
    assert traced["method"] == "segflow.v1.DecisionService/PostEvent" and traced["code"] == "OK"
    assert traced["trace_id"] == TRACE == response.decision.trace_id
    assert traced["session_id"] == "traced" and traced["decision_id"] == response.decision.decision_id
    assert traced["ruleset_version"] == 1 and traced["duration_ms"] > 0 and traced["peer"]
    assert [r["code"] for r in access if r["session_id"] == "nobody"] == ["NOT_FOUND"]
    [audit] = [r for r in records if r["logger"] == "segflow.audit"]
    assert audit["audit"] == "deploy" and audit["author"] == "ann" and audit["version"] == 2


def test_a_traceback_stays_inside_one_json_line():
    stream = io.StringIO()
    logs.configure("json", "info", stream)
    try:
        try:
            raise RuntimeError("boom\nsecond line")
        except RuntimeError:
            logging.getLogger("segflow.test").exception("it failed", extra=logs.fields(session_id="s1"))
    finally:
        logs.configure("text", "info")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "it failed" and record["session_id"] == "s1"
    assert "RuntimeError: boom" in record["exception"] and "Traceback" in record["exception"]


def test_text_lines_carry_the_fields_as_key_value():
    stream = io.StringIO()
    logs.configure("text", "info", stream)
    try:
        logging.getLogger("segflow.test").warning("slow", extra=logs.fields(method="m", note="two words"))
    finally:
        logs.configure("text", "info")
    assert stream.getvalue().rstrip().endswith('segflow.test: slow method=m note="two words"')


def test_a_level_per_logger():
    assert logs.parse_levels("segflow.server.history=debug,info") == {"segflow.server.history": logging.DEBUG,
                                                                       "": logging.INFO}
    logs.configure("text", "segflow.access=warning,info")
    try:
        assert not logging.getLogger("segflow.access").isEnabledFor(logging.INFO)
        assert logging.getLogger("segflow.audit").isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("segflow.access").setLevel(logging.NOTSET)
        logs.configure("text", "info")
    with pytest.raises(ValueError, match="bad log level 'loud'"):
        logs.parse_levels("segflow=loud")


@pytest.mark.parametrize("header, expected", [
    (TRACEPARENT, (TRACE, "00f067aa0ba902b7")),
    (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),  # all-zero trace id
    (f"00-{TRACE}-{'0' * 16}-01", None),  # all-zero parent
    (f"ff-{TRACE}-00f067aa0ba902b7-01", None),  # version ff is forbidden
    (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),  # hex is lower case
    (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),  # version 00 has exactly four parts
    (f"01-{TRACE}-00f067aa0ba902b7-01-future", (TRACE, "00f067aa0ba902b7")),  # later versions may add parts
    ("garbage", None),
])
def test_traceparent_parsing_follows_w3c(header, expected):
    assert parse(header) == expected
