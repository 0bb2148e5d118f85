import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AttributeScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTRIBUTE_SCOPE_UNSPECIFIED: _ClassVar[AttributeScope]
    ATTRIBUTE_SCOPE_SESSION: _ClassVar[AttributeScope]
    ATTRIBUTE_SCOPE_PROFILE: _ClassVar[AttributeScope]

class PatternKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PATTERN_KIND_UNSPECIFIED: _ClassVar[PatternKind]
    PATTERN_KIND_ALL_OF: _ClassVar[PatternKind]
    PATTERN_KIND_COUNTER: _ClassVar[PatternKind]
    PATTERN_KIND_WEIGHTED_COUNTER: _ClassVar[PatternKind]
ATTRIBUTE_SCOPE_UNSPECIFIED: AttributeScope
ATTRIBUTE_SCOPE_SESSION: AttributeScope
ATTRIBUTE_SCOPE_PROFILE: AttributeScope
PATTERN_KIND_UNSPECIFIED: PatternKind
PATTERN_KIND_ALL_OF: PatternKind
PATTERN_KIND_COUNTER: PatternKind
PATTERN_KIND_WEIGHTED_COUNTER: PatternKind

class Ruleset(_message.Message):
    __slots__ = ("name", "channel", "description", "audience_levels", "attributes", "events", "rules", "flowcharts", "interaction_points", "offers", "treatment_rules", "journeys", "callouts", "settings", "patterns", "profile_sources")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_LEVELS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    FLOWCHARTS_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_POINTS_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_RULES_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    CALLOUTS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_SOURCES_FIELD_NUMBER: _ClassVar[int]
    name: str
    channel: str
    description: str
    audience_levels: _containers.RepeatedCompositeFieldContainer[AudienceLevel]
    attributes: _containers.RepeatedCompositeFieldContainer[AttributeDefinition]
    events: _containers.RepeatedCompositeFieldContainer[EventDefinition]
    rules: _containers.RepeatedCompositeFieldContainer[Rule]
    flowcharts: _containers.RepeatedCompositeFieldContainer[Flowchart]
    interaction_points: _containers.RepeatedCompositeFieldContainer[InteractionPoint]
    offers: _containers.RepeatedCompositeFieldContainer[OfferDefinition]
    treatment_rules: _containers.RepeatedCompositeFieldContainer[TreatmentRule]
    journeys: _containers.RepeatedCompositeFieldContainer[Journey]
    callouts: _containers.RepeatedCompositeFieldContainer[CalloutDefinition]
    settings: RulesetSettings
    patterns: _containers.RepeatedCompositeFieldContainer[EventPattern]
    profile_sources: _containers.RepeatedCompositeFieldContainer[ProfileSourceDefinition]
    def __init__(self, name: _Optional[str] = ..., channel: _Optional[str] = ..., description: _Optional[str] = ..., audience_levels: _Optional[_Iterable[_Union[AudienceLevel, _Mapping]]] = ..., attributes: _Optional[_Iterable[_Union[AttributeDefinition, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[EventDefinition, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[Rule, _Mapping]]] = ..., flowcharts: _Optional[_Iterable[_Union[Flowchart, _Mapping]]] = ..., interaction_points: _Optional[_Iterable[_Union[InteractionPoint, _Mapping]]] = ..., offers: _Optional[_Iterable[_Union[OfferDefinition, _Mapping]]] = ..., treatment_rules: _Optional[_Iterable[_Union[TreatmentRule, _Mapping]]] = ..., journeys: _Optional[_Iterable[_Union[Journey, _Mapping]]] = ..., callouts: _Optional[_Iterable[_Union[CalloutDefinition, _Mapping]]] = ..., settings: _Optional[_Union[RulesetSettings, _Mapping]] = ..., patterns: _Optional[_Iterable[_Union[EventPattern, _Mapping]]] = ..., profile_sources: _Optional[_Iterable[_Union[ProfileSourceDefinition, _Mapping]]] = ...) -> None: ...

class AudienceLevel(_message.Message):
    __slots__ = ("name", "id_fields")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELDS_FIELD_NUMBER: _ClassVar[int]
    name: str
    id_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., id_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class AttributeDefinition(_message.Message):
    __slots__ = ("name", "type", "description", "default_value", "sensitive", "scope")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _value_pb2.ValueType
    description: str
    default_value: _value_pb2.Value
    sensitive: bool
    scope: AttributeScope
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_value_pb2.ValueType, str]] = ..., description: _Optional[str] = ..., default_value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., sensitive: _Optional[bool] = ..., scope: _Optional[_Union[AttributeScope, str]] = ...) -> None: ...

