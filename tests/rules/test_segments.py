"""compile_segments: one function, membership bits, each attribute read once, shared work done once."""

from __future__ import annotations

from segflow.rules import Attribute, EvalContext, Schema, compile_segments

CONDITIONS = {
    "adult": "age >= 18",
    "adult_fr": "age >= 18 AND country = 'FR'",
    "unknown_age": "age IS NULL",
    "not_adult": "NOT (age >= 18)",
    "vip": "EXTERNALCALLOUT('score', customer) > 50",
    "vip_fr": "country = 'FR' AND EXTERNALCALLOUT('score', customer) > 50",
}


class CountingContext(EvalContext):
    def __init__(self, score=60):
        self.calls, self.score = [], score

    def callout(self, name, args):
        self.calls.append((name, args))
        return self.score


def test_bits_names_and_names_of():
    segments = compile_segments(CONDITIONS)
    ctx = CountingContext()
    bits = segments.bits({"age": 30, "country": "FR", "customer": "c1"}, ctx)
    assert segments.names_of(bits) == {"adult", "adult_fr", "vip", "vip_fr"}
    assert bits == 0b110011 and segments.names[0] == "adult"
    assert segments({"age": None, "country": "DE"}, CountingContext(0)) == {"unknown_age"}
    assert segments.names_of(0) == frozenset()


def test_a_shared_callout_is_called_once_per_evaluation():
    segments = compile_segments(CONDITIONS)
    ctx = CountingContext()
    segments.bits({"age": 30, "country": "FR", "customer": "c1"}, ctx)
    assert ctx.calls == [("score", ("c1",))]


def test_a_shared_callout_behind_a_false_condition_is_not_called():
    segments = compile_segments({"a": "country = 'FR' AND EXTERNALCALLOUT('score', 1) > 1",
                                 "b": "country = 'FR' AND EXTERNALCALLOUT('score', 1) < 100"})
    ctx = CountingContext()
    assert segments.bits({"country": "DE"}, ctx) == 0 and ctx.calls == []
    assert segments.bits({"country": "FR"}, ctx) == 0b11 and len(ctx.calls) == 1


def test_each_attribute_is_read_once_and_shared_tests_computed_once():
    segments = compile_segments(CONDITIONS, Schema(attributes={"age": Attribute("int"),
                                                               "country": Attribute("string"),
                                                               "customer": Attribute("string")}))
    body = segments.source.split("\n", 1)[1]  # after the header comment quoting the conditions
    assert body.count("attr('age')") == 1 and body.count("attr('country')") == 1
    assert body.count("> 50") == 1  # the callout comparison, shared by vip and vip_fr
    assert segments.attributes == {"age", "country", "customer"} and segments.callouts == {"score"}


def test_reads_are_counted_on_the_row():
    class CountingRow(dict):
        reads = 0

        def get(self, key, default=None):
            CountingRow.reads += 1
            return super().get(key, default)

    segments = compile_segments({f"s{i}": f"age > {i} OR country = 'FR'" for i in range(50)})
    segments.bits(CountingRow(age=20, country="FR"))
    assert CountingRow.reads == 2


def test_now_is_asked_once_per_evaluation():
    class Clock(EvalContext):
        asked = 0

        def now(self):
            Clock.asked += 1
            return super().now()

    segments = compile_segments({"a": "HOUR(NOW()) >= 0", "b": "YEAR(NOW()) > 2000", "c": "NOW() > t"})
    assert segments.bits({}, Clock()) == 0b011 and Clock.asked == 1


def test_no_segments():
    assert compile_segments({}).bits({}) == 0


def test_membership_bits_past_one_accumulator():
    # Bits are kept in one small int per 30 segments and joined at the end: every bit lands in its place,
    # in the full function and in the gated one incremental resegmentation runs.
    conditions = {f"s{i}": f"age > {i}" if i % 3 else f"age = {i}" for i in range(95)}
    segments = compile_segments(conditions, incremental=True)
    for age in (0, 29, 30, 31, 60, 64, 90, 200):
        expected = sum(1 << i for i in range(95) if (age > i if i % 3 else age == i))
        assert segments.bits({"age": age}) == expected
        assert segments.subset({"age": age}, None, bytes([1]) * 95) == expected
        assert segments.subset({"age": age}, None, bytes([i >= 60 for i in range(95)])) == expected >> 60 << 60
    assert segments.bits({}) == 0
