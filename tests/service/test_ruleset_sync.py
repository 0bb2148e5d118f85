"""The sweeper's sync with the shared database never swaps back a version a deploy is replacing (#11.5)."""

from __future__ import annotations

import threading
import time

from segflow.v1 import ruleset_service_pb2 as pb

from segflow.server import rulesets
from segflow.server.examples import EXAMPLE_RULESET
from tests.service.calls import event, start


def test_a_sync_during_a_slow_deploy_does_not_revert_it(service, admin, decisions, monkeypatch):
    before = service.registry.current().version
    compiling, release = threading.Event(), threading.Event()
    real = rulesets._compile

    def slow_compile(*args):
        compiling.set()
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(rulesets, "_compile", slow_compile)
    renamed = EXAMPLE_RULESET.replace("id: big-cart-alert", "id: big-cart-alert-v2")
    deployed = {}
    deploying = threading.Thread(target=lambda: deployed.setdefault("response", admin.DeployRuleset(
        pb.DeployRulesetRequest(source=pb.RulesetSource(yaml=renamed)), timeout=20)))
    deploying.start()
    assert compiling.wait(10)
    syncing = threading.Thread(target=service.registry.sync)  # what the sweeper does every few seconds
    syncing.start()
    time.sleep(0.2)  # let the sync read the database while the deploy is compiling
    monkeypatch.setattr(rulesets, "_compile", real)
    release.set()
    deploying.join(20)
    syncing.join(20)
    version = deployed["response"].version.version
    assert version == before + 1 and service.registry.current().version == version
    decisions.StartSession(start("after"))
    assert decisions.PostEvent(event("after", "page_view")).decision.ruleset_version == version
