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

class BillingDatasourceAws(_message.Message):
    __slots__ = ("id", "name", "bucket_name", "prefix", "role_arn", "eks_split", "eks_split_data_enabled", "start_date", "end_date", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUCKET_NAME_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    ROLE_ARN_FIELD_NUMBER: _ClassVar[int]
    EKS_SPLIT_FIELD_NUMBER: _ClassVar[int]
    EKS_SPLIT_DATA_ENABLED_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    bucket_name: str
    prefix: str
    role_arn: str
    eks_split: bool
    eks_split_data_enabled: bool
    start_date: str
    end_date: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., bucket_name: _Optional[str] = ..., prefix: _Optional[str] = ..., role_arn: _Optional[str] = ..., eks_split: _Optional[bool] = ..., eks_split_data_enabled: _Optional[bool] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("billing_datasource_aws",)
    BILLING_DATASOURCE_AWS_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_aws: BillingDatasourceAws
    def __init__(self, billing_datasource_aws: _Optional[_Union[BillingDatasourceAws, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("billing_datasource_aws", "update_mask")
    BILLING_DATASOURCE_AWS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_aws: BillingDatasourceAws
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_aws: _Optional[_Union[BillingDatasourceAws, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAwsResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceAws]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceAws, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("billing_datasource_aws",)
    BILLING_DATASOURCE_AWS_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_aws: BillingDatasourceAws
    def __init__(self, billing_datasource_aws: _Optional[_Union[BillingDatasourceAws, _Mapping]] = ...) -> None: ...

class ValidateBillingDatasourceAwsResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class ImportBillingDatasourceAwsRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BillingImport(_message.Message):
    __slots__ = ("datasource_id", "status", "files_seen", "months_replaced", "months_unchanged", "quarantined", "dimensions_recomputed", "message")
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILES_SEEN_FIELD_NUMBER: _ClassVar[int]
    MONTHS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    MONTHS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_RECOMPUTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    status: str
    files_seen: int
    months_replaced: _containers.RepeatedScalarFieldContainer[str]
    months_unchanged: _containers.RepeatedScalarFieldContainer[str]
    quarantined: _containers.RepeatedCompositeFieldContainer[QuarantinedBillingFile]
    dimensions_recomputed: int
    message: str
    def __init__(self, datasource_id: _Optional[str] = ..., status: _Optional[str] = ..., files_seen: _Optional[int] = ..., months_replaced: _Optional[_Iterable[str]] = ..., months_unchanged: _Optional[_Iterable[str]] = ..., quarantined: _Optional[_Iterable[_Union[QuarantinedBillingFile, _Mapping]]] = ..., dimensions_recomputed: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class QuarantinedBillingFile(_message.Message):
    __slots__ = ("key", "reason")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    key: str
    reason: str
    def __init__(self, key: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ListBillingPeriodsRequest(_message.Message):
    __slots__ = ("datasource_id",)
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    def __init__(self, datasource_id: _Optional[str] = ...) -> None: ...

class BillingPeriod(_message.Message):
    __slots__ = ("billing_period", "rows", "billed_cost", "source_keys", "imported_at")
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BILLED_COST_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEYS_FIELD_NUMBER: _ClassVar[int]
    IMPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    rows: int
    billed_cost: str
    source_keys: _containers.RepeatedScalarFieldContainer[str]
    imported_at: _timestamp_pb2.Timestamp
    def __init__(self, billing_period: _Optional[str] = ..., rows: _Optional[int] = ..., billed_cost: _Optional[str] = ..., source_keys: _Optional[_Iterable[str]] = ..., imported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListBillingPeriodsResponse(_message.Message):
    __slots__ = ("billing_periods",)
    BILLING_PERIODS_FIELD_NUMBER: _ClassVar[int]
    billing_periods: _containers.RepeatedCompositeFieldContainer[BillingPeriod]
    def __init__(self, billing_periods: _Optional[_Iterable[_Union[BillingPeriod, _Mapping]]] = ...) -> None: ...

class BillingFile(_message.Message):
    __slots__ = ("key", "etag", "size", "last_modified", "billing_period", "status", "reason", "seen_at")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEEN_AT_FIELD_NUMBER: _ClassVar[int]
    key: str
    etag: str
    size: int
    last_modified: _timestamp_pb2.Timestamp
    billing_period: str
    status: str
    reason: str
    seen_at: _timestamp_pb2.Timestamp
    def __init__(self, key: _Optional[str] = ..., etag: _Optional[str] = ..., size: _Optional[int] = ..., last_modified: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_period: _Optional[str] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., seen_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListBillingFilesRequest(_message.Message):
    __slots__ = ("datasource_id", "status")
    DATASOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    datasource_id: str
    status: str
    def __init__(self, datasource_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ListBillingFilesResponse(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[BillingFile]
    def __init__(self, files: _Optional[_Iterable[_Union[BillingFile, _Mapping]]] = ...) -> None: ...
