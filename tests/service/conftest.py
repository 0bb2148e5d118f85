"""Service tests run a real server on a free port and talk to it over a real gRPC channel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grpc
import pytest
from segflow.v1 import decision_service_pb2_grpc, ruleset_service_pb2_grpc

from segflow.server.app import create_service
from segflow.server.config import Config


class FakeClock:
    """A clock the tests move by hand, so expiry is tested without sleeping."""

    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(address="127.0.0.1:0", data_dir=tmp_path, workers=16, grace_seconds=2, subscriber_queue=100)


@pytest.fixture
def service(config, clock):
    running = create_service(config, clock)
    yield running
    running.stop(grace=1)


@pytest.fixture
def channel(service):
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as opened:
        yield opened


@pytest.fixture
def decisions(channel) -> decision_service_pb2_grpc.DecisionServiceStub:
    return decision_service_pb2_grpc.DecisionServiceStub(channel)


@pytest.fixture
def admin(channel) -> ruleset_service_pb2_grpc.RulesetServiceStub:
    return ruleset_service_pb2_grpc.RulesetServiceStub(channel)
