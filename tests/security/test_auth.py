"""Tokens and client certificates with each role, allowed and denied, over real channels; the author and
audit line of a deploy; the admin listener; reflection behind its flag; reloading the auth file."""

from __future__ import annotations

import functools
import logging
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from segflow.v1 import decision_service_pb2 as pb, decision_service_pb2_grpc, ruleset_service_pb2 as rpb
from segflow.v1 import ruleset_service_pb2_grpc, session_pb2

from segflow.server import cli
from segflow.server.app import create_service
from segflow.server.config import Config
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.security import identities
from segflow.server.security.identities import Identities, hash_token
from segflow.server.security.listeners import is_loopback
from segflow.server.security.tls import ClientTLS
from tests.service.calls import rpc_error, start

TOKENS = {"web": ["decide"], "agent-desk": ["subscribe"], "ci": ["admin"]}


def auth_file(path, tokens=TOKENS, clients=()) -> str:
    lines = ["tokens:"] + [f"  - {{name: {name}, sha256: {hash_token(name + '-secret')}, roles: [{', '.join(roles)}]}}"
                           for name, roles in tokens.items()]
    lines += ["clients:"] + [f"  - {{name: {name}, roles: [{', '.join(roles)}]}}" for name, roles in clients]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def bearer(name: str) -> tuple:
    return (("authorization", f"Bearer {name}-secret"),)


@pytest.fixture
def secured(tmp_path):
    service = create_service(Config(address="127.0.0.1:0", data_dir=tmp_path, workers=8, grace_seconds=1,
                                    auth_file=auth_file(tmp_path / "auth.yaml")))
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        yield service, channel
    service.stop(grace=0)


def deploy_request(name: str = "retail-web-2", author: str = "") -> rpb.DeployRulesetRequest:
    return rpb.DeployRulesetRequest(source=rpb.RulesetSource(yaml=EXAMPLE_RULESET.replace(
        "name: retail-web", f"name: {name}", 1)), author=author, comment="auth test")


def test_each_role_is_allowed_its_calls(secured):
    _, channel = secured
    decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
    assert decisions.StartSession(start("authed"), metadata=bearer("web")).session.session_id == "authed"
    stream = decisions.SubscribeActions(pb.SubscribeActionsRequest(), metadata=bearer("agent-desk"), timeout=0.5)
    with pytest.raises(grpc.RpcError) as caught:
        next(iter(stream))
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # subscribed, nothing happened
    admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)
    assert admin.ListRulesets(rpb.ListRulesetsRequest(), metadata=bearer("ci")).versions


@pytest.mark.parametrize("token, call", [
    ("web", "deploy"), ("web", "subscribe"), ("agent-desk", "start"), ("agent-desk", "forget"), ("ci", "start"),
])
def test_a_missing_role_is_permission_denied_with_error_info(secured, token, call):
    _, channel = secured
    decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
    admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)
    calls = {
        "deploy": functools.partial(admin.DeployRuleset, deploy_request()),
        "forget": functools.partial(admin.ForgetCustomer, rpb.ForgetCustomerRequest(
            audience=session_pb2.Audience(level="Customer"))),
        "start": functools.partial(decisions.StartSession, start("denied")),
        "subscribe": lambda **kw: next(iter(decisions.SubscribeActions(pb.SubscribeActionsRequest(), **kw))),
    }
    message, _, reason = rpc_error(functools.partial(calls[call], metadata=bearer(token)),
                                   code=grpc.StatusCode.PERMISSION_DENIED)
    assert reason == "MISSING_ROLE"
    assert repr(token) in message


@pytest.mark.parametrize("metadata, reason", [
    ((), "MISSING_CREDENTIALS"),
    ((("authorization", "Bearer not-a-known-token"),), "INVALID_TOKEN"),
    ((("authorization", "Basic d2ViOnNlY3JldA=="),), "MALFORMED_AUTHORIZATION"),
])
def test_missing_or_bad_credentials_are_unauthenticated(secured, metadata, reason):
    service, channel = secured
    admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)
    _, _, got = rpc_error(functools.partial(admin.DeployRuleset, deploy_request(), metadata=metadata),
                          code=grpc.StatusCode.UNAUTHENTICATED)
    assert got == reason
    assert service.registry.current().version == 1  # a refused call changes nothing


