"""A stored ruleset shown as YAML loads back as the same ruleset."""

from __future__ import annotations

from segflow.rules.ruleset import ruleset_digest
from segflow.rules.ruleset_dump import dump_ruleset
from segflow.rules.ruleset_yaml import load_ruleset_yaml
from segflow.server.examples import EXAMPLE_RULESET


def test_the_example_dumps_in_the_authors_forms_and_loads_back_equal():
    original = load_ruleset_yaml(EXAMPLE_RULESET).ruleset
    text = dump_ruleset(original)
    loaded = load_ruleset_yaml(text)
    assert not loaded.errors
    assert ruleset_digest(loaded.ruleset) == ruleset_digest(original)
    assert "\n  if: cart_total >= 500 AND NOT vip\n" in text and "type: double" in text
    assert "timeout: 0.05s" in text
