from costory_proto.costory.v1 import options_pb2 as _options_pb2
from costory_proto.costory.v1 import query_pb2 as _query_pb2
from costory_proto.costory.v1 import virtual_dimension_pb2 as _virtual_dimension_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PreviewCostSplitRequest(_message.Message):
    __slots__ = ("start_date", "end_date", "metric", "cost_filter")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    COST_FILTER_FIELD_NUMBER: _ClassVar[int]
    start_date: str
    end_date: str
    metric: _virtual_dimension_pb2.MetricSplit
    cost_filter: _containers.RepeatedCompositeFieldContainer[_virtual_dimension_pb2.RuleCondition]
    def __init__(self, start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., metric: _Optional[_Union[_virtual_dimension_pb2.MetricSplit, _Mapping]] = ..., cost_filter: _Optional[_Iterable[_Union[_virtual_dimension_pb2.RuleCondition, _Mapping]]] = ...) -> None: ...

class PreviewRow(_message.Message):
    __slots__ = ("value", "usage", "share", "cost")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    value: str
    usage: float
    share: str
    cost: str
    def __init__(self, value: _Optional[str] = ..., usage: _Optional[float] = ..., share: _Optional[str] = ..., cost: _Optional[str] = ...) -> None: ...

class PreviewCostSplitResponse(_message.Message):
    __slots__ = ("rows", "total_usage", "total_cost", "unmapped_owners")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_USAGE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    UNMAPPED_OWNERS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[PreviewRow]
    total_usage: float
    total_cost: str
    unmapped_owners: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rows: _Optional[_Iterable[_Union[PreviewRow, _Mapping]]] = ..., total_usage: _Optional[float] = ..., total_cost: _Optional[str] = ..., unmapped_owners: _Optional[_Iterable[str]] = ...) -> None: ...

class QueryCostsRequest(_message.Message):
    __slots__ = ("query", "page_size", "page_token")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    query: _query_pb2.CostQuery
    page_size: int
    page_token: str
    def __init__(self, query: _Optional[_Union[_query_pb2.CostQuery, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class CostRow(_message.Message):
    __slots__ = ("period", "group", "cost", "quantity", "previous_cost")
    class GroupEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_COST_FIELD_NUMBER: _ClassVar[int]
    period: str
    group: _containers.ScalarMap[str, str]
    cost: str
    quantity: float
    previous_cost: str
    def __init__(self, period: _Optional[str] = ..., group: _Optional[_Mapping[str, str]] = ..., cost: _Optional[str] = ..., quantity: _Optional[float] = ..., previous_cost: _Optional[str] = ...) -> None: ...

class QueryCostsResponse(_message.Message):
    __slots__ = ("rows", "next_page_token", "total_cost", "start_date", "end_date", "previous_start_date", "previous_end_date", "previous_total_cost")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_START_DATE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_END_DATE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[CostRow]
    next_page_token: str
    total_cost: str
    start_date: str
    end_date: str
    previous_start_date: str
    previous_end_date: str
    previous_total_cost: str
    def __init__(self, rows: _Optional[_Iterable[_Union[CostRow, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_cost: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., previous_start_date: _Optional[str] = ..., previous_end_date: _Optional[str] = ..., previous_total_cost: _Optional[str] = ...) -> None: ...
