import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from segflow.v1 import action_pb2 as _action_pb2
from segflow.v1 import decision_service_pb2 as _decision_service_pb2
from segflow.v1 import offer_pb2 as _offer_pb2
from segflow.v1 import ruleset_pb2 as _ruleset_pb2
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

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_ERROR: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
SEVERITY_UNSPECIFIED: Severity
SEVERITY_ERROR: Severity
SEVERITY_WARNING: Severity

class RulesetSource(_message.Message):
    __slots__ = ("yaml", "ruleset")
    YAML_FIELD_NUMBER: _ClassVar[int]
    RULESET_FIELD_NUMBER: _ClassVar[int]
    yaml: str
    ruleset: _ruleset_pb2.Ruleset
    def __init__(self, yaml: _Optional[str] = ..., ruleset: _Optional[_Union[_ruleset_pb2.Ruleset, _Mapping]] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ("severity", "code", "message", "path", "line", "column", "expression_line", "expression_column", "caret", "suggestion")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_LINE_FIELD_NUMBER: _ClassVar[int]
    EXPRESSION_COLUMN_FIELD_NUMBER: _ClassVar[int]
    CARET_FIELD_NUMBER: _ClassVar[int]
    SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    severity: Severity
    code: str
    message: str
    path: str
    line: int
    column: int
    expression_line: int
    expression_column: int
    caret: str
    suggestion: str
    def __init__(self, severity: _Optional[_Union[Severity, str]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., path: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., expression_line: _Optional[int] = ..., expression_column: _Optional[int] = ..., caret: _Optional[str] = ..., suggestion: _Optional[str] = ...) -> None: ...

class RulesetVersion(_message.Message):
    __slots__ = ("version", "name", "channel", "digest", "author", "comment", "deployed_at", "active")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    version: int
    name: str
    channel: str
    digest: str
    author: str
    comment: str
    deployed_at: _timestamp_pb2.Timestamp
    active: bool
    def __init__(self, version: _Optional[int] = ..., name: _Optional[str] = ..., channel: _Optional[str] = ..., digest: _Optional[str] = ..., author: _Optional[str] = ..., comment: _Optional[str] = ..., deployed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., active: _Optional[bool] = ...) -> None: ...

class ValidateRulesetRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: RulesetSource
    def __init__(self, source: _Optional[_Union[RulesetSource, _Mapping]] = ...) -> None: ...

class ValidateRulesetResponse(_message.Message):
    __slots__ = ("valid", "errors", "warnings")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    errors: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    warnings: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    def __init__(self, valid: _Optional[bool] = ..., errors: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., warnings: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ...) -> None: ...

class DeployRulesetRequest(_message.Message):
    __slots__ = ("source", "author", "comment")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    source: RulesetSource
    author: str
    comment: str
    def __init__(self, source: _Optional[_Union[RulesetSource, _Mapping]] = ..., author: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class DeployRulesetResponse(_message.Message):
    __slots__ = ("version", "warnings", "unchanged")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    version: RulesetVersion
    warnings: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    unchanged: bool
    def __init__(self, version: _Optional[_Union[RulesetVersion, _Mapping]] = ..., warnings: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class GetRulesetRequest(_message.Message):
    __slots__ = ("version", "channel")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    version: int
    channel: str
    def __init__(self, version: _Optional[int] = ..., channel: _Optional[str] = ...) -> None: ...

class GetRulesetResponse(_message.Message):
    __slots__ = ("version", "ruleset")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RULESET_FIELD_NUMBER: _ClassVar[int]
    version: RulesetVersion
    ruleset: _ruleset_pb2.Ruleset
    def __init__(self, version: _Optional[_Union[RulesetVersion, _Mapping]] = ..., ruleset: _Optional[_Union[_ruleset_pb2.Ruleset, _Mapping]] = ...) -> None: ...

class ListRulesetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "channel")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    channel: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class ListRulesetsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[RulesetVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[RulesetVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RollbackRulesetRequest(_message.Message):
    __slots__ = ("version", "author", "channel")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    version: int
    author: str
    channel: str
    def __init__(self, version: _Optional[int] = ..., author: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class RollbackRulesetResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: RulesetVersion
    def __init__(self, version: _Optional[_Union[RulesetVersion, _Mapping]] = ...) -> None: ...

class Expectation(_message.Message):
    __slots__ = ("segments", "not_segments", "rules_fired", "offers", "attributes", "actions", "advisories", "journeys", "error")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NOT_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    RULES_FIRED_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ADVISORIES_FIELD_NUMBER: _ClassVar[int]
    JOURNEYS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedScalarFieldContainer[str]
    not_segments: _containers.RepeatedScalarFieldContainer[str]
    rules_fired: _containers.RepeatedScalarFieldContainer[str]
    offers: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    actions: _containers.RepeatedCompositeFieldContainer[ActionExpectation]
    advisories: _containers.RepeatedScalarFieldContainer[str]
    journeys: _containers.RepeatedCompositeFieldContainer[JourneyExpectation]
    error: ErrorExpectation
    def __init__(self, segments: _Optional[_Iterable[str]] = ..., not_segments: _Optional[_Iterable[str]] = ..., rules_fired: _Optional[_Iterable[str]] = ..., offers: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ..., actions: _Optional[_Iterable[_Union[ActionExpectation, _Mapping]]] = ..., advisories: _Optional[_Iterable[str]] = ..., journeys: _Optional[_Iterable[_Union[JourneyExpectation, _Mapping]]] = ..., error: _Optional[_Union[ErrorExpectation, _Mapping]] = ...) -> None: ...

class ActionExpectation(_message.Message):
    __slots__ = ("type", "state", "rule_id", "details")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    type: _action_pb2.ActionType
    state: _action_pb2.ActionState
    rule_id: str
    details: _struct_pb2.Struct
    def __init__(self, type: _Optional[_Union[_action_pb2.ActionType, str]] = ..., state: _Optional[_Union[_action_pb2.ActionState, str]] = ..., rule_id: _Optional[str] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class JourneyExpectation(_message.Message):
    __slots__ = ("journey", "status", "step")
    JOURNEY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    journey: str
    status: _session_pb2.JourneyStatus
    step: int
    def __init__(self, journey: _Optional[str] = ..., status: _Optional[_Union[_session_pb2.JourneyStatus, str]] = ..., step: _Optional[int] = ...) -> None: ...

class ErrorExpectation(_message.Message):
    __slots__ = ("code", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: str
    reason: str
    def __init__(self, code: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CalloutMock(_message.Message):
    __slots__ = ("value", "cases")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    value: _value_pb2.Value
    cases: _containers.RepeatedCompositeFieldContainer[CalloutMockCase]
    def __init__(self, value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ..., cases: _Optional[_Iterable[_Union[CalloutMockCase, _Mapping]]] = ...) -> None: ...

class CalloutMockCase(_message.Message):
    __slots__ = ("arguments", "value")
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    arguments: _containers.RepeatedCompositeFieldContainer[_value_pb2.Value]
    value: _value_pb2.Value
    def __init__(self, arguments: _Optional[_Iterable[_Union[_value_pb2.Value, _Mapping]]] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...

class ScenarioStep(_message.Message):
    __slots__ = ("name", "command", "expect", "mocks", "at", "advance")
    class MocksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CalloutMock
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CalloutMock, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    EXPECT_FIELD_NUMBER: _ClassVar[int]
    MOCKS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ADVANCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    command: _decision_service_pb2.BatchCommand
    expect: Expectation
    mocks: _containers.MessageMap[str, CalloutMock]
    at: _timestamp_pb2.Timestamp
    advance: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., command: _Optional[_Union[_decision_service_pb2.BatchCommand, _Mapping]] = ..., expect: _Optional[_Union[Expectation, _Mapping]] = ..., mocks: _Optional[_Mapping[str, CalloutMock]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., advance: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Scenario(_message.Message):
    __slots__ = ("name", "steps", "mocks")
    class MocksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: CalloutMock
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[CalloutMock, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    MOCKS_FIELD_NUMBER: _ClassVar[int]
    name: str
    steps: _containers.RepeatedCompositeFieldContainer[ScenarioStep]
    mocks: _containers.MessageMap[str, CalloutMock]
    def __init__(self, name: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[ScenarioStep, _Mapping]]] = ..., mocks: _Optional[_Mapping[str, CalloutMock]] = ...) -> None: ...

class SimulateRulesetRequest(_message.Message):
    __slots__ = ("source", "scenario", "channel")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    source: RulesetSource
    scenario: Scenario
    channel: str
    def __init__(self, source: _Optional[_Union[RulesetSource, _Mapping]] = ..., scenario: _Optional[_Union[Scenario, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class StepResult(_message.Message):
    __slots__ = ("name", "result", "failures", "trace", "offers")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    result: _decision_service_pb2.BatchResult
    failures: _containers.RepeatedScalarFieldContainer[str]
    trace: _trace_pb2.Trace
    offers: _containers.RepeatedCompositeFieldContainer[_offer_pb2.Offer]
    def __init__(self, name: _Optional[str] = ..., result: _Optional[_Union[_decision_service_pb2.BatchResult, _Mapping]] = ..., failures: _Optional[_Iterable[str]] = ..., trace: _Optional[_Union[_trace_pb2.Trace, _Mapping]] = ..., offers: _Optional[_Iterable[_Union[_offer_pb2.Offer, _Mapping]]] = ...) -> None: ...

class SimulateRulesetResponse(_message.Message):
    __slots__ = ("passed", "steps", "coverage")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    steps: _containers.RepeatedCompositeFieldContainer[StepResult]
    coverage: Coverage
    def __init__(self, passed: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[StepResult, _Mapping]]] = ..., coverage: _Optional[_Union[Coverage, _Mapping]] = ...) -> None: ...

class Coverage(_message.Message):
    __slots__ = ("rules_not_matched", "segments_never_entered", "treatments_never_offered")
    RULES_NOT_MATCHED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_NEVER_ENTERED_FIELD_NUMBER: _ClassVar[int]
    TREATMENTS_NEVER_OFFERED_FIELD_NUMBER: _ClassVar[int]
    rules_not_matched: _containers.RepeatedScalarFieldContainer[str]
    segments_never_entered: _containers.RepeatedScalarFieldContainer[str]
    treatments_never_offered: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rules_not_matched: _Optional[_Iterable[str]] = ..., segments_never_entered: _Optional[_Iterable[str]] = ..., treatments_never_offered: _Optional[_Iterable[str]] = ...) -> None: ...

class ForgetCustomerRequest(_message.Message):
    __slots__ = ("audience", "reason", "channel")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    audience: _session_pb2.Audience
    reason: str
    channel: str
    def __init__(self, audience: _Optional[_Union[_session_pb2.Audience, _Mapping]] = ..., reason: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class ForgetCustomerResponse(_message.Message):
    __slots__ = ("profiles_deleted", "history_rows_deleted")
    PROFILES_DELETED_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ROWS_DELETED_FIELD_NUMBER: _ClassVar[int]
    profiles_deleted: int
    history_rows_deleted: int
    def __init__(self, profiles_deleted: _Optional[int] = ..., history_rows_deleted: _Optional[int] = ...) -> None: ...
