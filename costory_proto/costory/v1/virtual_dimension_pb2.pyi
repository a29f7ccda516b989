import datetime

from costory_proto.costory.v1 import common_pb2 as _common_pb2
from costory_proto.costory.v1 import options_pb2 as _options_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VirtualDimension(_message.Message):
    __slots__ = ("id", "name", "leftover_value", "rules", "status", "status_message", "computed_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEFTOVER_VALUE_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    leftover_value: str
    rules: _containers.RepeatedCompositeFieldContainer[DimensionRule]
    status: str
    status_message: str
    computed_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., leftover_value: _Optional[str] = ..., rules: _Optional[_Iterable[_Union[DimensionRule, _Mapping]]] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class DimensionRule(_message.Message):
    __slots__ = ("name", "conditions", "value", "from_column", "split_percent", "split_even", "metric_split")
    class SplitPercentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FROM_COLUMN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SPLIT_EVEN_FIELD_NUMBER: _ClassVar[int]
    METRIC_SPLIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    conditions: _containers.RepeatedCompositeFieldContainer[RuleCondition]
    value: str
    from_column: ColumnValue
    split_percent: _containers.ScalarMap[str, float]
    split_even: _containers.RepeatedScalarFieldContainer[str]
    metric_split: MetricSplit
    def __init__(self, name: _Optional[str] = ..., conditions: _Optional[_Iterable[_Union[RuleCondition, _Mapping]]] = ..., value: _Optional[str] = ..., from_column: _Optional[_Union[ColumnValue, _Mapping]] = ..., split_percent: _Optional[_Mapping[str, float]] = ..., split_even: _Optional[_Iterable[str]] = ..., metric_split: _Optional[_Union[MetricSplit, _Mapping]] = ...) -> None: ...

class RuleCondition(_message.Message):
    __slots__ = ("column", "operator", "values")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    column: str
    operator: str
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, column: _Optional[str] = ..., operator: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ...) -> None: ...

class ValueMapping(_message.Message):
    __slots__ = ("strategy", "regex", "table")
    class TableEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    REGEX_FIELD_NUMBER: _ClassVar[int]
    TABLE_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    regex: str
    table: _containers.ScalarMap[str, str]
    def __init__(self, strategy: _Optional[str] = ..., regex: _Optional[str] = ..., table: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ColumnValue(_message.Message):
    __slots__ = ("column", "mapping")
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    column: str
    mapping: ValueMapping
    def __init__(self, column: _Optional[str] = ..., mapping: _Optional[_Union[ValueMapping, _Mapping]] = ...) -> None: ...

class MetricSplit(_message.Message):
    __slots__ = ("metrics_datasource_id", "metric_name", "dimension", "mapping")
    METRICS_DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MAPPING_FIELD_NUMBER: _ClassVar[int]
    metrics_datasource_id: str
    metric_name: str
    dimension: str
    mapping: ValueMapping
    def __init__(self, metrics_datasource_id: _Optional[str] = ..., metric_name: _Optional[str] = ..., dimension: _Optional[str] = ..., mapping: _Optional[_Union[ValueMapping, _Mapping]] = ...) -> None: ...

class CreateVirtualDimensionRequest(_message.Message):
    __slots__ = ("virtual_dimension",)
    VIRTUAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    virtual_dimension: VirtualDimension
    def __init__(self, virtual_dimension: _Optional[_Union[VirtualDimension, _Mapping]] = ...) -> None: ...

class GetVirtualDimensionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateVirtualDimensionRequest(_message.Message):
    __slots__ = ("virtual_dimension", "update_mask")
    VIRTUAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    virtual_dimension: VirtualDimension
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, virtual_dimension: _Optional[_Union[VirtualDimension, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteVirtualDimensionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListVirtualDimensionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVirtualDimensionsResponse(_message.Message):
    __slots__ = ("virtual_dimensions", "next_page_token")
    VIRTUAL_DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    virtual_dimensions: _containers.RepeatedCompositeFieldContainer[VirtualDimension]
    next_page_token: str
    def __init__(self, virtual_dimensions: _Optional[_Iterable[_Union[VirtualDimension, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateVirtualDimensionRequest(_message.Message):
    __slots__ = ("virtual_dimension", "unknown_fields")
    VIRTUAL_DIMENSION_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_FIELDS_FIELD_NUMBER: _ClassVar[int]
    virtual_dimension: VirtualDimension
    unknown_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, virtual_dimension: _Optional[_Union[VirtualDimension, _Mapping]] = ..., unknown_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class ValidateVirtualDimensionResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class RecomputeVirtualDimensionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetAllocationStateRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AllocationState(_message.Message):
    __slots__ = ("dimension_id", "dimension_name", "status", "status_message", "computed_at", "start_date", "end_date", "total_cost", "leftover_value", "leftover_cost", "leftover_percent", "values", "rules", "cost_rows")
    DIMENSION_ID_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_FIELD_NUMBER: _ClassVar[int]
    LEFTOVER_VALUE_FIELD_NUMBER: _ClassVar[int]
    LEFTOVER_COST_FIELD_NUMBER: _ClassVar[int]
    LEFTOVER_PERCENT_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    COST_ROWS_FIELD_NUMBER: _ClassVar[int]
    dimension_id: str
    dimension_name: str
    status: str
    status_message: str
    computed_at: _timestamp_pb2.Timestamp
    start_date: str
    end_date: str
    total_cost: str
    leftover_value: str
    leftover_cost: str
    leftover_percent: str
    values: _containers.RepeatedCompositeFieldContainer[ValueAmount]
    rules: _containers.RepeatedCompositeFieldContainer[RuleAmount]
    cost_rows: int
    def __init__(self, dimension_id: _Optional[str] = ..., dimension_name: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., total_cost: _Optional[str] = ..., leftover_value: _Optional[str] = ..., leftover_cost: _Optional[str] = ..., leftover_percent: _Optional[str] = ..., values: _Optional[_Iterable[_Union[ValueAmount, _Mapping]]] = ..., rules: _Optional[_Iterable[_Union[RuleAmount, _Mapping]]] = ..., cost_rows: _Optional[int] = ...) -> None: ...

class ValueAmount(_message.Message):
    __slots__ = ("value", "cost", "percent")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    value: str
    cost: str
    percent: str
    def __init__(self, value: _Optional[str] = ..., cost: _Optional[str] = ..., percent: _Optional[str] = ...) -> None: ...

class RuleAmount(_message.Message):
    __slots__ = ("rule", "cost", "cost_rows")
    RULE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    COST_ROWS_FIELD_NUMBER: _ClassVar[int]
    rule: str
    cost: str
    cost_rows: int
    def __init__(self, rule: _Optional[str] = ..., cost: _Optional[str] = ..., cost_rows: _Optional[int] = ...) -> None: ...
