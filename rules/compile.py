"""Stage 4: generated source -> Python code object, its bytecode verified against a whitelist, cached by digest.

The cache is a cachetools.LRUCache of at most CACHE_SIZE code objects (a few KB each; a 200-segment flowchart
is ~100 KB), keyed by the sha256 of the generated source. The generated source is a pure function of the
checked IR, so recompiling an unchanged rule, however it is spelt, skips Python's compiler.
In front of it, `remembered` keeps up to CACHE_SIZE finished evaluators keyed by their exact input text and
schema, so redeploying an unchanged ruleset does not even parse it again. Code is compiled with the
normalized SQL as its filename, so a traceback names the expression, and runs with empty builtins: it can
reach only runtime.HELPERS and the context object it is passed."""

from __future__ import annotations

import dis
import gc
import hashlib
import re
import threading
from contextlib import contextmanager
from types import CodeType
from typing import Callable, Hashable, Iterator, NamedTuple, TypeVar

import cachetools

from segflow.rules.errors import TooComplex
from segflow.rules.functions import CONTEXT_MEMBERS
from segflow.rules.generate import FUNCTION
from segflow.rules.runtime import HELPERS

CACHE_SIZE = 4096
T = TypeVar("T")

_cache: cachetools.LRUCache = cachetools.LRUCache(maxsize=CACHE_SIZE)
_evaluators: cachetools.LRUCache = cachetools.LRUCache(maxsize=CACHE_SIZE)
_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}
_pause_lock = threading.Lock()
_paused = 0  # compiles running with the collector paused
_collecting = False  # whether the collector was on when the pause began

# What generated code may do, checked on its bytecode (what actually runs): these operations, these names
# (runtime.HELPERS, the methods below, generated locals and constants) and these constants. Anything else is
# a generator bug, or a cached code object that is not ours, and is refused before it runs.
_OPCODES = frozenset(dis.opmap[name] for name in (
    "CACHE", "NOP", "RESUME", "EXTENDED_ARG", "POP_TOP", "PUSH_NULL", "COPY", "SWAP", "LOAD_CONST",
    "RETURN_VALUE", "RETURN_CONST", "LOAD_NAME", "STORE_NAME", "MAKE_FUNCTION", "LOAD_FAST", "LOAD_FAST_CHECK",
    "STORE_FAST", "LOAD_FAST_LOAD_FAST", "STORE_FAST_LOAD_FAST", "STORE_FAST_STORE_FAST", "LOAD_GLOBAL",
    "LOAD_ATTR", "LOAD_METHOD", "PRECALL", "CALL", "BINARY_OP", "UNARY_NOT", "UNARY_NEGATIVE", "TO_BOOL",
    "COMPARE_OP", "IS_OP", "CONTAINS_OP", "UNPACK_SEQUENCE", "BUILD_TUPLE", "BUILD_SET", "SET_UPDATE", "JUMP_FORWARD",
    "JUMP_IF_FALSE_OR_POP", "JUMP_IF_TRUE_OR_POP", "POP_JUMP_FORWARD_IF_FALSE", "POP_JUMP_FORWARD_IF_TRUE",
    "POP_JUMP_FORWARD_IF_NONE", "POP_JUMP_FORWARD_IF_NOT_NONE", "POP_JUMP_IF_FALSE", "POP_JUMP_IF_TRUE",
    "POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE", "NOT_TAKEN", "LOAD_SMALL_INT",
) if name in dis.opmap)
_GENERATED_NAME = re.compile(r"(row|ctx|want|attr|param|b|_U|[abmpw]\d+|_t\d+|_K\d+)\Z")
_ATTRIBUTES = frozenset({"get", "startswith", "endswith", "event_params"} | CONTEXT_MEMBERS)
_NAMES = frozenset(HELPERS) | _ATTRIBUTES | {FUNCTION}
_CONSTANTS = (str, int, float, bool, type(None))


class Loaded(NamedTuple):
    """A compiled generated module: the function it defines, its source's sha256 hex digest, its code."""

    function: Callable
    digest: str
    code: CodeType


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


def cache_info() -> CacheInfo:
    """Hits and misses of the code cache since start (or the last clear_cache), and its size."""
    with _lock:
        return CacheInfo(_stats["hits"], _stats["misses"], len(_cache), _cache.maxsize)


def clear_cache() -> None:
    """Forget every compiled code object and evaluator (tests and benchmarks use it to measure cold compiles)."""
    with _lock:
        _cache.clear()
        _evaluators.clear()
        _stats.update(hits=0, misses=0)


def remembered(key: Hashable, build: Callable[[], T]) -> T:
    """The evaluator built earlier for `key` (exact input text and schema), else `build()` remembered.

    Evaluators hold no per-call state, so one can serve every caller; a build that raises is not remembered.
    """
    with _lock:
        found = _evaluators.get(key)
    if found is None:
        with collector_paused():
            found = build()
        with _lock:
            _evaluators[key] = found
    return found


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while compiling (nested and concurrent compiles share one pause; the
    collector's state before the first is restored after the last).

    A compile allocates thousands of objects, most of them kept (the compiled forms, the caches): each
    collection they trigger traverses every long-lived object of the process, which made compiling many
    rules superlinear (a fifth of compiling 10,000 rules was collections; bench_engine measures it). What
    a compile leaves as garbage is collected after it, as young objects."""
    global _paused, _collecting
    with _pause_lock:
        if not _paused:
            _collecting = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if not _paused and _collecting:
                gc.enable()


def load(source: str, filename: str) -> Loaded:
    """The generated function defined by `source`, the source's digest and the module's code object.

    Raises TooComplex when CPython cannot compile the code, ValueError when its bytecode fails the whitelist.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()
    with _lock:
        code = _cache.get(digest)
        _stats["hits" if code is not None else "misses"] += 1
    if code is None:
        try:
            code = compile(source, _printable(filename), "exec", dont_inherit=True)
        except (RecursionError, MemoryError, SyntaxError) as problem:
            raise TooComplex(str(problem)) from None
        verify(code)
        with _lock:
            _cache[digest] = code
    return Loaded(define(code), digest, code)


def define(code: CodeType) -> Callable:
    """The function a verified generated module defines (see `verify`; rules.stored verifies what it reads)."""
    namespace = {"__builtins__": {}, **HELPERS}
    exec(code, namespace)  # runs only our verified module body: constant definitions and one def
    return namespace[FUNCTION]


def _printable(filename: str) -> str:
    """The filename with what CPython refuses in one (NUL, lone surrogates) written as escapes."""
    return filename.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def verify(module: CodeType) -> None:
    """Refuse a module that does more than define `_evaluate` and its constants, or whose function does more
    than the generator emits (operation, name, constant). Raises ValueError."""
    functions = [c for c in module.co_consts if isinstance(c, CodeType)]
    if len(functions) != 1 or functions[0].co_name != FUNCTION:
        raise ValueError("generated code must define exactly one function, " + FUNCTION)
    for code in (module, functions[0]):
        operations = set(code.co_code[::2]) - _OPCODES
        if operations:
            raise ValueError(f"generated code uses {', '.join(sorted(dis.opname[o] for o in operations))}")
        for name in code.co_names + code.co_varnames:
            if name not in _NAMES and not _GENERATED_NAME.match(name):
                raise ValueError(f"generated code names {name!r}")
        for constant in code.co_consts:
            if not (_constant_ok(constant) or (code is module and constant is functions[0])):
                raise ValueError(f"generated code holds a {type(constant).__name__} constant")


def _constant_ok(value) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return all(isinstance(v, _CONSTANTS) for v in value)
    return isinstance(value, _CONSTANTS)
