from costory_proto.costory.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QueryFilter(_message.Message):
    __slots__ = ("field", "operator", "values")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    field: str
    operator: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, field: _Optional[str] = ..., operator: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class CostQuery(_message.Message):
    __slots__ = ("group_by", "filters", "granularity", "metric", "start_date", "end_date", "preset", "compare", "top_n", "with_quantity")
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    PRESET_FIELD_NUMBER: _ClassVar[int]
    COMPARE_FIELD_NUMBER: _ClassVar[int]
    TOP_N_FIELD_NUMBER: _ClassVar[int]
    WITH_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    group_by: _containers.RepeatedScalarFieldContainer[str]
    filters: _containers.RepeatedCompositeFieldContainer[QueryFilter]
    granularity: str
    metric: str
    start_date: str
    end_date: str
    preset: str
    compare: bool
    top_n: int
    with_quantity: bool
    def __init__(self, group_by: _Optional[_Iterable[str]] = ..., filters: _Optional[_Iterable[_Union[QueryFilter, _Mapping]]] = ..., granularity: _Optional[str] = ..., metric: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., preset: _Optional[str] = ..., compare: _Optional[bool] = ..., top_n: _Optional[int] = ..., with_quantity: _Optional[bool] = ...) -> None: ...
