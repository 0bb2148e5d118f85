"""Profile sources: an in-process plugin behind the callout bounds, and the checks of their definitions."""

from __future__ import annotations

from datetime import datetime, timezone

from segflow.v1 import ruleset_pb2

from segflow.server.profiles.sources import ProfilePlugin, ProfileSources, validate_sources
from segflow.server.sessions.state import SessionState

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


class Crm(ProfilePlugin):
    calls: list = []

    def initialize(self, config):
        self.region = config.get("region", "")

    def load(self, audience_level, ids, attributes):
        Crm.calls.append((audience_level, dict(ids), attributes))
        if ids.get("customer_id") == "broken":
            raise ConnectionError("crm is down")
        return {"tier": f"gold-{self.region}"}


def _sources() -> ProfileSources:
    ruleset = ruleset_pb2.Ruleset(profile_sources=[ruleset_pb2.ProfileSourceDefinition(
        audience_level="Customer", plugin="crm", parameters={"region": "eu"})])
    return ProfileSources.from_ruleset(ruleset, ("tier",), plugins={"crm": Crm})


def _session(customer_id: str) -> SessionState:
    return SessionState("s", "web", "Customer", T0, T0, audience_ids={"customer_id": customer_id})


def test_a_plugin_fills_the_profile_and_its_result_is_cached_per_customer():
    sources, advice = _sources(), []
    Crm.calls.clear()
    try:
        for _ in range(2):
            assert sources.load(_session("c-1"), None, lambda *a: advice.append(a)) == {"tier": "gold-eu"}
        assert Crm.calls == [("Customer", {"customer_id": "c-1"}, ("tier",))]  # the second came from the cache
        assert sources.load(_session("broken"), None, lambda *a: advice.append(a)) == {}
        assert [code for code, _ in advice] == ["profile_source_error"]
        assert sources.load(SessionState("s", "web", "Visitor", T0, T0), None, lambda *a: advice.append(a)) == {}
    finally:
        sources.close()


def test_definitions_are_checked_at_their_path():
    definitions = [
        ruleset_pb2.ProfileSourceDefinition(audience_level="Visitor", target="not a target"),
        ruleset_pb2.ProfileSourceDefinition(audience_level="Custmer", plugin="nope"),
        ruleset_pb2.ProfileSourceDefinition(audience_level="Customer"),
    ]
    definitions[2].timeout.FromSeconds(600)
    problems = {p.path: p.message for p in validate_sources(
        definitions, {"Visitor": [], "Customer": ["customer_id"]}, plugins={"crm": Crm})}
    assert "has no id fields" in problems["profile_sources[0].audience_level"]
    assert "is not host:port" in problems["profile_sources[0].target"]
    assert "unknown audience level" in problems["profile_sources[1].audience_level"]
    assert "unknown profile plugin 'nope'" in problems["profile_sources[1].plugin"]
    assert "either a plugin or a target" in problems["profile_sources[2]"]
    assert "timeout must be" in problems["profile_sources[2].timeout"]


def test_the_shipped_plugin_is_declared_in_its_entry_point_group_and_answers():
    import importlib
    import tomllib
    from pathlib import Path

    from segflow.server.profiles.example_server import profile_of

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    module, _, name = project["project"]["entry-points"]["segflow.profiles"]["tiers"].partition(":")
    plugin = getattr(importlib.import_module(module), name)
    ruleset = ruleset_pb2.Ruleset(profile_sources=[ruleset_pb2.ProfileSourceDefinition(
        audience_level="Customer", plugin="tiers")])
    sources = ProfileSources.from_ruleset(ruleset, ("tier", "favourite"), plugins={"tiers": plugin})
    try:
        assert sources.load(_session("c-1"), None, print) == {"tier": profile_of("customer_id=c-1")["tier"]}
    finally:
        sources.close()