class ParameterDefinition(_message.Message):
    __slots__ = ("name", "type", "required", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: _value_pb2.ValueType
    required: bool
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[_value_pb2.ValueType, str]] = ..., required: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class EventDefinition(_message.Message):
    __slots__ = ("name", "description", "parameters", "interaction")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _containers.RepeatedCompositeFieldContainer[ParameterDefinition]
    interaction: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Iterable[_Union[ParameterDefinition, _Mapping]]] = ..., interaction: _Optional[bool] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("id", "description", "on", "condition", "then_actions", "else_actions", "priority", "disabled")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    THEN_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ELSE_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    description: str
    on: _containers.RepeatedScalarFieldContainer[str]
    condition: str
    then_actions: _containers.RepeatedCompositeFieldContainer[ActionDefinition]
    else_actions: _containers.RepeatedCompositeFieldContainer[ActionDefinition]
    priority: int
    disabled: bool
    def __init__(self, id: _Optional[str] = ..., description: _Optional[str] = ..., on: _Optional[_Iterable[str]] = ..., condition: _Optional[str] = ..., then_actions: _Optional[_Iterable[_Union[ActionDefinition, _Mapping]]] = ..., else_actions: _Optional[_Iterable[_Union[ActionDefinition, _Mapping]]] = ..., priority: _Optional[int] = ..., disabled: _Optional[bool] = ...) -> None: ...

class ActionDefinition(_message.Message):
    __slots__ = ("resegment", "log_contact", "log_acceptance", "log_rejection", "expression", "trigger_events", "log_data", "journey_start", "journey_continue", "journey_stop", "suppress_offer", "notify")
    RESEGMENT_FIELD_NUMBER: _ClassVar[int]
    LOG_CONTACT_FIELD_NUMBER: _ClassVar[int]
    LOG_ACCEPTANCE_FIELD_NUMBER: _ClassVar[int]
    LOG_REJECTION_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_EVENTS_FIELD_NUMBER: _ClassVar[int]
    LOG_DATA_FIELD_NUMBER: _ClassVar[int]
    JOURNEY_START_FIELD_NUMBER: _ClassVar[int]
    JOURNEY_CONTINUE_FIELD_NUMBER: _ClassVar[int]
    JOURNEY_STOP_FIELD_NUMBER: _ClassVar[int]
    SUPPRESS_OFFER_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    resegment: ResegmentAction
    log_contact: OfferResponseAction
    log_acceptance: OfferResponseAction
    log_rejection: OfferResponseAction
    expression: UserExpressionAction
    trigger_events: TriggerEventsAction
    log_data: LogDataAction
    journey_start: JourneyAction
    journey_continue: JourneyAction
    journey_stop: JourneyAction
    suppress_offer: SuppressOfferAction
    notify: NotifyAction
    def __init__(self, resegment: _Optional[_Union[ResegmentAction, _Mapping]] = ..., log_contact: _Optional[_Union[OfferResponseAction, _Mapping]] = ..., log_acceptance: _Optional[_Union[OfferResponseAction, _Mapping]] = ..., log_rejection: _Optional[_Union[OfferResponseAction, _Mapping]] = ..., expression: _Optional[_Union[UserExpressionAction, _Mapping]] = ..., trigger_events: _Optional[_Union[TriggerEventsAction, _Mapping]] = ..., log_data: _Optional[_Union[LogDataAction, _Mapping]] = ..., journey_start: _Optional[_Union[JourneyAction, _Mapping]] = ..., journey_continue: _Optional[_Union[JourneyAction, _Mapping]] = ..., journey_stop: _Optional[_Union[JourneyAction, _Mapping]] = ..., suppress_offer: _Optional[_Union[SuppressOfferAction, _Mapping]] = ..., notify: _Optional[_Union[NotifyAction, _Mapping]] = ...) -> None: ...

