"""segflow's client side of remote callouts over (mutual) TLS, and the checks on a callout's TLS files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from segflow.v1 import callout_service_pb2_grpc

from segflow.server.callouts import CalloutRegistry
from segflow.server.callouts.example_server import CALLOUTS, ExampleCalloutService
from segflow.server.callouts.registry import InvalidCallouts
from segflow.server.rulesets import Source, check_source
from segflow.server.security.tls import server_credentials
from tests.callouts.helpers import definition


@pytest.fixture(scope="module")
def mtls_callouts(ca, server_pair):
    """The example CalloutService on a port that requires a client certificate of `ca`."""
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    callout_service_pb2_grpc.add_CalloutServiceServicer_to_server(ExampleCalloutService(), server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(*server_pair, client_ca=ca.cert))
    server.start()
    yield f"localhost:{port}"
    server.stop(0).wait()


def with_tls(callout, ca="", cert="", key=""):
    callout.tls.SetInParent()
    callout.tls.ca_file, callout.tls.cert_file, callout.tls.key_file = str(ca), str(cert), str(key)
    return callout


def test_a_callout_over_mutual_tls_gets_its_value(mtls_callouts, ca):
    cert, key = ca.issue("segflow.callouts")
    callout = with_tls(definition("stock_level", target=mtls_callouts, timeout=5, default=-1), ca.cert, cert, key)
    with CalloutRegistry.from_definitions([callout]) as registry:
        assert registry.call_with_outcome("stock_level", ("SKU-1",)) == (CALLOUTS["stock_level"]("SKU-1"), "miss")


@pytest.mark.parametrize("credentials", ["plaintext", "no client certificate"])
def test_a_callout_without_the_credentials_the_target_needs_gets_its_default(mtls_callouts, ca, credentials):
    callout = definition("stock_level", target=mtls_callouts, timeout=5, default=-1)
    if credentials != "plaintext":
        with_tls(callout, ca.cert)
    with CalloutRegistry.from_definitions([callout]) as registry:
        assert registry.call_with_outcome("stock_level", ("SKU-1",)) == (-1, "error")


def test_tls_files_that_cannot_be_read_are_refused_at_their_path(tmp_path, ca):
    callout = with_tls(definition("stock_level", target="localhost:1"), tmp_path / "absent.pem", ca.cert)
    with pytest.raises(InvalidCallouts) as caught:
        CalloutRegistry.from_definitions([callout])
    problems = {(p.path, p.message) for p in caught.value.problems}
    assert ("callouts[0].tls.ca_file", f"cannot read {str(tmp_path / 'absent.pem')!r}") in problems
    assert any(path == "callouts[0].tls.cert_file" and "go together" in message for path, message in problems)


def test_a_ruleset_file_names_a_callout_tls(tmp_path):
    ruleset = f"""
name: tls
channel: web
audience_levels: [{{name: Visitor}}]
events: [{{name: login}}]
callouts:
  - {{name: stock, arity: 1, target: "localhost:50061", tls: {{ca_file: "{tmp_path / 'ca.pem'}"}}}}
rules: [{{id: r, on: [login], if: "EXTERNALCALLOUT('stock', 'x') > 0", then: [{{resegment: {{}}}}]}}]
"""
    errors, _ = check_source(Source(yaml=ruleset))
    assert [e.path for e in errors] == ["callouts[0].tls.ca_file"]
    (tmp_path / "ca.pem").write_text("not used by the check")
    assert check_source(Source(yaml=ruleset))[0] == []
