import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from segflow.v1 import action_pb2 as _action_pb2
from segflow.v1 import offer_pb2 as _offer_pb2
from segflow.v1 import session_pb2 as _session_pb2
from segflow.v1 import trace_pb2 as _trace_pb2
from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DuplicationPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUPLICATION_POLICY_UNSPECIFIED: _ClassVar[DuplicationPolicy]
    DUPLICATION_POLICY_NO_DUPLICATES: _ClassVar[DuplicationPolicy]
    DUPLICATION_POLICY_ALLOW_DUPLICATES: _ClassVar[DuplicationPolicy]
DUPLICATION_POLICY_UNSPECIFIED: DuplicationPolicy
DUPLICATION_POLICY_NO_DUPLICATES: DuplicationPolicy
DUPLICATION_POLICY_ALLOW_DUPLICATES: DuplicationPolicy

class Decision(_message.Message):
    __slots__ = ("decision_id", "ruleset_version", "trace_id")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    RULESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    ruleset_version: int
    trace_id: str
    def __init__(self, decision_id: _Optional[str] = ..., ruleset_version: _Optional[int] = ..., trace_id: _Optional[str] = ...) -> None: ...

class StartSessionRequest(_message.Message):
    __slots__ = ("session_id", "channel", "audience", "parameters", "rely_on_existing_session", "explain")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    RELY_ON_EXISTING_SESSION_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    channel: str
    audience: _session_pb2.Audience
    parameters: _containers.MessageMap[str, _value_pb2.Value]
    rely_on_existing_session: bool
    explain: bool
    def __init__(self, session_id: _Optional[str] = ..., channel: _Optional[str] = ..., audience: _Optional[_Union[_session_pb2.Audience, _Mapping]] = ..., parameters: _Optional[_Mapping[str, _value_pb2.Value]] = ..., rely_on_existing_session: _Optional[bool] = ..., explain: _Optional[bool] = ...) -> None: ...

