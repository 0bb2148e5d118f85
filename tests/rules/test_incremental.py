"""Incremental resegmentation equals a full evaluation on every step of a long random visit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segflow.rules import EvalContext, compile_segments
from segflow.rules.context import DEFAULT_CONTEXT
from segflow.rules.incremental import Group, dependencies, evaluate
from tests.rules.reference import to_sql
from tests.rules.test_properties import BOOLS, INTS, STRINGS, bool_expr

EVENTS = ("view", "buy")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class Visit(EvalContext):
    """A session's context: event statistics, the segments it was in, the clock."""

    def __init__(self):
        self.counts, self.last, self.data, self.members, self.clock = {}, {}, {}, frozenset(), START

    def event_count(self, name):
        return self.counts.get(name, 0)

    def event_last_time(self, name):
        return self.last.get(name)

    def event_last_data(self, name, param):
        return self.data.get(name, {}).get(param)

    def in_segment(self, name):
        return name in self.members

    def now(self):
        return self.clock


context_leaf = st.sampled_from([
    "EVENT_COUNT('view') >= 2", "EVENT_COUNT('buy') = 1", "EVENT_LAST_DATA('view', 'p') = 1",
    "EVENT_LAST_TIME('buy') IS NULL", "IN_SEGMENT('seg0')", "NOT IN_SEGMENT('seg1')",
    "NOW() > TIMESTAMP '2026-01-01T00:03:00+00:00'",
])
condition = st.one_of(bool_expr.map(to_sql),
                      st.tuples(bool_expr.map(to_sql), st.sampled_from(["AND", "OR"]), context_leaf)
                      .map(lambda t: f"({t[0]}) {t[1]} {t[2]}"), context_leaf)
step = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(INTS), st.one_of(st.none(), st.integers(-3, 3))),
    st.tuples(st.just("set"), st.sampled_from(STRINGS), st.one_of(st.none(), st.sampled_from(["", "a", "ab"]))),
    st.tuples(st.just("set"), st.sampled_from(BOOLS), st.one_of(st.none(), st.booleans())),
    st.tuples(st.just("delete"), st.sampled_from(INTS + STRINGS + BOOLS)),
    st.tuples(st.just("event"), st.sampled_from(EVENTS), st.integers(0, 2)),
    st.tuples(st.just("tick"), st.integers(0, 120)),
    st.tuples(st.just("nothing")),
)


def apply(change, row, visit):
    if change[0] == "set":
        row[change[1]] = change[2]
    elif change[0] == "delete":
        row.pop(change[1], None)
    elif change[0] == "event":
        name = change[1]
        visit.counts[name] = visit.counts.get(name, 0) + 1
        visit.last[name] = visit.clock
        visit.data[name] = {"p": change[2]}
    elif change[0] == "tick":
        visit.clock += timedelta(seconds=change[1])


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(condition, min_size=1, max_size=8), st.lists(step, min_size=20, max_size=60))
def test_incremental_membership_equals_full_evaluation_at_every_step(conditions, steps):
    segments = compile_segments({f"seg{i}": sql for i, sql in enumerate(conditions)})
    row, visit, memo = {}, Visit(), None
    for change in steps:
        apply(change, row, visit)
        full = segments.bits(row, visit)
        bits, memo = segments.incremental(row, visit, memo)
        assert bits == full, (change, conditions)
        visit.members = segments.names_of(full)  # the next step reads this membership through IN_SEGMENT


@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(condition, min_size=1, max_size=4), min_size=1, max_size=3),
       st.lists(step, min_size=20, max_size=50))
def test_a_group_of_evaluators_read_in_one_pass_equals_their_full_evaluations_at_every_step(charts, steps):
    evaluators = tuple(compile_segments({f"seg{k}_{i}": sql for i, sql in enumerate(conditions)})
                       for k, conditions in enumerate(charts))
    group = Group(evaluators)
    row, visit, inputs, bits = {}, Visit(), None, [None] * len(evaluators)
    for change in steps:
        apply(change, row, visit)
        inputs, want = group.changes(row, visit, inputs)
        for k, (evaluator, (offset, mask)) in enumerate(zip(evaluators, group.spans)):
            bits[k] = evaluate(evaluator, want if want < 0 else (want >> offset) & mask, bits[k], row, visit)
            assert bits[k] == evaluator.bits(row, visit), (change, charts)
        visit.members = frozenset().union(*(e.names_of(b) for e, b in zip(evaluators, bits)))


def test_a_group_wants_the_segments_reading_a_changed_input_of_each_evaluator():
    first = compile_segments({"adult": "age >= 18", "named": "name IS NOT NULL"})
    second = compile_segments({"senior": "age >= 65", "recent": "NOW() > TIMESTAMP '2020-01-01T00:00:00+00:00'"})
    clock = compile_segments({"later": "NOW() > TIMESTAMP '2021-01-01T00:00:00+00:00'"})  # all volatile
    group = Group((first, second, clock))
    assert group.attributes == ("age", "name") and group.spans == ((0, 0b11), (2, 0b11), (4, 0b1))
    inputs, want = group.changes({"age": 30, "name": "x"}, DEFAULT_CONTEXT, None)
    assert want == -1  # nothing to compare with: all
    assert group.changes({"age": 30, "name": "x"}, DEFAULT_CONTEXT, inputs)[1] == 0b11000  # the volatile ones
    assert group.changes({"age": 31, "name": "x"}, DEFAULT_CONTEXT, inputs)[1] == 0b11101  # adult, senior
    # a session without a value for an attribute reads it as NULL: a change from 'x'
    assert group.changes({"age": 30}, DEFAULT_CONTEXT, inputs)[1] == 0b11010


def test_only_segments_reading_a_changed_input_are_evaluated_again():
    conditions = {"adult": "age >= 18", "recent": "NOW() > TIMESTAMP '2020-01-01T00:00:00+00:00'",
                  "buyer": "EVENT_COUNT('buy') > 0", **{f"other{i}": f"z{i} > 1" for i in range(5)}}
    segments = compile_segments(conditions)
    deps = dependencies(segments.roots)
    assert deps.volatile == 0b010 and deps.attributes[0] == "age"
    evaluated = []

    def subset(values, ctx, want):
        evaluated.append({name for name, flag in zip(segments.names, want) if flag})
        return segments.bits(values, ctx) & sum(flag << i for i, flag in enumerate(want))
    segments._subset = subset
    visit = Visit()
    bits, memo = segments.incremental({"age": 30}, visit, None)
    assert bits == 0b011 and evaluated == []  # no memo: the full function
    bits, memo = segments.incremental({"age": 30}, visit, memo)
    assert bits == 0b011 and evaluated == [{"recent"}]  # unchanged: only the volatile segment
    visit.counts["buy"] = 1
    bits, memo = segments.incremental({"age": 30}, visit, memo)
    assert bits == 0b111 and evaluated[-1] == {"recent", "buyer"}
    bits, memo = segments.incremental({"age": 17}, visit, memo)
    assert bits == 0b110 and evaluated[-1] == {"recent", "adult"}
    bits, memo = segments.incremental({"age": 17, "z0": 2, "z3": 2}, visit, memo)  # 2 of 6 attributes: all
    assert bits == 0b100_1110 and len(evaluated) == 3  # the full function ran


def test_a_value_of_another_type_is_a_change():
    segments = compile_segments({"t": "x IS TRUE"})  # schemaless: 1 and TRUE are different values
    bits, memo = segments.incremental({"x": 1}, None, None)
    assert bits == 0 and segments.incremental({"x": True}, None, memo)[0] == 1
