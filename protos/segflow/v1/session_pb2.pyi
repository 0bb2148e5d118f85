import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from segflow.v1 import offer_pb2 as _offer_pb2
from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SESSION_STATE_UNSPECIFIED: _ClassVar[SessionState]
    SESSION_STATE_ACTIVE: _ClassVar[SessionState]
    SESSION_STATE_ENDED: _ClassVar[SessionState]
    SESSION_STATE_EXPIRED: _ClassVar[SessionState]

class JourneyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOURNEY_STATUS_UNSPECIFIED: _ClassVar[JourneyStatus]
    JOURNEY_STATUS_ACTIVE: _ClassVar[JourneyStatus]
    JOURNEY_STATUS_STOPPED: _ClassVar[JourneyStatus]
SESSION_STATE_UNSPECIFIED: SessionState
SESSION_STATE_ACTIVE: SessionState
SESSION_STATE_ENDED: SessionState
SESSION_STATE_EXPIRED: SessionState
JOURNEY_STATUS_UNSPECIFIED: JourneyStatus
JOURNEY_STATUS_ACTIVE: JourneyStatus
JOURNEY_STATUS_STOPPED: JourneyStatus

class Audience(_message.Message):
    __slots__ = ("level", "id_fields")
    class IdFieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ID_FIELDS_FIELD_NUMBER: _ClassVar[int]
    level: str
    id_fields: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, level: _Optional[str] = ..., id_fields: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("name", "event_id", "occurred_at", "parameters", "source", "context", "audience", "attributes")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    event_id: str
    occurred_at: _timestamp_pb2.Timestamp
    parameters: _containers.MessageMap[str, _value_pb2.Value]
    source: str
    context: _struct_pb2.Struct
    audience: Audience
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, name: _Optional[str] = ..., event_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parameters: _Optional[_Mapping[str, _value_pb2.Value]] = ..., source: _Optional[str] = ..., context: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., audience: _Optional[_Union[Audience, _Mapping]] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class EventStatistics(_message.Message):
    __slots__ = ("event_name", "count", "first_time", "last_time", "last_data")
    class LastDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_DATA_FIELD_NUMBER: _ClassVar[int]
    event_name: str
    count: int
    first_time: _timestamp_pb2.Timestamp
    last_time: _timestamp_pb2.Timestamp
    last_data: _containers.MessageMap[str, _value_pb2.Value]
    def __init__(self, event_name: _Optional[str] = ..., count: _Optional[int] = ..., first_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_data: _Optional[_Mapping[str, _value_pb2.Value]] = ...) -> None: ...

class JourneyState(_message.Message):
    __slots__ = ("journey", "status", "step", "last_event", "started_at", "updated_at")
    JOURNEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    LAST_EVENT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    journey: str
    status: JourneyStatus
    step: int
    last_event: str
    started_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, journey: _Optional[str] = ..., status: _Optional[_Union[JourneyStatus, str]] = ..., step: _Optional[int] = ..., last_event: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ("session_id", "channel", "audience", "customer_id", "anonymous", "attributes", "segments", "event_statistics", "last_recommended_offers", "started_at", "last_activity_at", "expires_at", "ruleset_version", "event_sequence", "journeys", "state", "suppressed_offers")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    EVENT_STATISTICS_FIELD_NUMBER: _ClassVar[int]
    LAST_RECOMMENDED_OFFERS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    RULESET_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUPPRESSED_OFFERS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    channel: str
    audience: Audience
    customer_id: str
    anonymous: bool
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    segments: _containers.RepeatedScalarFieldContainer[str]
    event_statistics: _containers.RepeatedCompositeFieldContainer[EventStatistics]
    last_recommended_offers: _containers.RepeatedCompositeFieldContainer[_offer_pb2.Offer]
    started_at: _timestamp_pb2.Timestamp
    last_activity_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    ruleset_version: int
    event_sequence: int
    journeys: _containers.RepeatedCompositeFieldContainer[JourneyState]
    state: SessionState
    suppressed_offers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., channel: _Optional[str] = ..., audience: _Optional[_Union[Audience, _Mapping]] = ..., customer_id: _Optional[str] = ..., anonymous: _Optional[bool] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ..., segments: _Optional[_Iterable[str]] = ..., event_statistics: _Optional[_Iterable[_Union[EventStatistics, _Mapping]]] = ..., last_recommended_offers: _Optional[_Iterable[_Union[_offer_pb2.Offer, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ruleset_version: _Optional[int] = ..., event_sequence: _Optional[int] = ..., journeys: _Optional[_Iterable[_Union[JourneyState, _Mapping]]] = ..., state: _Optional[_Union[SessionState, str]] = ..., suppressed_offers: _Optional[_Iterable[str]] = ...) -> None: ...