class StartSessionResponse(_message.Message):
    __slots__ = ("session", "resumed", "segments_entered", "decision", "advisories", "trace")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_ENTERED_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ADVISORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    resumed: bool
    segments_entered: _containers.RepeatedScalarFieldContainer[str]
    decision: Decision
    advisories: _containers.RepeatedCompositeFieldContainer[_action_pb2.Advisory]
    trace: _trace_pb2.Trace
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., resumed: _Optional[bool] = ..., segments_entered: _Optional[_Iterable[str]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., advisories: _Optional[_Iterable[_Union[_action_pb2.Advisory, _Mapping]]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ...) -> None: ...

class PostEventRequest(_message.Message):
    __slots__ = ("session_id", "event", "explain")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    event: _session_pb2.Event
    explain: bool
    def __init__(self, session_id: _Optional[str] = ..., event: _Optional[_Union[_session_pb2.Event, _Mapping]] = ..., explain: _Optional[bool] = ...) -> None: ...

class PostEventResponse(_message.Message):
    __slots__ = ("decision", "actions", "segments_entered", "segments_left", "advisories", "event_sequence", "duplicate", "trace")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_ENTERED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    ADVISORIES_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    actions: _containers.RepeatedCompositeFieldContainer[_action_pb2.Action]
    segments_entered: _containers.RepeatedScalarFieldContainer[str]
    segments_left: _containers.RepeatedScalarFieldContainer[str]
    advisories: _containers.RepeatedCompositeFieldContainer[_action_pb2.Advisory]
    event_sequence: int
    duplicate: bool
    trace: _trace_pb2.Trace
    def __init__(self, decision: _Optional[_Union[Decision, _Mapping]] = ..., actions: _Optional[_Iterable[_Union[_action_pb2.Action, _Mapping]]] = ..., segments_entered: _Optional[_Iterable[str]] = ..., segments_left: _Optional[_Iterable[str]] = ..., advisories: _Optional[_Iterable[_Union[_action_pb2.Advisory, _Mapping]]] = ..., event_sequence: _Optional[int] = ..., duplicate: _Optional[bool] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ...) -> None: ...

class OfferSlot(_message.Message):
    __slots__ = ("interaction_point", "count")
    INTERACTION_POINT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    interaction_point: str
    count: int
    def __init__(self, interaction_point: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class GetOffersRequest(_message.Message):
    __slots__ = ("session_id", "slots", "duplication_policy", "explain")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATION_POLICY_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    slots: _containers.RepeatedCompositeFieldContainer[OfferSlot]
    duplication_policy: DuplicationPolicy
    explain: bool
    def __init__(self, session_id: _Optional[str] = ..., slots: _Optional[_Iterable[_Union[OfferSlot, _Mapping]]] = ..., duplication_policy: _Optional[_Union[DuplicationPolicy, str]] = ..., explain: _Optional[bool] = ...) -> None: ...

class GetOffersResponse(_message.Message):
    __slots__ = ("offer_lists", "decision", "advisories", "trace")
    OFFER_LISTS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ADVISORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    offer_lists: _containers.RepeatedCompositeFieldContainer[_offer_pb2.OfferList]
    decision: Decision
    advisories: _containers.RepeatedCompositeFieldContainer[_action_pb2.Advisory]
    trace: _trace_pb2.Trace
    def __init__(self, offer_lists: _Optional[_Iterable[_Union[_offer_pb2.OfferList, _Mapping]]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., advisories: _Optional[_Iterable[_Union[_action_pb2.Advisory, _Mapping]]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ...) -> None: ...

class SetAudienceRequest(_message.Message):
    __slots__ = ("session_id", "audience", "parameters", "explain")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    audience: _session_pb2.Audience
    parameters: _containers.MessageMap[str, _value_pb2.Value]
    explain: bool
    def __init__(self, session_id: _Optional[str] = ..., audience: _Optional[_Union[_session_pb2.Audience, _Mapping]] = ..., parameters: _Optional[_Mapping[str, _value_pb2.Value]] = ..., explain: _Optional[bool] = ...) -> None: ...

class SetAudienceResponse(_message.Message):
    __slots__ = ("session", "segments_entered", "segments_left", "decision", "advisories", "trace")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_ENTERED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ADVISORIES_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    segments_entered: _containers.RepeatedScalarFieldContainer[str]
    segments_left: _containers.RepeatedScalarFieldContainer[str]
    decision: Decision
    advisories: _containers.RepeatedCompositeFieldContainer[_action_pb2.Advisory]
    trace: _trace_pb2.Trace
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., segments_entered: _Optional[_Iterable[str]] = ..., segments_left: _Optional[_Iterable[str]] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., advisories: _Optional[_Iterable[_Union[_action_pb2.Advisory, _Mapping]]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ...) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class EndSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class BatchCommand(_message.Message):
    __slots__ = ("start_session", "post_event", "get_offers", "set_audience", "get_session", "end_session")
    START_SESSION_FIELD_NUMBER: _ClassVar[int]
    POST_EVENT_FIELD_NUMBER: _ClassVar[int]
    GET_OFFERS_FIELD_NUMBER: _ClassVar[int]
    SET_AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    GET_SESSION_FIELD_NUMBER: _ClassVar[int]
    END_SESSION_FIELD_NUMBER: _ClassVar[int]
    start_session: StartSessionRequest
    post_event: PostEventRequest
    get_offers: GetOffersRequest
    set_audience: SetAudienceRequest
    get_session: GetSessionRequest
    end_session: EndSessionRequest
    def __init__(self, start_session: _Optional[_Union[StartSessionRequest, _Mapping]] = ..., post_event: _Optional[_Union[PostEventRequest, _Mapping]] = ..., get_offers: _Optional[_Union[GetOffersRequest, _Mapping]] = ..., set_audience: _Optional[_Union[SetAudienceRequest, _Mapping]] = ..., get_session: _Optional[_Union[GetSessionRequest, _Mapping]] = ..., end_session: _Optional[_Union[EndSessionRequest, _Mapping]] = ...) -> None: ...

class CommandError(_message.Message):
    __slots__ = ("code", "message", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    reason: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class BatchResult(_message.Message):
    __slots__ = ("start_session", "post_event", "get_offers", "set_audience", "get_session", "end_session", "error")
    START_SESSION_FIELD_NUMBER: _ClassVar[int]
    POST_EVENT_FIELD_NUMBER: _ClassVar[int]
    GET_OFFERS_FIELD_NUMBER: _ClassVar[int]
    SET_AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    GET_SESSION_FIELD_NUMBER: _ClassVar[int]
    END_SESSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    start_session: StartSessionResponse
    post_event: PostEventResponse
    get_offers: GetOffersResponse
    set_audience: SetAudienceResponse
    get_session: GetSessionResponse
    end_session: EndSessionResponse
    error: CommandError
    def __init__(self, start_session: _Optional[_Union[StartSessionResponse, _Mapping]] = ..., post_event: _Optional[_Union[PostEventResponse, _Mapping]] = ..., get_offers: _Optional[_Union[GetOffersResponse, _Mapping]] = ..., set_audience: _Optional[_Union[SetAudienceResponse, _Mapping]] = ..., get_session: _Optional[_Union[GetSessionResponse, _Mapping]] = ..., end_session: _Optional[_Union[EndSessionResponse, _Mapping]] = ..., error: _Optional[_Union[CommandError, _Mapping]] = ...) -> None: ...

class ExecuteBatchRequest(_message.Message):
    __slots__ = ("session_id", "commands", "stop_on_error")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    STOP_ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    commands: _containers.RepeatedCompositeFieldContainer[BatchCommand]
    stop_on_error: bool
    def __init__(self, session_id: _Optional[str] = ..., commands: _Optional[_Iterable[_Union[BatchCommand, _Mapping]]] = ..., stop_on_error: _Optional[bool] = ...) -> None: ...

class ExecuteBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[BatchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[BatchResult, _Mapping]]] = ...) -> None: ...

class ActionFilter(_message.Message):
    __slots__ = ("types", "states", "session_id", "customer_id", "rule_ids")
    TYPES_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    types: _containers.RepeatedScalarFieldContainer[_action_pb2.ActionType]
    states: _containers.RepeatedScalarFieldContainer[_action_pb2.ActionState]
    session_id: str
    customer_id: str
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, types: _Optional[_Iterable[_Union[_action_pb2.ActionType, str]]] = ..., states: _Optional[_Iterable[_Union[_action_pb2.ActionState, str]]] = ..., session_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., rule_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SubscribeActionsRequest(_message.Message):
    __slots__ = ("filter", "once", "resume_after")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ONCE_FIELD_NUMBER: _ClassVar[int]
    RESUME_AFTER_FIELD_NUMBER: _ClassVar[int]
    filter: ActionFilter
    once: bool
    resume_after: int
    def __init__(self, filter: _Optional[_Union[ActionFilter, _Mapping]] = ..., once: _Optional[bool] = ..., resume_after: _Optional[int] = ...) -> None: ...

class ActionGap(_message.Message):
    __slots__ = ("first_missed", "last_missed")
    FIRST_MISSED_FIELD_NUMBER: _ClassVar[int]
    LAST_MISSED_FIELD_NUMBER: _ClassVar[int]
    first_missed: int
    last_missed: int
    def __init__(self, first_missed: _Optional[int] = ..., last_missed: _Optional[int] = ...) -> None: ...

class SubscribeActionsResponse(_message.Message):
    __slots__ = ("sequence", "time", "action", "gap")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GAP_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    action: _action_pb2.Action
    gap: ActionGap
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[_Union[_action_pb2.Action, _Mapping]] = ..., gap: _Optional[_Union[ActionGap, _Mapping]] = ...) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ("audience", "channel")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    audience: _session_pb2.Audience
    channel: str
    def __init__(self, audience: _Optional[_Union[_session_pb2.Audience, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class RememberedEvent(_message.Message):
    __slots__ = ("event_name", "count", "first_time", "last_time")
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    count: int
    first_time: _timestamp_pb2.Timestamp
    last_time: _timestamp_pb2.Timestamp
    def __init__(self, event_name: _Optional[str] = ..., count: _Optional[int] = ..., first_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RememberedOffer(_message.Message):
    __slots__ = ("offer_code", "presentations", "last_response_at", "last_response_accepted")
    OFFER_CODE_FIELD_NUMBER: _ClassVar[int]
    PRESENTATIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_RESPONSE_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RESPONSE_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    offer_code: str
    presentations: int
    last_response_at: _timestamp_pb2.Timestamp
    last_response_accepted: bool
    def __init__(self, offer_code: _Optional[str] = ..., presentations: _Optional[int] = ..., last_response_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_response_accepted: _Optional[bool] = ...) -> None: ...

class CustomerProfile(_message.Message):
    __slots__ = ("audience_level", "customer_id", "attributes", "events", "patterns_met", "offers", "updated_at")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    AUDIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_MET_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    audience_level: str
    customer_id: str
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    events: _containers.RepeatedCompositeFieldContainer[RememberedEvent]
    patterns_met: _containers.RepeatedScalarFieldContainer[str]
    offers: _containers.RepeatedCompositeFieldContainer[RememberedOffer]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, audience_level: _Optional[str] = ..., customer_id: _Optional[str] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ..., events: _Optional[_Iterable[_Union[RememberedEvent, _Mapping]]] = ..., patterns_met: _Optional[_Iterable[str]] = ..., offers: _Optional[_Iterable[_Union[RememberedOffer, _Mapping]]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("found", "profile")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    profile: CustomerProfile
    def __init__(self, found: _Optional[bool] = ..., profile: _Optional[_Union[CustomerProfile, _Mapping]] = ...) -> None: ...
