from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MembershipChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBERSHIP_CHANGE_UNSPECIFIED: _ClassVar[MembershipChange]
    MEMBERSHIP_CHANGE_ENTERED: _ClassVar[MembershipChange]
    MEMBERSHIP_CHANGE_LEFT: _ClassVar[MembershipChange]
    MEMBERSHIP_CHANGE_STAYED_IN: _ClassVar[MembershipChange]
    MEMBERSHIP_CHANGE_STAYED_OUT: _ClassVar[MembershipChange]
    MEMBERSHIP_CHANGE_NOT_APPLICABLE: _ClassVar[MembershipChange]

class OfferStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFER_STEP_UNSPECIFIED: _ClassVar[OfferStep]
    OFFER_STEP_ELIGIBILITY: _ClassVar[OfferStep]
    OFFER_STEP_SUPPRESSION: _ClassVar[OfferStep]
    OFFER_STEP_CAP: _ClassVar[OfferStep]
    OFFER_STEP_DEDUPE: _ClassVar[OfferStep]
    OFFER_STEP_SCORE: _ClassVar[OfferStep]
    OFFER_STEP_TOP_N: _ClassVar[OfferStep]
    OFFER_STEP_DATES: _ClassVar[OfferStep]
MEMBERSHIP_CHANGE_UNSPECIFIED: MembershipChange
MEMBERSHIP_CHANGE_ENTERED: MembershipChange
MEMBERSHIP_CHANGE_LEFT: MembershipChange
MEMBERSHIP_CHANGE_STAYED_IN: MembershipChange
MEMBERSHIP_CHANGE_STAYED_OUT: MembershipChange
MEMBERSHIP_CHANGE_NOT_APPLICABLE: MembershipChange
OFFER_STEP_UNSPECIFIED: OfferStep
OFFER_STEP_ELIGIBILITY: OfferStep
OFFER_STEP_SUPPRESSION: OfferStep
OFFER_STEP_CAP: OfferStep
OFFER_STEP_DEDUPE: OfferStep
OFFER_STEP_SCORE: OfferStep
OFFER_STEP_TOP_N: OfferStep
OFFER_STEP_DATES: OfferStep

class Trace(_message.Message):
    __slots__ = ("rules", "segments", "offers", "callouts")
    RULES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    CALLOUTS_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[RuleTrace]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentTrace]
    offers: _containers.RepeatedCompositeFieldContainer[OfferTrace]
    callouts: _containers.RepeatedCompositeFieldContainer[CalloutTrace]
    def __init__(self, rules: _Optional[_Iterable[_Union[RuleTrace, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[SegmentTrace, _Mapping]]] = ..., offers: _Optional[_Iterable[_Union[OfferTrace, _Mapping]]] = ..., callouts: _Optional[_Iterable[_Union[CalloutTrace, _Mapping]]] = ...) -> None: ...

class CalloutTrace(_message.Message):
    __slots__ = ("name", "arguments", "value", "outcome")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    name: str
    arguments: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    value: _value_pb2.Value
    outcome: str
    def __init__(self, name: _Optional[str] = ..., arguments: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., outcome: _Optional[str] = ...) -> None: ...

class ExpressionTrace(_message.Message):
    __slots__ = ("expression", "value", "operands", "reads", "skipped")
    class ReadsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    OPERANDS_FIELD_NUMBER: _ClassVar[int]
    READS_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    expression: str
    value: _value_pb2.Value
    operands: _containers.RepeatedCompositeFieldContainer[ExpressionTrace]
    reads: _containers.MessageMap[str, _value_pb2.Value]
    skipped: bool
    def __init__(self, expression: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., operands: _Optional[_Iterable[_Union[ExpressionTrace, _Mapping]]] = ..., reads: _Optional[_Mapping[str, _value_pb2.Value]] = ..., skipped: _Optional[bool] = ...) -> None: ...

class RuleTrace(_message.Message):
    __slots__ = ("rule_id", "event_name", "condition", "matched", "action_ids")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    ACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    event_name: str
    condition: ExpressionTrace
    matched: bool
    action_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rule_id: _Optional[str] = ..., event_name: _Optional[str] = ..., condition: _Optional[_Union[ExpressionTrace, _Mapping]] = ..., matched: _Optional[bool] = ..., action_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SegmentTrace(_message.Message):
    __slots__ = ("flowchart", "segment", "condition", "change", "reason")
    FLOWCHART_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    flowchart: str
    segment: str
    condition: ExpressionTrace
    change: MembershipChange
    reason: str
    def __init__(self, flowchart: _Optional[str] = ..., segment: _Optional[str] = ..., condition: _Optional[_Union[ExpressionTrace, _Mapping]] = ..., change: _Optional[_Union[MembershipChange, str]] = ..., reason: _Optional[str] = ...) -> None: ...

class OfferTrace(_message.Message):
    __slots__ = ("interaction_point", "offer_code", "treatment_rule_id", "segment", "step", "kept", "score", "reason")
    INTERACTION_POINT_FIELD_NUMBER: _ClassVar[int]
    OFFER_CODE_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    interaction_point: str
    offer_code: str
    treatment_rule_id: str
    segment: str
    step: OfferStep
    kept: bool
    score: float
    reason: str
    def __init__(self, interaction_point: _Optional[str] = ..., offer_code: _Optional[str] = ..., treatment_rule_id: _Optional[str] = ..., segment: _Optional[str] = ..., step: _Optional[_Union[OfferStep, str]] = ..., kept: _Optional[bool] = ..., score: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...
