import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_TYPE_UNSPECIFIED: _ClassVar[ActionType]
    ACTION_TYPE_RESEGMENT: _ClassVar[ActionType]
    ACTION_TYPE_LOG_CONTACT: _ClassVar[ActionType]
    ACTION_TYPE_LOG_ACCEPTANCE: _ClassVar[ActionType]
    ACTION_TYPE_LOG_REJECTION: _ClassVar[ActionType]
    ACTION_TYPE_USER_EXPRESSION: _ClassVar[ActionType]
    ACTION_TYPE_TRIGGER_EVENTS: _ClassVar[ActionType]
    ACTION_TYPE_LOG_DATA: _ClassVar[ActionType]
    ACTION_TYPE_JOURNEY_START: _ClassVar[ActionType]
    ACTION_TYPE_JOURNEY_CONTINUE: _ClassVar[ActionType]
    ACTION_TYPE_JOURNEY_STOP: _ClassVar[ActionType]
    ACTION_TYPE_SUPPRESS_OFFER: _ClassVar[ActionType]
    ACTION_TYPE_NOTIFY: _ClassVar[ActionType]
    ACTION_TYPE_OFFER: _ClassVar[ActionType]

class ActionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_STATE_UNSPECIFIED: _ClassVar[ActionState]
    ACTION_STATE_FIRED: _ClassVar[ActionState]
    ACTION_STATE_OFFERED: _ClassVar[ActionState]
    ACTION_STATE_ACCEPTED: _ClassVar[ActionState]
    ACTION_STATE_REJECTED: _ClassVar[ActionState]
    ACTION_STATE_ERRORED: _ClassVar[ActionState]
    ACTION_STATE_JOURNEY_STARTED: _ClassVar[ActionState]
    ACTION_STATE_JOURNEY_CONTINUED: _ClassVar[ActionState]
    ACTION_STATE_JOURNEY_STOPPED: _ClassVar[ActionState]
ACTION_TYPE_UNSPECIFIED: ActionType
ACTION_TYPE_RESEGMENT: ActionType
ACTION_TYPE_LOG_CONTACT: ActionType
ACTION_TYPE_LOG_ACCEPTANCE: ActionType
ACTION_TYPE_LOG_REJECTION: ActionType
ACTION_TYPE_USER_EXPRESSION: ActionType
ACTION_TYPE_TRIGGER_EVENTS: ActionType
ACTION_TYPE_LOG_DATA: ActionType
ACTION_TYPE_JOURNEY_START: ActionType
ACTION_TYPE_JOURNEY_CONTINUE: ActionType
ACTION_TYPE_JOURNEY_STOP: ActionType
ACTION_TYPE_SUPPRESS_OFFER: ActionType
ACTION_TYPE_NOTIFY: ActionType
ACTION_TYPE_OFFER: ActionType
ACTION_STATE_UNSPECIFIED: ActionState
ACTION_STATE_FIRED: ActionState
ACTION_STATE_OFFERED: ActionState
ACTION_STATE_ACCEPTED: ActionState
ACTION_STATE_REJECTED: ActionState
ACTION_STATE_ERRORED: ActionState
ACTION_STATE_JOURNEY_STARTED: ActionState
ACTION_STATE_JOURNEY_CONTINUED: ActionState
ACTION_STATE_JOURNEY_STOPPED: ActionState

