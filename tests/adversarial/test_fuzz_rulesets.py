"""A mutation fuzzer for whole rulesets: whatever the YAML, checking it gives diagnostics, never an exception.

The example ruleset is mutated at the line and character level (lines dropped, duplicated or swapped, hostile
fragments spliced in) and checked as `segflow validate` and ValidateRuleset do. Seeded; SEGFLOW_FUZZ_EXAMPLES
and SEGFLOW_FUZZ_SEED as in test_fuzz_compiler.py (a fifth as many inputs: each is a whole ruleset).
Ruleset messages (DeployRuleset's other form) get extreme values in any of their fields.
"""

from __future__ import annotations

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from google.protobuf.descriptor import FieldDescriptor

from segflow.rules import ruleset_yaml
from segflow.rules.ruleset import load_and_compile
from segflow.rules.ruleset_yaml import LoadedRuleset, load_ruleset_yaml
from segflow.server.examples import EXAMPLE_RULESET
from segflow.server.rulesets import Source, check_source
from tests.adversarial.test_fuzz_compiler import EXAMPLES, FUZZ, SEED

LINES = EXAMPLE_RULESET.splitlines()
FRAGMENTS = ["&a ", "*a", "? [x]\n: 1", "{", "}", "[", "]", ": ", "- ", "\x00", "\t", "'", '"', "99999999999999999999",
             "1e", "1e30s", "-1", "2.5", "~", "!!binary aGk=", "!!python/object:os.system", "%YAML 1.1\n", "---\n",
             "<<: *a", "\ud800", '"\\ud800"', '"\\0"', "NOT", "LIKE 5", "-'t'", "(((", "9999-12-31T23:59:59Z",
             "10000-01-01"]


@st.composite
def mutated_rulesets(draw):
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "duplicate", "swap", "splice"]))
        if action == "drop":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(FRAGMENTS)) + lines[i][at:]
    return "\n".join(lines) + "\n"


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 20))
@seed(SEED)
@given(text=mutated_rulesets())
def test_a_mutated_ruleset_is_checked_into_diagnostics(text):
    errors, warnings = check_source(Source(yaml=text))
    for problem in [*errors, *warnings]:
        assert problem.code and problem.message


EXTREMES = {
    FieldDescriptor.CPPTYPE_INT32: [-(2**31), 2**31 - 1, -1, 0], FieldDescriptor.CPPTYPE_INT64: [-(2**63), 2**63 - 1, -1],
    FieldDescriptor.CPPTYPE_UINT32: [2**32 - 1], FieldDescriptor.CPPTYPE_UINT64: [2**64 - 1],
    FieldDescriptor.CPPTYPE_DOUBLE: [float("inf"), float("-inf"), float("nan"), -1e308, 5e-324],
    FieldDescriptor.CPPTYPE_FLOAT: [float("inf"), float("nan"), -1.0],
    FieldDescriptor.CPPTYPE_BOOL: [True, False],
    FieldDescriptor.CPPTYPE_STRING: ["", "\x00", "x" * 30_000, "__import__('os')", "'", "1e", "a b", "é名"],
}
EXAMPLE_MESSAGE = load_and_compile(EXAMPLE_RULESET).ruleset


def _scalar_fields(message, found):
    """(message, field) of every singular scalar field reachable from `message`, set or not."""
    for fd in message.DESCRIPTOR.fields:
        if fd.message_type is not None:
            if fd.message_type.GetOptions().map_entry:
                continue
            children = getattr(message, fd.name) if fd.is_repeated else (
                [getattr(message, fd.name)] if message.HasField(fd.name) else [])
            for child in children:
                _scalar_fields(child, found)
        elif not fd.is_repeated and fd.cpp_type in EXTREMES:
            found.append((message, fd))
    return found


@settings(FUZZ, max_examples=max(EXAMPLES // 5, 20))
@seed(SEED)
@given(data=st.data())
def test_a_ruleset_message_with_extreme_values_is_checked_into_diagnostics(data):
    message = type(EXAMPLE_MESSAGE)()
    message.CopyFrom(EXAMPLE_MESSAGE)
    fields = _scalar_fields(message, [])
    for _ in range(data.draw(st.integers(1, 4))):
        target, fd = data.draw(st.sampled_from(fields))
        value = data.draw(st.sampled_from(EXTREMES[fd.cpp_type] if fd.enum_type is None else [-1, 999, 2**31 - 1]))
        setattr(target, fd.name, value)
    errors, warnings = check_source(Source(ruleset=message))
    for problem in [*errors, *warnings]:
        assert problem.code and problem.message


def _read_by_pyyaml(text: str) -> LoadedRuleset:
    """load_ruleset_yaml with PyYAML's Python parser, as where PyYAML has no libyaml."""
    fast, ruleset_yaml.CParser = ruleset_yaml.CParser, None
    try:
        return load_ruleset_yaml(text)
    finally:
        ruleset_yaml.CParser = fast


@pytest.mark.skipif(ruleset_yaml.CParser is None, reason="PyYAML is built without libyaml here")
@settings(FUZZ, max_examples=max(EXAMPLES // 5, 20))
@seed(SEED)
@given(text=mutated_rulesets())
def test_libyaml_reads_every_ruleset_as_pyyaml_does(text):
    """The same message, positions, expression origins and errors (wording, line and column) either way, but
    for the tabs PyYAML refuses where YAML allows them (in a plain scalar, after a colon), which libyaml reads."""
    fast, python = load_ruleset_yaml(text), _read_by_pyyaml(text)
    if [e.message for e in python.errors] == ["invalid YAML: found character '\\t' that cannot start any token"]:
        return
    assert fast.ruleset.SerializeToString(deterministic=True) == python.ruleset.SerializeToString(deterministic=True)
    assert (fast.positions, fast.origins, fast.errors) == (python.positions, python.origins, python.errors)