class ResegmentAction(_message.Message):
    __slots__ = ("flowcharts",)
    FLOWCHARTS_FIELD_NUMBER: _ClassVar[int]
    flowcharts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, flowcharts: _Optional[_Iterable[str]] = ...) -> None: ...

class OfferResponseAction(_message.Message):
    __slots__ = ("treatment_code", "response_type")
    TREATMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_TYPE_FIELD_NUMBER: _ClassVar[int]
    treatment_code: str
    response_type: str
    def __init__(self, treatment_code: _Optional[str] = ..., response_type: _Optional[str] = ...) -> None: ...

class UserExpressionAction(_message.Message):
    __slots__ = ("expression", "assign_to")
    EXPRESSION_FIELD_NUMBER: _ClassVar[int]
    ASSIGN_TO_FIELD_NUMBER: _ClassVar[int]
    expression: str
    assign_to: str
    def __init__(self, expression: _Optional[str] = ..., assign_to: _Optional[str] = ...) -> None: ...

class TriggerEventsAction(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, events: _Optional[_Iterable[str]] = ...) -> None: ...

class LogDataAction(_message.Message):
    __slots__ = ("table", "columns")
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TABLE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    table: str
    columns: _containers.ScalarMap[str, str]
    def __init__(self, table: _Optional[str] = ..., columns: _Optional[_Mapping[str, str]] = ...) -> None: ...

class JourneyAction(_message.Message):
    __slots__ = ("journey",)
    JOURNEY_FIELD_NUMBER: _ClassVar[int]
    journey: str
    def __init__(self, journey: _Optional[str] = ...) -> None: ...

