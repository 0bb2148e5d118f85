"""A grammar + mutation fuzzer for the expression compiler: whatever the text, compiling raises only CompileError,
evaluating raises only evaluation errors, generated code reaches nothing outside runtime.HELPERS, and every
LIKE pattern is answered in one pass.

Seeded (derandomized) and bounded for CI: SEGFLOW_FUZZ_EXAMPLES sets the number of inputs per property
(default 600, about 20 s for the file); a longer run is e.g. `SEGFLOW_FUZZ_EXAMPLES=50000 python -m pytest
tests/adversarial/test_fuzz_compiler.py`, and SEGFLOW_FUZZ_SEED=n draws another sequence of inputs.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from segflow.rules import Attribute, CompileError, Schema, compile_expression, compile_segments
from segflow.rules.compile import verify
from segflow.rules.context import EvalContext
from segflow.rules.errors import EvaluationError
from segflow.rules.functions import CAST_TYPES, CONTEXTUAL, EXTRACT_PARTS, SCALARS
from segflow.rules.runtime import HELPERS, like_matcher, like_plan, like_regex

EXAMPLES = int(os.environ.get("SEGFLOW_FUZZ_EXAMPLES", "600"))
SEED = int(os.environ.get("SEGFLOW_FUZZ_SEED", "0"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=not SEED, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
# What an evaluation may raise: the errors that fail one rule with an advisory (server/runtime/decision.py).
# A KeyError, AttributeError, RecursionError or MemoryError would be a bug in the compiler or the runtime.
EVALUATION_ERRORS = (EvaluationError, TypeError, ValueError, ArithmeticError)

HOSTILE_NAMES = ["__class__", "__import__", "__builtins__", "__globals__", "__subclasses__", "row", "ctx", "attr",
                 "param", "b", "m0", "_U", "_K0", "_t1", "a0", "_evaluate", "_div", "_CTX", "exec", "eval", "open",
                 "lambda", "import", "x", "y", "s", "n", "l", "ts", "é", "名"]
SCHEMA = Schema(attributes={"x": Attribute("int"), "y": Attribute("double"), "s": Attribute("string"),
                            "n": Attribute("int", nullable=False), "l": Attribute("list"),
                            "ts": Attribute("timestamp"), "f": Attribute("bool")},
                event_params=None, segments=frozenset({"vip"}), events=frozenset({"login"}),
                callouts={"score": 1})

numbers = st.sampled_from(["0", "1", "-1", "2.5", "1e", "1e+", "1e309", "1e-400", ".5", "5.", "0x10", "1_000",
                           "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                           "99999999999999999999999999", "4611686018427387904", "1e30", "00", "007"])
strings = st.text(st.sampled_from("a%_!\\'\"\n\x00\t é名\ud800{}()"), max_size=6).map(
    lambda t: "'" + t.replace("'", "''") + "'")
names = st.sampled_from(HOSTILE_NAMES).map(lambda n: n if re.fullmatch(r"[a-z]\w*", n) else f'"{n}"')
atoms = st.one_of(
    numbers, strings, names, st.sampled_from(["NULL", "TRUE", "FALSE", "NOW()", "AUDIENCE_LEVEL()",
                                              "event.x", 'event."__class__"', "audience.customer_id",
                                              "EVENT_COUNT('login')", "IN_SEGMENT('vip')",
                                              "EVENT_LAST_DATA('login', 'x')", "EXTERNALCALLOUT('score', 1)",
                                              "EVENT_COUNT('login', INTERVAL '7' DAY)", "TIMESTAMP '2030-01-01'"]),
)
FUNCTIONS = sorted(SCALARS) + ["COALESCE", "NULLIF", "IF", "REPEAT", "LPAD", "POWER", "__IMPORT__", "EVAL"]
BINARY = ["+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "AND", "OR", "LIKE", "NOT LIKE",
          "IS", "IS NOT", "**", "^", "&", "|", "<<"]


def _compound(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(BINARY), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["NOT ", "-", "+", "~"]), children).map("".join),
        st.tuples(children, children, st.sampled_from(["'!'", "'%'", "''", "'ab'", "5"])).map(
            lambda t: f"{t[0]} LIKE {t[1]} ESCAPE {t[2]}"),
        st.tuples(children, st.lists(children, max_size=4)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(children, st.sampled_from(["NULL", "TRUE", "FALSE", "1"])).map(lambda t: f"{t[0]} IS {t[1]}"),
        st.tuples(st.lists(st.tuples(children, children), min_size=1, max_size=3), children).map(
            lambda t: "CASE " + " ".join(f"WHEN {w} THEN {r}" for w, r in t[0]) + f" ELSE {t[1]} END"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(children, max_size=4)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(children, st.sampled_from(sorted(CAST_TYPES) + ["BLOB", "INT[]"])).map(
            lambda t: f"CAST({t[0]} AS {t[1]})"),
        st.tuples(st.sampled_from(sorted(EXTRACT_PARTS) + ["WEEK"]), children).map(
            lambda t: f"EXTRACT({t[0]} FROM {t[1]})"),
        st.tuples(st.sampled_from(sorted(CONTEXTUAL)), st.lists(st.one_of(strings, children), max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"),
    )


expressions = st.recursive(atoms, _compound, max_leaves=12)
# Fragments a mutation may splice in: tokens that are half of something, or that Python would love to see.
FRAGMENTS = ["(", ")", "'", '"', ",", " AND ", " OR ", "CASE", "END", "__import__('os')", "; DROP", "\x00", "--",
             "/*", "*/", "?", ":x", "$1", "[0]", ".__class__", "\\", "\n", "lambda", "1e", "ESCAPE", "SELECT 1"]


@st.composite
def mutated(draw):
    """A grammatical expression, then up to three character-level mutations of it."""
    text = draw(expressions)
    for _ in range(draw(st.integers(0, 3))):
        if not text:
            break
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "duplicate"]))
        if action == "insert":
            text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 4)):]
        else:
            text = text[:at] + text[at:at + 8] + text[at:]
    return text


values = st.one_of(st.none(), st.integers(-(2**64), 2**64), st.floats(allow_nan=False), st.booleans(),
                   st.text(st.sampled_from("ab%_ é"), max_size=5), st.lists(st.integers(-3, 3), max_size=3),
                   st.just(datetime(2030, 1, 1, tzinfo=timezone.utc)))


class FuzzContext(EvalContext):
    """Answers every context function with a fuzzed value of any type, as a callout or old event data may."""

    def __init__(self, value):
        self.value = value

    def event_last_data(self, name, param):
        return self.value

    def callout(self, name, args):
        return self.value

    def audience_id(self, field):
        return self.value

    event_params = property(lambda self: {"x": self.value, "__class__": self.value})


def _compile(text: str, schema: Schema | None):
    try:
        return compile_expression(text, schema)
    except CompileError as error:
        assert error.errors, "a CompileError lists its problems"
        return None


def _no_escape(evaluator) -> None:
    """The generated code verifies, runs without builtins, and names only generated locals and helpers."""
    verify(compile(evaluator.source, "<fuzz>", "exec", dont_inherit=True))
    assert evaluator.evaluate.__globals__["__builtins__"] == {}
    assert set(evaluator.evaluate.__globals__) - {"__builtins__"} <= set(HELPERS) | {"_evaluate"} | {
        name for name in evaluator.evaluate.__globals__ if re.fullmatch(r"_K\d+", name)}


def _evaluate(evaluator, row, value) -> None:
    ctx = FuzzContext(value)
    for run in (evaluator.evaluate, evaluator.test):
        try:
            run(row, ctx)
        except EVALUATION_ERRORS:
            pass


@FUZZ
@seed(SEED)
@given(text=mutated(), row_values=st.lists(values, min_size=1, max_size=3), value=values)
def test_fuzzed_expressions_compile_or_fail_cleanly_and_evaluate_within_the_evaluation_errors(text, row_values,
                                                                                             value):
    for schema in (SCHEMA, None):
        evaluator = _compile(text, schema)
        if evaluator is None:
            continue
        _no_escape(evaluator)
        for v in row_values:
            _evaluate(evaluator, {name: v for name in HOSTILE_NAMES}, value)


@FUZZ
@seed(SEED)
@given(conditions=st.lists(mutated(), min_size=1, max_size=4), row_value=values)
def test_fuzzed_flowcharts_compile_or_fail_cleanly(conditions, row_value):
    try:
        evaluator = compile_segments({f"s{i}": c for i, c in enumerate(conditions)}, SCHEMA)
    except CompileError:
        return
    try:
        evaluator.bits({name: row_value for name in HOSTILE_NAMES}, FuzzContext(row_value))
    except EVALUATION_ERRORS:
        pass


patterns = st.text(st.sampled_from("a%_b!"), max_size=24)


@FUZZ
@seed(SEED)
@given(pattern=patterns, subject=st.text(st.sampled_from("ab"), max_size=12))
def test_every_like_pattern_is_answered_in_one_pass(pattern, subject):
    """Each piece between % but the last is placed leftmost in an atomic group, so only one `.*` backtracks and any
    pattern costs len(s) * len(pattern) at most; the answer is the reference regex's (on inputs small enough
    for its backtracking to be harmless), and a long subject is answered too."""
    try:
        kind, literal = like_plan(pattern, "!")
    except EvaluationError:
        return  # the pattern ends with its escape character
    if kind != "match":
        return
    regex = like_regex(literal)
    assert regex.count(".*") - regex.count("(?>.*?") <= 1
    matcher = like_matcher(literal)
    assert (matcher(subject) is not None) is (re.fullmatch(_reference_regex(pattern), subject, re.DOTALL) is not None)
    matcher("a" * 20_000 + subject)


def _reference_regex(pattern: str) -> str:
    out, chars = [], iter(pattern)
    for char in chars:
        if char == "!":
            out.append(re.escape(next(chars)))
        else:
            out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return "".join(out)


@pytest.mark.parametrize("text", ["s LIKE '" + "%a" * 60 + "%b'", "s LIKE s || '%a%a%a%a%a%a%a%b'"])
def test_like_bombs_in_expressions_finish(text):
    evaluator = compile_expression(text, SCHEMA)
    assert evaluator({"x": "a" * 3_000, "s": "a" * 3_000}) is False


REFUSED = re.compile("[\x00\ud800-\udfff]")  # what Python's compiler refuses even inside a string literal


@st.composite
def with_refused_character(draw):
    """A grammatical expression with a NUL or a lone surrogate inserted anywhere (in a literal, a name, between
    tokens); its own string literals may hold some already."""
    text = draw(expressions)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(["\x00", "\ud800", "\udfff", "\udc80"])) + text[at:]


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


@FUZZ
@seed(SEED)
@given(text=with_refused_character(), condition=st.booleans())
def test_a_refused_character_is_a_compile_error_at_its_position(text, condition):
    """Never a ValueError from compile() (or a UnicodeEncodeError from hashing the source): a syntax error at
    the first such character, in an expression and in a flowchart (named by its path)."""
    expected = ("syntax", *_line_and_column(text, REFUSED.search(text).start()))
    with pytest.raises(CompileError) as single:
        compile_expression(text, SCHEMA, condition=condition)
    with pytest.raises(CompileError) as flowchart:
        compile_segments({"ok": "x > 1", "bad": text}, SCHEMA, paths={"bad": "flowcharts[0].segments[1].when"})
    for errors in (single.value.errors, flowchart.value.errors):
        assert [(e.code, e.expr_line, e.expr_column) for e in errors] == [expected]
    assert flowchart.value.errors[0].path == "flowcharts[0].segments[1].when"
