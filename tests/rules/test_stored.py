"""The on-disk compiled cache: a hit rebuilds every evaluator without sqlglot or Python's compiler; a corrupt,
stale or foreign entry is never used; the directory stays within its bound."""

from __future__ import annotations

import builtins
import marshal
import os

import pytest

from segflow.rules import clear_cache, explain_segments
from segflow.rules import check as check_module
from segflow.rules import compile as compile_module
from segflow.rules import stored as stored_module
from segflow.rules.ruleset_yaml import load_ruleset_yaml
from segflow.rules.stored import SUFFIX, CompiledCache
from segflow.server.examples import EXAMPLE_RULESET

SESSION = {"cart_total": 650.0, "loyalty_tier": "gold", "visits": 3, "country": "FR"}


@pytest.fixture
def compiles(monkeypatch):
    """Every sqlglot parse and Python compile from now on, by what was compiled."""
    calls = []
    real_parse = check_module.parse

    def parse(text, sink):
        calls.append(("parse", text))
        return real_parse(text, sink)

    def compile_(*args, **kwargs):
        calls.append(("compile", args[1]))
        return builtins.compile(*args, **kwargs)

    monkeypatch.setattr(check_module, "parse", parse)
    monkeypatch.setattr(compile_module, "compile", compile_, raising=False)
    return calls


def cold(cache: CompiledCache, text: str = EXAMPLE_RULESET):
    """Compile `text` through `cache` as a fresh process would: nothing remembered in memory."""
    clear_cache()
    ruleset = cache.ruleset(text)
    loaded = None if ruleset is not None else load_ruleset_yaml(text)
    return cache.compile(ruleset or loaded.ruleset, loaded, text=text)


def behaviour(compiled) -> list:
    """What the compiled ruleset decides for SESSION: segment bits (full and incremental), rule tests."""
    charts = [chart.segments for charts in compiled.flowcharts.values() for chart in charts]
    rules = [rule.condition.test(SESSION) for _, rule in compiled.rules.for_event("add_to_cart")
             if rule.condition is not None]
    return [(c.bits(SESSION), c.incremental(SESSION, None, None)[0], c.subset(SESSION, None, b"\1" * len(c.names)))
            for c in charts] + rules


def entries(cache: CompiledCache) -> list:
    return sorted(cache.directory.glob("*" + SUFFIX))


def test_a_hit_compiles_nothing_and_behaves_the_same(tmp_path, compiles):
    cache = CompiledCache(tmp_path)
    first = cold(cache)
    assert compiles and len(entries(cache)) == 1 and cache.stats["written"] == 1
    compiles.clear()
    second = cold(CompiledCache(tmp_path))  # another process: only the directory is shared
    assert compiles == []  # no YAML-to-SQL parse, no Python compile: not even the gated or test functions
    assert behaviour(second) == behaviour(first)
    assert (second.digest, second.remembered_events, second.warnings) == (first.digest, first.remembered_events,
                                                                          first.warnings)
    assert [w.line for w in second.warnings] == [w.line for w in first.warnings]


def test_explain_on_a_restored_evaluator_checks_its_text_again(tmp_path):
    cold(CompiledCache(tmp_path))
    chart = cold(CompiledCache(tmp_path)).flowcharts["Visitor"][0].segments
    explained = explain_segments(chart, SESSION)
    assert set(explained) == set(chart.names)
    assert all(bool(chart.bits(SESSION) >> i & 1) == (explained[name].value is True)
               for i, name in enumerate(chart.names))


@pytest.mark.parametrize("damage", [
    lambda data: data[:-7],                                        # cut short
    lambda data: data[:-1] + bytes([data[-1] ^ 1]),                # one bit flipped
    lambda data: b"not an entry",                                  # something else under its name
    lambda data: b"",
])
def test_regression_a_corrupt_entry_is_ignored_deleted_and_rewritten(tmp_path, compiles, damage):
    cache = CompiledCache(tmp_path)
    expected = behaviour(cold(cache))
    [path] = entries(cache)
    good = path.read_bytes()
    path.write_bytes(damage(good))
    compiles.clear()
    assert behaviour(cold(cache)) == expected
    assert compiles and cache.stats["rejected"] >= 1  # compiled again, from the YAML
    assert path.read_bytes() == good  # rewritten whole


