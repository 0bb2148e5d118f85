"""The on-disk cache of compiled rulesets: a restart, another worker or a rollback rebuilds a ruleset's
evaluators from bytes instead of parsing and compiling it again.

An entry is keyed by the sha256 of the ruleset's text (its YAML, or its serialized message) and of what made
its code: segflow's version, the engine's own source (this package) and the interpreter's bytecode magic, so
code is only ever read by the engine that generated it. It holds the Ruleset message, the warnings and every
evaluator's stored state (marshalled code objects and the names the runtime needs), after a header and the
sha256 of the rest. An entry that is short, corrupt or not of this shape is ignored (deleted, then rewritten by
the compile that replaces it), and every code object read is verified against compile.py's whitelist before
it runs. The directory holds at most `max_bytes`: past that, the least recently used entries go.

The directory is trusted as the rest of the data directory is (marshal is not meant for hostile bytes): the
checksum and the verification catch corruption and stale entries, not someone who can write there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import logging
import marshal
import os
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from segflow.v1 import ruleset_pb2

from segflow.rules.errors import RuleError
from segflow.rules.ruleset import CompiledRuleset, Stored, compile_ruleset
from segflow.rules.ruleset_yaml import LoadedRuleset

log = logging.getLogger(__name__)

HEADER = b"segflow compiled ruleset 1\n"
SUFFIX = ".compiled"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # a 10,000-rule ruleset is ~25 MB
ABANDONED_SECONDS = 600.0


class Entry(NamedTuple):
    """One cached compile: the ruleset, its warnings and its evaluators' states by ruleset path."""

    ruleset: ruleset_pb2.Ruleset
    warnings: tuple[RuleError, ...]
    evaluators: dict[str, tuple]


@lru_cache(maxsize=1)
def engine_stamp() -> bytes:
    """What generated the cached code: segflow's version, this package's source and the bytecode format."""
    try:
        version = importlib.metadata.version("segflow")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree: the source digest decides
        version = "source"
    engine = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        engine.update(path.name.encode() + b"\0" + path.read_bytes())
    return b"\0".join([version.encode(), sys.implementation.cache_tag.encode(), importlib.util.MAGIC_NUMBER,
                       engine.digest()])


def entry_key(text: str | bytes) -> str:
    """The entry name of a ruleset text for this engine."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(engine_stamp() + b"\0" + data).hexdigest()


class CompiledCache:
    """Compiled rulesets under `directory`, at most `max_bytes` of them. Safe to share between threads and
    processes: entries are written to a temporary file and renamed into place."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self.stats = {"hits": 0, "misses": 0, "rejected": 0, "written": 0}

    def ruleset(self, text: str) -> ruleset_pb2.Ruleset | None:
        """The Ruleset message of a YAML text compiled before (so without reading the YAML), else None."""
        entry = self.read(entry_key(text))
        return entry.ruleset if entry is not None else None

    def compile(self, ruleset: ruleset_pb2.Ruleset, loaded: LoadedRuleset | None = None, *,
                text: str = "") -> CompiledRuleset:
        """`compile_ruleset(ruleset, loaded)`, restoring the evaluators of the entry for `text` (the YAML the
        ruleset was read from; its serialized message when empty) where there is one, and writing the entry
        when anything had to be compiled. Raises CompileError as compile_ruleset does."""
        key = entry_key(text or ruleset.SerializeToString(deterministic=True))
        entry = self.read(key)
        stored = Stored(entries=entry.evaluators if entry is not None else {})
        compiled = compile_ruleset(ruleset, loaded, stored=stored)
        if entry is not None and not stored.compiled:
            # Warnings carry file positions only when compiled from YAML: keep those of the first compile.
            return compiled if loaded is not None else dataclasses.replace(compiled, warnings=entry.warnings)
        self.write(key, Entry(ruleset, compiled.warnings, stored.kept))
        return compiled

    def read(self, key: str) -> Entry | None:
        """The entry `key`, or None when there is none or it is unusable (then it is deleted)."""
        path = self.directory / (key + SUFFIX)
        try:
            data = path.read_bytes()
        except OSError:
            self._count("misses")
            return None
        try:
            entry = _decode(data)
            os.utime(path)  # recently used: pruned last
        except Exception as problem:  # noqa: BLE001 - whatever is wrong with it, it is not used
            log.warning("compiled cache entry %s is unusable (%s): compiling instead", path.name, problem)
            self._count("rejected")
            path.unlink(missing_ok=True)
            return None
        self._count("hits")
        return entry

    def write(self, key: str, entry: Entry) -> None:
        """Store `entry` as `key`, then prune the directory to `max_bytes` (an entry larger than that alone,
        or one marshal cannot write, is not stored)."""
        try:
            data = _encode(entry)
        except ValueError as problem:  # a value marshal does not know: compiling next time is still correct
            log.warning("compiled ruleset not cached: %s", problem)
            return
        if len(data) > self.max_bytes:
            log.warning("compiled ruleset not cached: %d bytes, over the cache's %d", len(data), self.max_bytes)
            return
        path = self.directory / (key + SUFFIX)
        temporary = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError as problem:  # a full disk, or no directory: serving does not need the cache
            log.warning("compiled ruleset not cached: %s", problem)
            with contextlib.suppress(OSError):
                temporary.unlink()
            return
        self._count("written")
        self._prune(keep=path)

    def _prune(self, keep: Path) -> None:
        """Delete the least recently used entries (never `keep`) until the directory fits `max_bytes`, and
        temporary files a write that died left (older than ABANDONED_SECONDS: a live write takes seconds)."""
        abandoned = time.time() - ABANDONED_SECONDS
        for path in self.directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):  # renamed or deleted meanwhile by its writer
                if path.stat().st_mtime < abandoned:
                    path.unlink()
        entries = []
        for path in self.directory.glob("*" + SUFFIX):
            try:
                status = path.stat()
            except OSError:  # deleted meanwhile by another process
                continue
            entries.append((status.st_mtime_ns, status.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda item: item[0]):
            if total <= self.max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.stats[outcome] += 1


def _encode(entry: Entry) -> bytes:
    payload = marshal.dumps((entry.ruleset.SerializeToString(deterministic=True),
                             tuple(dataclasses.astuple(w) for w in entry.warnings), entry.evaluators))
    return HEADER + hashlib.sha256(payload).digest() + payload


def _decode(data: bytes) -> Entry:
    """The entry in `data`; raises (ValueError and others) when it is not one written by `_encode`."""
    if not data.startswith(HEADER):
        raise ValueError("not a compiled ruleset entry")
    checksum, payload = data[len(HEADER):len(HEADER) + 32], data[len(HEADER) + 32:]
    if hashlib.sha256(payload).digest() != checksum:
        raise ValueError("checksum mismatch")
    ruleset_bytes, warnings, evaluators = marshal.loads(payload)
    if not isinstance(evaluators, dict):
        raise ValueError("no evaluators")
    return Entry(ruleset_pb2.Ruleset.FromString(ruleset_bytes), tuple(RuleError(*w) for w in warnings), evaluators)
