"""Checks a subscriber's ActionFilter once and turns it into a cheap predicate for the publish path."""

from collections.abc import Iterable

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from segflow.v1 import action_pb2, decision_service_pb2

from .errors import InvalidSubscription


class ActionMatcher:
    """Whether an action passes a filter: every given field must match, any value within a field."""

    __slots__ = ("types", "states", "session_id", "customer_id", "rule_ids")

    def __init__(self, action_filter: decision_service_pb2.ActionFilter) -> None:
        """Validate `action_filter`; raises InvalidSubscription naming the first bad field."""
        self.types = _enum_set("filter.types", action_filter.types, action_pb2.ActionType)
        self.states = _enum_set("filter.states", action_filter.states, action_pb2.ActionState)
        self.session_id = action_filter.session_id
        self.customer_id = action_filter.customer_id
        for index, rule_id in enumerate(action_filter.rule_ids):
            if not rule_id:
                raise InvalidSubscription(f"filter.rule_ids[{index}]", "must not be empty")
        self.rule_ids = frozenset(action_filter.rule_ids)

    def __call__(self, action: action_pb2.Action) -> bool:
        return (
            (not self.types or action.type in self.types)
            and (not self.states or action.state in self.states)
            and (not self.session_id or action.session_id == self.session_id)
            and (not self.customer_id or action.customer_id == self.customer_id)
            and (not self.rule_ids or action.rule_id in self.rule_ids)
        )


def _enum_set(field: str, values: Iterable[int], enum: EnumTypeWrapper) -> frozenset[int]:
    """The values as a set, refusing the UNSPECIFIED zero and numbers the enum does not define."""
    known = set(enum.values())
    for index, value in enumerate(values):
        if value == 0:
            raise InvalidSubscription(
                f"{field}[{index}]", f"{enum.Name(0)} matches nothing; leave the field empty to match any"
            )
        if value not in known:
            raise InvalidSubscription(f"{field}[{index}]", f"unknown {enum.DESCRIPTOR.name} value {value}")
    return frozenset(values)