def entry_with(path, change) -> None:
    """Rewrite the entry at `path` with `change(evaluators)` applied, with a valid checksum: only the
    verification of what it holds can refuse it."""
    data = path.read_bytes()
    ruleset, warnings, evaluators = marshal.loads(data[len(stored_module.HEADER) + 32:])
    change(evaluators)
    payload = marshal.dumps((ruleset, warnings, evaluators))
    path.write_bytes(stored_module.HEADER + stored_module.hashlib.sha256(payload).digest() + payload)


def test_regression_code_that_is_not_ours_never_runs(tmp_path, compiles):
    cache = CompiledCache(tmp_path)
    expected = behaviour(cold(cache))
    [path] = entries(cache)
    evil = builtins.compile("import os\ndef _evaluate(row, ctx=None):\n    return os.system('true')\n", "x", "exec")

    def swap_code(evaluators):
        for where, (text, state) in evaluators.items():
            fields, *middle, codes = state
            evaluators[where] = (text, (fields, *middle, (evil, *codes[1:])))
    entry_with(path, swap_code)
    compiles.clear()
    assert behaviour(cold(cache)) == expected
    assert ("compile", "x") not in compiles and any(kind == "parse" for kind, _ in compiles)


def test_an_entry_for_other_texts_at_a_path_is_not_used(tmp_path, compiles):
    cache = CompiledCache(tmp_path)
    expected = behaviour(cold(cache))
    [path] = entries(cache)
    entry_with(path, lambda evaluators: evaluators.update(
        {where: (("other",), state) for where, (text, state) in evaluators.items()}))
    compiles.clear()
    assert behaviour(cold(cache)) == expected and compiles


def test_another_engine_version_does_not_read_the_entry(tmp_path, compiles, monkeypatch):
    cache = CompiledCache(tmp_path)
    cold(cache)
    monkeypatch.setattr(stored_module, "engine_stamp", lambda: b"segflow 9.9 with other bytecode")
    compiles.clear()
    cold(cache)
    assert compiles and cache.stats["hits"] == 0 and len(entries(cache)) == 2  # its own entry beside the old


def test_the_directory_keeps_at_most_max_bytes(tmp_path):
    probe = CompiledCache(tmp_path / "probe")
    cold(probe)
    size = entries(probe)[0].stat().st_size
    cache = CompiledCache(tmp_path / "bounded", max_bytes=size * 2 + size // 2)
    texts = [EXAMPLE_RULESET.replace("name: retail-web", f"name: retail-web-{i}", 1) for i in range(4)]
    assert len(set(texts)) == 4
    for text in texts:
        cold(cache, text)
    kept = entries(cache)
    assert len(kept) == 2 and sum(p.stat().st_size for p in kept) <= cache.max_bytes
    assert cache.ruleset(texts[-1]) is not None and cache.ruleset(texts[0]) is None  # the newest stay

    tiny = CompiledCache(tmp_path / "tiny", max_bytes=size - 1)
    cold(tiny)
    assert entries(tiny) == [] and tiny.stats["written"] == 0  # larger than the bound alone: not stored



def test_regression_a_directory_that_cannot_be_written_only_loses_the_cache(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    cache = CompiledCache(not_a_directory / "compiled")
    assert behaviour(cold(cache)) == behaviour(cold(CompiledCache(tmp_path / "ok")))
    assert cache.stats["written"] == cache.stats["hits"] == 0


def test_regression_a_write_that_died_leaves_no_file_for_ever(tmp_path):
    cache = CompiledCache(tmp_path)
    abandoned, running = tmp_path / ".dead.1.2.tmp", tmp_path / ".live.3.4.tmp"
    for path in (abandoned, running):
        path.write_bytes(b"half an entry")
    old = os.path.getmtime(abandoned) - stored_module.ABANDONED_SECONDS - 1
    os.utime(abandoned, (old, old))
    cold(cache)
    assert not abandoned.exists() and running.exists() and len(entries(cache)) == 1
