"""The Node client in clients/node, run with `node` against `segflow serve` in its own process: a client in
another language needs nothing but protos/ (the shipped google/rpc and health protos included)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from tests.service.test_serve_process import free_port, wait_until_serving

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"


def _skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        return "clients/node/node_modules is missing: run `npm ci --prefix clients/node` (.ci/run does)"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")
def test_the_node_client_runs_a_visit_and_decodes_rich_errors(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "segflow.server.cli", "serve", "--address", f"127.0.0.1:{port}",
         "--data-dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until_serving(channel, server)
        run = subprocess.run(["node", str(CLIENT / "client.js"), f"127.0.0.1:{port}"], capture_output=True,
                             text=True, timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert run.returncode == 0, run.stderr
    steps = {line["step"]: line for line in map(json.loads, run.stdout.splitlines())}
    assert steps["health"]["status"] == "SERVING"
    assert steps["start_session"]["anonymous"] is True and "browsers" in steps["start_session"]["segments"]
    # 700 makes a big cart, whose rule chains cart_abandon_check: the chained event counts too
    assert steps["post_event"]["event_sequence"] == "2" and "big_spenders" in steps["post_event"]["entered"]
    assert [o["code"] for o in steps["get_offers"]["offers"]] == ["UPSELL_WARRANTY"]
    not_found = steps["rich_error"]
    assert not_found["code"] == "NOT_FOUND"
    [info] = [d for d in not_found["details"] if d["type"] == "google.rpc.ErrorInfo"]
    assert info["reason"] == "SESSION_NOT_FOUND"
    bad = steps["bad_request"]
    assert bad["code"] == "INVALID_ARGUMENT"
    [request] = [d for d in bad["details"] if d["type"] == "google.rpc.BadRequest"]
    assert {v["field"] for v in request["fieldViolations"]} == {"slots[0].interaction_point", "slots[0].count"}
    assert steps["end_session"]["state"] == "SESSION_STATE_ENDED"
