"""TLS and mutual TLS over real channels: the server's listener, and the CLI's side of a deploy."""

from __future__ import annotations

import grpc
import pytest
from segflow.v1 import decision_service_pb2_grpc

from segflow.server import cli
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.security.tls import ClientTLS
from tests.service.calls import start


def serve(tmp_path, **settings):
    return create_service(Config(address="127.0.0.1:0", data_dir=tmp_path, workers=4, grace_seconds=1, **settings))


@pytest.fixture
def tls_service(tmp_path, server_pair):
    cert, key = server_pair
    service = serve(tmp_path, tls_cert=str(cert), tls_key=str(key))
    yield service
    service.stop(grace=0)


@pytest.fixture
def mtls_service(tmp_path, ca, server_pair):
    cert, key = server_pair
    service = serve(tmp_path, tls_cert=str(cert), tls_key=str(key), tls_client_ca=str(ca.cert))
    yield service
    service.stop(grace=0)


def start_session(channel: grpc.Channel, session_id: str = "tls-visit"):
    return decision_service_pb2_grpc.DecisionServiceStub(channel).StartSession(start(session_id), timeout=10)


def test_a_tls_client_that_trusts_the_ca_is_served(tls_service, ca):
    with ClientTLS(ca=str(ca.cert)).channel(f"localhost:{tls_service.port}") as channel:
        assert start_session(channel).session.session_id == "tls-visit"


def test_a_plaintext_client_of_a_tls_server_is_refused(tls_service):
    with grpc.insecure_channel(f"127.0.0.1:{tls_service.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            start_session(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_that_does_not_trust_the_server_certificate_is_refused(tls_service, other_ca):
    with ClientTLS(ca=str(other_ca.cert)).channel(f"localhost:{tls_service.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            start_session(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_serves_a_client_certificate_of_the_client_ca(mtls_service, ca):
    cert, key = ca.issue("touchpoint.internal")
    with ClientTLS(str(ca.cert), str(cert), str(key)).channel(f"localhost:{mtls_service.port}") as channel:
        assert start_session(channel).session.session_id == "tls-visit"


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_service, ca):
    with ClientTLS(ca=str(ca.cert)).channel(f"localhost:{mtls_service.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            start_session(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_certificate_from_another_ca(mtls_service, ca, other_ca):
    cert, key = other_ca.issue("intruder")
    with ClientTLS(str(ca.cert), str(cert), str(key)).channel(f"localhost:{mtls_service.port}") as channel:
        with pytest.raises(grpc.RpcError) as caught:
            start_session(channel)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_segflow_deploy_over_mutual_tls(mtls_service, ca, tmp_path, capsys):
    cert, key = ca.issue("deployer.internal")
    ruleset = tmp_path / "ruleset.yaml"
    ruleset.write_text(EXAMPLE_RULESET.replace("name: retail-web", "name: retail-web-tls", 1))
    target = f"localhost:{mtls_service.port}"
    assert cli.main(["deploy", str(ruleset), "--target", target, "--ca", str(ca.cert),
                     "--cert", str(cert), "--key", str(key)]) == 0, capsys.readouterr().err
    assert "deployed as version 2" in capsys.readouterr().out
    # Without the client certificate the same deploy cannot even connect.
    assert cli.main(["deploy", str(ruleset), "--target", target, "--ca", str(ca.cert)]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


def test_tls_settings_are_checked_at_load():
    from segflow.server.config import load

    with pytest.raises(ValueError, match="go together"):
        load(environ={"SEGFLOW_TLS_CERT": "server.pem"})
    with pytest.raises(ValueError, match="mutual TLS is TLS first"):
        load(environ={"SEGFLOW_TLS_CLIENT_CA": "ca.pem"})
