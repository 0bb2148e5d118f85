"""RuleIndex: an event reaches only the rules listening to it, in ruleset order."""

from segflow.rules import RuleIndex


def test_rules_by_event():
    index = RuleIndex([("r1", ["login", "view"], "A"), ("r2", ["view"], "B"), ("r3", ["view", "view"], "C")])
    assert index.for_event("view") == (("r1", "A"), ("r2", "B"), ("r3", "C"))
    assert index.for_event("login") == (("r1", "A"),)
    assert index.for_event("checkout") == ()
    assert index.events == {"login", "view"} and len(index) == 3