def test_health_stays_open(secured):
    _, channel = secured
    response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_a_deploy_records_the_authenticated_identity_and_writes_an_audit_line(secured, caplog):
    service, channel = secured
    admin = ruleset_service_pb2_grpc.RulesetServiceStub(channel)
    with caplog.at_level(logging.INFO, logger="segflow.audit"):
        deployed = admin.DeployRuleset(deploy_request(author="someone-else"), metadata=bearer("ci")).version
        rolled = admin.RollbackRuleset(rpb.RollbackRulesetRequest(version=1), metadata=bearer("ci")).version
    assert deployed.author == "ci" and rolled.author == "ci"
    [deploy, rollback] = [r for r in caplog.records if r.name == "segflow.audit"]
    assert deploy.segflow_fields["audit"] == "deploy" and deploy.segflow_fields["identity"] == "ci"
    assert deploy.segflow_fields["version"] == deployed.version == 2
    assert rollback.segflow_fields["audit"] == "rollback" and rollback.segflow_fields["to_version"] == 1


@pytest.fixture
def instant_reload(monkeypatch):
    monkeypatch.setattr(identities, "RELOAD_CHECK_SECONDS", 0.0)


def test_the_auth_file_is_reloaded_when_it_changes(tmp_path, instant_reload, secured):
    _, channel = secured
    decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
    rpc_error(functools.partial(decisions.StartSession, start("late"), metadata=bearer("late")),
              code=grpc.StatusCode.UNAUTHENTICATED)
    time.sleep(0.01)  # a new modification time even on coarse clocks
    auth_file(tmp_path / "auth.yaml", {**TOKENS, "late": ["decide"]})
    assert decisions.StartSession(start("late"), metadata=bearer("late")).session.session_id == "late"
    (tmp_path / "auth.yaml").write_text("tokens: [oops")  # a broken file keeps the last good one
    time.sleep(0.01)
    assert decisions.StartSession(start("still"), metadata=bearer("late")).session.session_id == "still"


def test_client_certificates_map_to_roles(tmp_path, ca, server_pair):
    cert, key = server_pair
    service = create_service(Config(
        address="127.0.0.1:0", data_dir=tmp_path, workers=4, grace_seconds=1, tls_cert=str(cert), tls_key=str(key),
        tls_client_ca=str(ca.cert), auth_file=auth_file(tmp_path / "auth.yaml", clients=[("deployer", ["admin"])])))
    try:
        deployer = ClientTLS(str(ca.cert), *map(str, ca.issue("deployer"))).channel(f"localhost:{service.port}")
        with deployer:
            admin = ruleset_service_pb2_grpc.RulesetServiceStub(deployer)
            assert admin.DeployRuleset(deploy_request()).version.author == "deployer"
            _, _, reason = rpc_error(decision_service_pb2_grpc.DecisionServiceStub(deployer).StartSession,
                                     start("x"), code=grpc.StatusCode.PERMISSION_DENIED)
            assert reason == "MISSING_ROLE"
        stranger = ClientTLS(str(ca.cert), *map(str, ca.issue("stranger"))).channel(f"localhost:{service.port}")
        with stranger:
            _, _, reason = rpc_error(ruleset_service_pb2_grpc.RulesetServiceStub(stranger).DeployRuleset,
                                     deploy_request(), code=grpc.StatusCode.UNAUTHENTICATED)
            assert reason == "UNKNOWN_CLIENT_CERTIFICATE"
    finally:
        service.stop(grace=0)


def test_the_admin_listener_serves_the_ruleset_service_alone(tmp_path):
    service = create_service(Config(address="127.0.0.1:0", admin_address="127.0.0.1:0", data_dir=tmp_path,
                                    workers=4, grace_seconds=1))
    try:
        assert service.admin_port != service.port
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as public:
            rpc_error(ruleset_service_pb2_grpc.RulesetServiceStub(public).ListRulesets, rpb.ListRulesetsRequest(),
                      code=grpc.StatusCode.UNIMPLEMENTED)
            decision_service_pb2_grpc.DecisionServiceStub(public).StartSession(start("public"))
        with grpc.insecure_channel(f"127.0.0.1:{service.admin_port}") as private:
            assert ruleset_service_pb2_grpc.RulesetServiceStub(private).ListRulesets(rpb.ListRulesetsRequest()).versions
            health = health_pb2_grpc.HealthStub(private).Check(health_pb2.HealthCheckRequest())
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        service.stop(grace=0)


