"""Stage 4: generated source -> Python code object, verified against a whitelist and cached by digest.

The cache is a cachetools.LRUCache of at most CACHE_SIZE code objects (a few KB each; a 200-segment flowchart
is ~100 KB), keyed by the sha256 of the generated source. The generated source is a pure function of the
normalized expression, so recompiling an unchanged rule, however it is spelt, skips Python's compiler.
In front of it, `remembered` keeps up to CACHE_SIZE finished evaluators keyed by their exact input text and
schema, so redeploying an unchanged ruleset does not even parse it again. Code is compiled with the normalized SQL as its filename, so a traceback names the expression,
and runs with empty builtins: it can reach only runtime.HELPERS and the context object it is passed.
"""

from __future__ import annotations

import ast
import hashlib
import re
import threading
from typing import Callable, Hashable, NamedTuple, TypeVar

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

# What generated code may contain; anything else is a generator bug and is refused before compiling.
_NODES = frozenset({
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Return, ast.If, ast.Assign, ast.AugAssign,
    ast.Expr, ast.Name, ast.Load, ast.Store, ast.Constant, ast.Compare, ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.BitOr, ast.IfExp,
    ast.NamedExpr, ast.Call, ast.Attribute, ast.Set, ast.Tuple, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
    ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
})
_GENERATED_NAME = re.compile(r"(row|ctx|attr|param|b|_U|[amp]\d+|_t\d+|_K\d+)\Z")
_ATTRIBUTES = frozenset({"get", "startswith", "endswith", "event_params"} | CONTEXT_MEMBERS)
_CONSTANTS = (str, int, float, bool, type(None))


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
        found = build()
        with _lock:
            _evaluators[key] = found
    return found


def load(source: str, filename: str) -> tuple[Callable, str]:
    """The generated function defined by `source` and the source's sha256 hex digest.

    Raises TooComplex when CPython cannot compile the code, ValueError when it fails the whitelist.
    """
    digest = hashlib.sha256(source.encode()).hexdigest()
    with _lock:
        code = _cache.get(digest)
        _stats["hits" if code is not None else "misses"] += 1
    if code is None:
        try:
            verify(ast.parse(source))
            code = compile(source, filename, "exec", dont_inherit=True)
        except (RecursionError, MemoryError, SyntaxError) as problem:
            raise TooComplex(str(problem)) from None
        with _lock:
            _cache[digest] = code
    namespace = {"__builtins__": {}, **HELPERS}
    exec(code, namespace)  # runs only our verified module body: constant definitions and one def
    return namespace[FUNCTION], digest


def verify(tree: ast.AST) -> None:
    """Refuse any construct, name, attribute or constant the generator does not emit."""
    for node in ast.walk(tree):
        if type(node) not in _NODES:
            raise ValueError(f"generated code contains {type(node).__name__}")
        if isinstance(node, ast.Name) and not (_GENERATED_NAME.match(node.id) or node.id in HELPERS
                                               or node.id == FUNCTION):
            raise ValueError(f"generated code names {node.id!r}")
        if isinstance(node, ast.Attribute) and node.attr not in _ATTRIBUTES:
            raise ValueError(f"generated code reads attribute {node.attr!r}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, _CONSTANTS):
            raise ValueError(f"generated code holds a {type(node.value).__name__} constant")
        if isinstance(node, ast.FunctionDef) and (node.name != FUNCTION or node.decorator_list):
            raise ValueError("generated code defines an unexpected function")
