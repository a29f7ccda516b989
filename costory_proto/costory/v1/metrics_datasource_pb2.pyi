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

class MetricsDatasource(_message.Message):
    __slots__ = ("id", "name", "bucket_name", "prefix", "role_arn", "metrics_definition", "status", "type", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    METRICS_DEFINITION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    bucket_name: str
    prefix: str
    role_arn: str
    metrics_definition: _containers.RepeatedCompositeFieldContainer[MetricDefinition]
    status: str
    type: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., bucket_name: _Optional[str] = ..., prefix: _Optional[str] = ..., role_arn: _Optional[str] = ..., metrics_definition: _Optional[_Iterable[_Union[MetricDefinition, _Mapping]]] = ..., status: _Optional[str] = ..., type: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

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

class ValidateMetricsDatasourceResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class ImportMetricsDatasourceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class MetricImport(_message.Message):
    __slots__ = ("id", "datasource_id", "trigger", "status", "started_at", "finished_at", "files_seen", "files_imported", "files_unchanged", "files_quarantined", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    FILES_SEEN_FIELD_NUMBER: _ClassVar[int]
    FILES_IMPORTED_FIELD_NUMBER: _ClassVar[int]
    FILES_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    FILES_QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: int
    datasource_id: str
    trigger: str
    status: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    files_seen: int
    files_imported: int
    files_unchanged: int
    files_quarantined: int
    error: str
    def __init__(self, id: _Optional[int] = ..., datasource_id: _Optional[str] = ..., trigger: _Optional[str] = ..., status: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., files_seen: _Optional[int] = ..., files_imported: _Optional[int] = ..., files_unchanged: _Optional[int] = ..., files_quarantined: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ListMetricImportsRequest(_message.Message):
    __slots__ = ("datasource_id", "page_size", "page_token")
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    page_size: int
    page_token: str
    def __init__(self, datasource_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMetricImportsResponse(_message.Message):
    __slots__ = ("imports", "next_page_token")
    IMPORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    imports: _containers.RepeatedCompositeFieldContainer[MetricImport]
    next_page_token: str
    def __init__(self, imports: _Optional[_Iterable[_Union[MetricImport, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MetricFile(_message.Message):
    __slots__ = ("key", "etag", "size", "last_modified", "status", "reason", "rows", "imported_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    size: int
    last_modified: _timestamp_pb2.Timestamp
    status: str
    reason: str
    rows: int
    imported_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ..., size: _Optional[int] = ..., last_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., rows: _Optional[int] = ..., imported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListMetricFilesRequest(_message.Message):
    __slots__ = ("datasource_id", "status")
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    status: str
    def __init__(self, datasource_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListMetricFilesResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[MetricFile]
    def __init__(self, files: _Optional[_Iterable[_Union[MetricFile, _Mapping]]] = ...) -> None: ...

class QueryMetricValuesRequest(_message.Message):
    __slots__ = ("datasource_id", "metric_name", "start_date", "end_date", "group_by")
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METRIC_NAME_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    metric_name: str
    start_date: str
    end_date: str
    group_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, datasource_id: _Optional[str] = ..., metric_name: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., group_by: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricValueRow(_message.Message):
    __slots__ = ("day", "dimensions", "value")
    class DimensionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DAY_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    day: str
    dimensions: _containers.ScalarMap[str, str]
    value: float
    def __init__(self, day: _Optional[str] = ..., dimensions: _Optional[_Mapping[str, str]] = ..., value: _Optional[float] = ...) -> None: ...

class QueryMetricValuesResponse(_message.Message):
    __slots__ = ("rows", "unit")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[MetricValueRow]
    unit: str
    def __init__(self, rows: _Optional[_Iterable[_Union[MetricValueRow, _Mapping]]] = ..., unit: _Optional[str] = ...) -> None: ...
