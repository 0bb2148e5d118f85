"""segflow's rule engine: SQL expressions compiled to fast, sandboxed Python with SQL's NULL semantics.

The pipeline, one module per stage:
    parse.py     text -> sqlglot tree (size/nesting limits, syntax errors with line and column)
    check.py     tree -> typed, interned IR (names vs Schema, types, nullability, arity; all errors collected)
    generate.py  IR -> Python source (three-valued logic only where NULL is possible; shared subexpressions once)
    compile.py   source -> code object (whitelist-verified, no builtins, LRU-cached by source digest)
    stored.py    compiled rulesets on disk (a restart rebuilds evaluators from marshalled, verified code)
    runtime.py   the helper functions generated code may call; context.py what it may ask the world
    expression.py / segments.py  the two entry points; index.py rules by event name
    explain.py   opt-in slow path: each subexpression's value and reads (unparse.py gives the IR's SQL text)

Public API:
    compile_expression(sql, schema=None, *, path="", origin=None) -> Evaluator
        ev(values, ctx=None) -> SQL value (None = NULL); ev.test(values, ctx=None) -> True iff TRUE;
        ev.names / event_params / event_names / segment_names / callouts: what it depends on
    compile_segments({name: sql}, schema=None, *, paths=None, origins=None, incremental=False) -> SegmentEvaluator
        seg(values, ctx=None) -> frozenset of names; seg.bits(values, ctx=None) -> int; seg.names_of(bits);
        seg.incremental(values, ctx, memo) -> (bits, memo): only what changed since memo
    explain(ev, values, ctx=None) -> Explanation; explain_segments(seg, values, ctx=None) -> {name: Explanation}
        text, value, operands, reads (and skipped) per subexpression; to_dict() and an indented str()
    Schema, Attribute, EvalContext, CompileError, RuleError, RuleIndex, cache_info, clear_cache

`values` is any Mapping with .get (a dict of session/profile attributes). `ctx` is an EvalContext (subclass
it per session/event); it is only touched by event.x, the event functions, IN_SEGMENT, NOW() and
EXTERNALCALLOUT, and a shared stateless default is used when None. Evaluators are immutable and thread-safe;
compiling the same text against the same schema returns the same evaluator.

Semantics: comparisons, arithmetic and functions with a NULL operand are NULL; AND/OR/NOT follow SQL's truth
tables; `x IN (...)` is TRUE on a match, NULL when x is NULL or the list holds NULL without a match; a condition
matches only when TRUE. Bare names are attributes (case-sensitive, a missing key is NULL); `event.p` is a
parameter of the current event. Engine-specific choices (integer division, division by zero, LEAST/GREATEST
with NULLs, ...) are listed in runtime.py. Without a declared type, a value of the wrong Python type is not
coerced as SQLite would: comparing or combining incompatible values raises TypeError at evaluation (with a
Schema this is a compile error instead), and Python's True == 1 means TRUE = 1 holds. Floating NaN is not
given SQL's ordering.
"""

from segflow.rules.compile import CacheInfo, cache_info, clear_cache
from segflow.rules.context import EvalContext
from segflow.rules.errors import CompileError, RuleError
from segflow.rules.expression import Evaluator, compile_expression
from segflow.rules.explain import Explanation, explain, explain_segments
from segflow.rules.index import RuleIndex
from segflow.rules.schema import Attribute, Schema
from segflow.rules.segments import SegmentEvaluator, compile_segments

__all__ = [
    "Attribute", "CacheInfo", "CompileError", "EvalContext", "Evaluator", "Explanation", "RuleError", "RuleIndex",
    "Schema", "SegmentEvaluator", "cache_info", "clear_cache", "compile_expression", "compile_segments", "explain",
    "explain_segments",
]