class Action(_message.Message):
    __slots__ = ("action_id", "type", "rule_id", "ruleset_version", "state", "session_id", "customer_id", "anonymous", "event_name", "time", "error_code", "error_message", "media_type", "decision_id", "trace_id", "resegment", "offer_response", "user_expression", "trigger_events", "log_data", "journey", "suppress_offer", "notify")
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    RULESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    RESEGMENT_FIELD_NUMBER: _ClassVar[int]
    OFFER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    USER_EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LOG_DATA_FIELD_NUMBER: _ClassVar[int]
    JOURNEY_FIELD_NUMBER: _ClassVar[int]
    SUPPRESS_OFFER_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    action_id: str
    type: ActionType
    rule_id: str
    ruleset_version: int
    state: ActionState
    session_id: str
    customer_id: str
    anonymous: bool
    event_name: str
    time: _timestamp_pb2.Timestamp
    error_code: str
    error_message: str
    media_type: str
    decision_id: str
    trace_id: str
    resegment: ResegmentDetails
    offer_response: OfferResponseDetails
    user_expression: UserExpressionDetails
    trigger_events: TriggerEventsDetails
    log_data: LogDataDetails
    journey: JourneyDetails
    suppress_offer: SuppressOfferDetails
    notify: NotifyDetails
    def __init__(self, action_id: _Optional[str] = ..., type: _Optional[_Union[ActionType, str]] = ..., rule_id: _Optional[str] = ..., ruleset_version: _Optional[int] = ..., state: _Optional[_Union[ActionState, str]] = ..., session_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., anonymous: _Optional[bool] = ..., event_name: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_code: _Optional[str] = ..., error_message: _Optional[str] = ..., media_type: _Optional[str] = ..., decision_id: _Optional[str] = ..., trace_id: _Optional[str] = ..., resegment: _Optional[_Union[ResegmentDetails, _Mapping]] = ..., offer_response: _Optional[_Union[OfferResponseDetails, _Mapping]] = ..., user_expression: _Optional[_Union[UserExpressionDetails, _Mapping]] = ..., trigger_events: _Optional[_Union[TriggerEventsDetails, _Mapping]] = ..., log_data: _Optional[_Union[LogDataDetails, _Mapping]] = ..., journey: _Optional[_Union[JourneyDetails, _Mapping]] = ..., suppress_offer: _Optional[_Union[SuppressOfferDetails, _Mapping]] = ..., notify: _Optional[_Union[NotifyDetails, _Mapping]] = ...) -> None: ...

class ResegmentDetails(_message.Message):
    __slots__ = ("flowcharts", "segments_entered", "segments_left")
    FLOWCHARTS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_ENTERED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    flowcharts: _containers.RepeatedScalarFieldContainer[str]
    segments_entered: _containers.RepeatedScalarFieldContainer[str]
    segments_left: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, flowcharts: _Optional[_Iterable[str]] = ..., segments_entered: _Optional[_Iterable[str]] = ..., segments_left: _Optional[_Iterable[str]] = ...) -> None: ...

class OfferResponseDetails(_message.Message):
    __slots__ = ("treatment_codes", "offer_codes", "response_type", "from_last_recommended")
    TREATMENT_CODES_FIELD_NUMBER: _ClassVar[int]
    OFFER_CODES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    FROM_LAST_RECOMMENDED_FIELD_NUMBER: _ClassVar[int]
    treatment_codes: _containers.RepeatedScalarFieldContainer[str]
    offer_codes: _containers.RepeatedScalarFieldContainer[str]
    response_type: str
    from_last_recommended: bool
    def __init__(self, treatment_codes: _Optional[_Iterable[str]] = ..., offer_codes: _Optional[_Iterable[str]] = ..., response_type: _Optional[str] = ..., from_last_recommended: _Optional[bool] = ...) -> None: ...

class UserExpressionDetails(_message.Message):
    __slots__ = ("expression", "value", "assigned_attribute")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_ATTRIBUTE_FIELD_NUMBER: _ClassVar[int]
    expression: str
    value: _value_pb2.Value
    assigned_attribute: str
    def __init__(self, expression: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., assigned_attribute: _Optional[str] = ...) -> None: ...

class TriggerEventsDetails(_message.Message):
    __slots__ = ("events", "depth")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedScalarFieldContainer[str]
    depth: int
    def __init__(self, events: _Optional[_Iterable[str]] = ..., depth: _Optional[int] = ...) -> None: ...

class LogDataDetails(_message.Message):
    __slots__ = ("table", "columns")
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    table: str
    columns: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, table: _Optional[str] = ..., columns: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class JourneyDetails(_message.Message):
    __slots__ = ("journey", "step")
    JOURNEY_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    journey: str
    step: int
    def __init__(self, journey: _Optional[str] = ..., step: _Optional[int] = ...) -> None: ...

class SuppressOfferDetails(_message.Message):
    __slots__ = ("offer_code", "reason")
    OFFER_CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    offer_code: str
    reason: str
    def __init__(self, offer_code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NotifyDetails(_message.Message):
    __slots__ = ("topic", "message", "data")
    class DataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    topic: str
    message: str
    data: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, topic: _Optional[str] = ..., message: _Optional[str] = ..., data: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class Advisory(_message.Message):
    __slots__ = ("code", "message", "rule_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    rule_id: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., rule_id: _Optional[str] = ...) -> None: ...
