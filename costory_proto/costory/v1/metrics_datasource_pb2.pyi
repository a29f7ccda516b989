from costory_proto.costory.v1 import options_pb2 as _options_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetricsDatasource(_message.Message):
    __slots__ = ("id", "name", "bucket_name", "prefix", "role_arn", "metrics_definition", "status", "type")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    METRICS_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    bucket_name: str
    prefix: str
    role_arn: str
    metrics_definition: _containers.RepeatedCompositeFieldContainer[MetricDefinition]
    status: str
    type: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., bucket_name: _Optional[str] = ..., prefix: _Optional[str] = ..., role_arn: _Optional[str] = ..., metrics_definition: _Optional[_Iterable[_Union[MetricDefinition, _Mapping]]] = ..., status: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class MetricDefinition(_message.Message):
    __slots__ = ("metric_name", "gap_filling", "aggregation", "value_column", "date_column", "dimensions", "unit")
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    GAP_FILLING_FIELD_NUMBER: _ClassVar[int]
    AGGREGATION_FIELD_NUMBER: _ClassVar[int]
    VALUE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    DATE_COLUMN_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    metric_name: str
    gap_filling: str
    aggregation: str
    value_column: str
    date_column: str
    dimensions: _containers.RepeatedScalarFieldContainer[str]
    unit: str
    def __init__(self, metric_name: _Optional[str] = ..., gap_filling: _Optional[str] = ..., aggregation: _Optional[str] = ..., value_column: _Optional[str] = ..., date_column: _Optional[str] = ..., dimensions: _Optional[_Iterable[str]] = ..., unit: _Optional[str] = ...) -> None: ...

class CreateMetricsDatasourceRequest(_message.Message):
    __slots__ = ("metrics_datasource",)
    METRICS_DATASOURCE_FIELD_NUMBER: _ClassVar[int]
    metrics_datasource: MetricsDatasource
    def __init__(self, metrics_datasource: _Optional[_Union[MetricsDatasource, _Mapping]] = ...) -> None: ...

class GetMetricsDatasourceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateMetricsDatasourceRequest(_message.Message):
    __slots__ = ("metrics_datasource", "update_mask")
    METRICS_DATASOURCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    metrics_datasource: MetricsDatasource
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, metrics_datasource: _Optional[_Union[MetricsDatasource, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteMetricsDatasourceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListMetricsDatasourcesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMetricsDatasourcesResponse(_message.Message):
    __slots__ = ("metrics_datasources", "next_page_token")
    METRICS_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    metrics_datasources: _containers.RepeatedCompositeFieldContainer[MetricsDatasource]
    next_page_token: str
    def __init__(self, metrics_datasources: _Optional[_Iterable[_Union[MetricsDatasource, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateMetricsDatasourceRequest(_message.Message):
    __slots__ = ("metrics_datasource",)
    METRICS_DATASOURCE_FIELD_NUMBER: _ClassVar[int]
    metrics_datasource: MetricsDatasource
    def __init__(self, metrics_datasource: _Optional[_Union[MetricsDatasource, _Mapping]] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("severity", "field", "summary", "detail")
    class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SEVERITY_UNSPECIFIED: _ClassVar[Finding.Severity]
        ERROR: _ClassVar[Finding.Severity]
        WARNING: _ClassVar[Finding.Severity]
    SEVERITY_UNSPECIFIED: Finding.Severity
    ERROR: Finding.Severity
    WARNING: Finding.Severity
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    severity: Finding.Severity
    field: str
    summary: str
    detail: str
    def __init__(self, severity: _Optional[_Union[Finding.Severity, str]] = ..., field: _Optional[str] = ..., summary: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class ValidateMetricsDatasourceResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ...) -> None: ...