def list_services(channel) -> list[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    [response] = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    return [s.name for s in response.list_services_response.service]


def test_reflection_follows_its_flag(tmp_path):
    for enabled in (True, False):
        service = create_service(Config(address="127.0.0.1:0", data_dir=tmp_path / str(enabled), workers=4,
                                        grace_seconds=1, reflection=enabled))
        try:
            with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
                if enabled:
                    assert "segflow.v1.DecisionService" in list_services(channel)
                else:
                    with pytest.raises(grpc.RpcError) as caught:
                        list_services(channel)
                    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
        finally:
            service.stop(grace=0)


def test_serve_warns_loudly_without_auth_on_a_non_loopback_address(tmp_path, caplog):
    assert is_loopback("127.0.0.1:50051") and is_loopback("[::1]:1") and is_loopback("localhost:1")
    assert not is_loopback("0.0.0.0:50051") and not is_loopback("[::]:50051") and not is_loopback("10.0.0.5:1")
    with caplog.at_level(logging.WARNING, logger="segflow.security"):
        service = create_service(Config(address="0.0.0.0:0", data_dir=tmp_path, workers=4, grace_seconds=1))
        service.stop(grace=0)
    [warning] = [r for r in caplog.records if r.name == "segflow.security"]
    assert "NO AUTHENTICATION" in warning.getMessage()


def test_segflow_token_prints_a_token_and_the_entry_that_admits_it(capsys):
    assert cli.main(["token", "--name", "checkout", "--role", "decide", "--role", "subscribe"]) == 0
    out = capsys.readouterr().out.splitlines()
    secret = out[0].rsplit(" ", 1)[1]
    parsed = Identities.parse("tokens:\n" + out[2])
    identity = parsed.by_token(secret)
    assert identity.name == "checkout" and identity.roles == {"decide", "subscribe"}
    assert secret not in out[2]


@pytest.mark.parametrize("text, problem", [
    ("tokens: [{name: a, sha256: abc, roles: [decide]}]", "64 hex digits"),
    ("tokens: [{name: a, sha256: " + "a" * 64 + ", roles: [root]}]", "unknown role 'root'"),
    ("clients: [{roles: [admin]}]", "name: required"),
    ("users: []", "expected a mapping"),
])
def test_a_bad_auth_file_is_refused_naming_the_entry(text, problem):
    with pytest.raises(ValueError, match=problem):
        Identities.parse(text)


def test_a_verified_token_is_hashed_once_until_the_file_is_reloaded(tmp_path, instant_reload, secured,
                                                                     monkeypatch):
    hashed = []
    monkeypatch.setattr(identities, "hash_token", lambda token: hashed.append(token) or hash_token(token))
    _, channel = secured
    decisions = decision_service_pb2_grpc.DecisionServiceStub(channel)
    for n in range(3):
        decisions.StartSession(start(f"cached-{n}"), metadata=bearer("web"))
    assert hashed == ["web-secret"]
    time.sleep(0.01)
    auth_file(tmp_path / "auth.yaml", {"ci": ["admin"]})  # web's token revoked: the reload forgets it
    rpc_error(functools.partial(decisions.StartSession, start("revoked"), metadata=bearer("web")),
              code=grpc.StatusCode.UNAUTHENTICATED)
    assert hashed == ["web-secret", "web-secret"]


def test_only_tokens_that_verify_are_remembered_and_no_more_than_the_bound(monkeypatch):
    monkeypatch.setattr(identities, "VERIFIED_TOKENS_MAX", 1)
    parsed = Identities.parse(f"tokens: [{{name: a, sha256: {hash_token('a')}, roles: [decide]}},"
                              f" {{name: b, sha256: {hash_token('b')}, roles: [decide]}}]")
    assert parsed.by_token("wrong") is None and parsed.by_token("b").name == "b"
    assert parsed.by_token("a").name == "a" and parsed.by_token("a").name == "a"
    assert list(parsed._verified) == ["b"]