class SuppressOfferAction(_message.Message):
    __slots__ = ("offer", "reason")
    OFFER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    offer: str
    reason: str
    def __init__(self, offer: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class NotifyAction(_message.Message):
    __slots__ = ("topic", "message", "media_type")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    topic: str
    message: str
    media_type: str
    def __init__(self, topic: _Optional[str] = ..., message: _Optional[str] = ..., media_type: _Optional[str] = ...) -> None: ...

class Flowchart(_message.Message):
    __slots__ = ("name", "audience_level", "segments")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    audience_level: str
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    def __init__(self, name: _Optional[str] = ..., audience_level: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("name", "condition", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    condition: str
    description: str
    def __init__(self, name: _Optional[str] = ..., condition: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class InteractionPoint(_message.Message):
    __slots__ = ("name", "zone")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    zone: str
    def __init__(self, name: _Optional[str] = ..., zone: _Optional[str] = ...) -> None: ...

class OfferDefinition(_message.Message):
    __slots__ = ("code", "name", "attributes", "max_presentations", "effective_at", "expires_at", "per", "suppress_after_response")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    MAX_PRESENTATIONS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    PER_FIELD_NUMBER: _ClassVar[int]
    SUPPRESS_AFTER_RESPONSE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    max_presentations: int
    effective_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    per: _duration_pb2.Duration
    suppress_after_response: _duration_pb2.Duration
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ..., max_presentations: _Optional[int] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., per: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., suppress_after_response: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TreatmentRule(_message.Message):
    __slots__ = ("id", "segment", "interaction_point", "offer", "score", "eligibility", "effective_at", "expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_POINT_FIELD_NUMBER: _ClassVar[int]
    OFFER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    segment: str
    interaction_point: str
    offer: str
    score: str
    eligibility: str
    effective_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., segment: _Optional[str] = ..., interaction_point: _Optional[str] = ..., offer: _Optional[str] = ..., score: _Optional[str] = ..., eligibility: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Journey(_message.Message):
    __slots__ = ("name", "start_on", "continue_on", "stop_on")
    NAME_FIELD_NUMBER: _ClassVar[int]
    START_ON_FIELD_NUMBER: _ClassVar[int]
    CONTINUE_ON_FIELD_NUMBER: _ClassVar[int]
    STOP_ON_FIELD_NUMBER: _ClassVar[int]
    name: str
    start_on: _containers.RepeatedScalarFieldContainer[str]
    continue_on: _containers.RepeatedScalarFieldContainer[str]
    stop_on: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., start_on: _Optional[_Iterable[str]] = ..., continue_on: _Optional[_Iterable[str]] = ..., stop_on: _Optional[_Iterable[str]] = ...) -> None: ...

class CalloutDefinition(_message.Message):
    __slots__ = ("name", "arity", "plugin", "target", "parameters", "timeout", "default_value", "cache_ttl", "max_concurrency", "breaker_failures", "breaker_reset", "tls")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARITY_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    CACHE_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FAILURES_FIELD_NUMBER: _ClassVar[int]
    BREAKER_RESET_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    name: str
    arity: int
    plugin: str
    target: str
    parameters: _containers.ScalarMap[str, str]
    timeout: _duration_pb2.Duration
    default_value: _value_pb2.Value
    cache_ttl: _duration_pb2.Duration
    max_concurrency: int
    breaker_failures: int
    breaker_reset: _duration_pb2.Duration
    tls: ClientTls
    def __init__(self, name: _Optional[str] = ..., arity: _Optional[int] = ..., plugin: _Optional[str] = ..., target: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., default_value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., cache_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., breaker_failures: _Optional[int] = ..., breaker_reset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tls: _Optional[_Union[ClientTls, _Mapping]] = ...) -> None: ...

class ClientTls(_message.Message):
    __slots__ = ("ca_file", "cert_file", "key_file")
    CA_FILE_FIELD_NUMBER: _ClassVar[int]
    CERT_FILE_FIELD_NUMBER: _ClassVar[int]
    KEY_FILE_FIELD_NUMBER: _ClassVar[int]
    ca_file: str
    cert_file: str
    key_file: str
    def __init__(self, ca_file: _Optional[str] = ..., cert_file: _Optional[str] = ..., key_file: _Optional[str] = ...) -> None: ...

class RulesetSettings(_message.Message):
    __slots__ = ("strict_events", "max_trigger_depth", "default_max_presentations", "default_audience_level")
    STRICT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIGGER_DEPTH_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_MAX_PRESENTATIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_AUDIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    strict_events: bool
    max_trigger_depth: int
    default_max_presentations: int
    default_audience_level: str
    def __init__(self, strict_events: _Optional[bool] = ..., max_trigger_depth: _Optional[int] = ..., default_max_presentations: _Optional[int] = ..., default_audience_level: _Optional[str] = ...) -> None: ...

class PatternEvent(_message.Message):
    __slots__ = ("event", "weight")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    event: str
    weight: float
    def __init__(self, event: _Optional[str] = ..., weight: _Optional[float] = ...) -> None: ...

class EventPattern(_message.Message):
    __slots__ = ("name", "kind", "events", "count", "threshold", "window", "starts_at", "ends_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: PatternKind
    events: _containers.RepeatedCompositeFieldContainer[PatternEvent]
    count: int
    threshold: float
    window: _duration_pb2.Duration
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[PatternKind, str]] = ..., events: _Optional[_Iterable[_Union[PatternEvent, _Mapping]]] = ..., count: _Optional[int] = ..., threshold: _Optional[float] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProfileSourceDefinition(_message.Message):
    __slots__ = ("audience_level", "plugin", "target", "parameters", "timeout", "cache_ttl", "max_concurrency", "breaker_failures", "breaker_reset", "tls")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AUDIENCE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CACHE_TTL_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FAILURES_FIELD_NUMBER: _ClassVar[int]
    BREAKER_RESET_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    audience_level: str
    plugin: str
    target: str
    parameters: _containers.ScalarMap[str, str]
    timeout: _duration_pb2.Duration
    cache_ttl: _duration_pb2.Duration
    max_concurrency: int
    breaker_failures: int
    breaker_reset: _duration_pb2.Duration
    tls: ClientTls
    def __init__(self, audience_level: _Optional[str] = ..., plugin: _Optional[str] = ..., target: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cache_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_concurrency: _Optional[int] = ..., breaker_failures: _Optional[int] = ..., breaker_reset: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tls: _Optional[_Union[ClientTls, _Mapping]] = ...) -> None: ...
