from segflow.v1 import value_pb2 as _value_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Offer(_message.Message):
    __slots__ = ("code", "treatment_code", "name", "score", "attributes", "interaction_point", "segment", "treatment_rule_id")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _value_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_value_pb2.Value, _Mapping]] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    INTERACTION_POINT_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_RULE_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    treatment_code: str
    name: str
    score: float
    attributes: _containers.MessageMap[str, _value_pb2.Value]
    interaction_point: str
    segment: str
    treatment_rule_id: str
    def __init__(self, code: _Optional[str] = ..., treatment_code: _Optional[str] = ..., name: _Optional[str] = ..., score: _Optional[float] = ..., attributes: _Optional[_Mapping[str, _value_pb2.Value]] = ..., interaction_point: _Optional[str] = ..., segment: _Optional[str] = ..., treatment_rule_id: _Optional[str] = ...) -> None: ...

class OfferList(_message.Message):
    __slots__ = ("interaction_point", "offers")
    INTERACTION_POINT_FIELD_NUMBER: _ClassVar[int]
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    interaction_point: str
    offers: _containers.RepeatedCompositeFieldContainer[Offer]
    def __init__(self, interaction_point: _Optional[str] = ..., offers: _Optional[_Iterable[_Union[Offer, _Mapping]]] = ...) -> None: ...
