"""What an expression may refer to: declared attributes with types and nullability, event parameters,
segments, events, callouts, event patterns and audience id fields. Anything left as None is not checked, so the engine also works schemaless."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

# The value types of the expression language and the Python values that carry them at run time:
# string=str, int=int, double=float (int accepted), bool=bool, timestamp=aware datetime, list=list/tuple,
# any=unknown (checked only at run time).
TYPES = frozenset({"string", "int", "double", "bool", "timestamp", "list", "any"})
NUMERIC = frozenset({"int", "double"})


@dataclass(frozen=True)
class Attribute:
    """A declared value: its type and whether it may be NULL (missing counts as NULL)."""

    type: str = "any"
    nullable: bool = True

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"unknown attribute type {self.type!r}; expected one of {sorted(TYPES)}")


ANY = Attribute()


@dataclass(frozen=True)
class Schema:
    """Names an expression may use. A field left as None means "anything goes" for that kind of name."""

    attributes: Mapping[str, Attribute] | None = None
    event_params: Mapping[str, Attribute] | None = None
    segments: frozenset[str] | set[str] | None = None
    events: frozenset[str] | set[str] | None = None
    callouts: Mapping[str, int] | None = None
    patterns: frozenset[str] | set[str] | None = None
    audience_fields: frozenset[str] | set[str] | None = None

    def key(self) -> tuple:
        """A hashable value equal for schemas that check expressions identically (for the compile cache).

        Every expression compiled asks for it, so it sorts nothing: a frozenset of names is its own key (taken
        as is, its hash computed once), a mapping its frozenset of items. Sorting the 8,000 segment names of a
        large ruleset on each call took half of compiling it."""
        def items(mapping):
            return None if mapping is None else frozenset(mapping.items())

        def names(collection):
            return None if collection is None else frozenset(collection)
        return (items(self.attributes), items(self.event_params), names(self.segments), names(self.events),
                items(self.callouts), names(self.patterns), names(self.audience_fields))

    def attribute(self, name: str) -> Attribute | None:
        """The declared attribute, ANY when attributes are unchecked, None when undeclared."""
        if self.attributes is None:
            return ANY
        return self.attributes.get(name)

    def event_param(self, name: str) -> Attribute | None:
        """The declared event parameter, ANY when parameters are unchecked, None when undeclared."""
        if self.event_params is None:
            return ANY
        return self.event_params.get(name)


EMPTY = Schema()


_PYTHON_TYPES = {"string": (str,), "int": (int,), "double": (int, float), "bool": (bool,),
                 "timestamp": (datetime,), "list": (list,), "any": (object,)}


# The Python type a value of a declared type usually has: a value of exactly that type fits as it is (a
# check that needs no call to type_problem).
EXACT_TYPES = {"string": str, "int": int, "double": float, "bool": bool}


def type_problem(value: object, kind: str) -> str | None:
    """Why a value does not fit a declared type (None when it fits; NULL always fits)."""
    if value is None:
        return None
    accepted = _PYTHON_TYPES[kind]
    if isinstance(value, bool) and bool not in accepted and kind != "any":
        return "a bool"
    if isinstance(value, accepted):
        return None
    return f"a {type(value).__name__} value"
