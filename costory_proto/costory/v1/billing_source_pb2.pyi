import datetime

from costory_proto.costory.v1 import billing_datasource_pb2 as _billing_datasource_pb2
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

class ImportBillingDatasourceRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class BillingDatasourceGcp(_message.Message):
    __slots__ = ("id", "name", "bq_uri", "is_detailed_billing", "start_date", "end_date", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BQ_URI_FIELD_NUMBER: _ClassVar[int]
    IS_DETAILED_BILLING_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    bq_uri: str
    is_detailed_billing: bool
    start_date: str
    end_date: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., bq_uri: _Optional[str] = ..., is_detailed_billing: _Optional[bool] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceGcpRequest(_message.Message):
    __slots__ = ("billing_datasource_gcp",)
    BILLING_DATASOURCE_GCP_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_gcp: BillingDatasourceGcp
    def __init__(self, billing_datasource_gcp: _Optional[_Union[BillingDatasourceGcp, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceGcpRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceGcpRequest(_message.Message):
    __slots__ = ("billing_datasource_gcp", "update_mask")
    BILLING_DATASOURCE_GCP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_gcp: BillingDatasourceGcp
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_gcp: _Optional[_Union[BillingDatasourceGcp, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceGcpRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceGcpRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceGcpResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceGcp]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceGcp, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BillingDatasourceAzure(_message.Message):
    __slots__ = ("id", "name", "storage_account_name", "container_name", "actuals_path", "amortized_path", "sas_url", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STORAGE_ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_NAME_FIELD_NUMBER: _ClassVar[int]
    ACTUALS_PATH_FIELD_NUMBER: _ClassVar[int]
    AMORTIZED_PATH_FIELD_NUMBER: _ClassVar[int]
    SAS_URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    storage_account_name: str
    container_name: str
    actuals_path: str
    amortized_path: str
    sas_url: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., storage_account_name: _Optional[str] = ..., container_name: _Optional[str] = ..., actuals_path: _Optional[str] = ..., amortized_path: _Optional[str] = ..., sas_url: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceAzureRequest(_message.Message):
    __slots__ = ("billing_datasource_azure",)
    BILLING_DATASOURCE_AZURE_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_azure: BillingDatasourceAzure
    def __init__(self, billing_datasource_azure: _Optional[_Union[BillingDatasourceAzure, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceAzureRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceAzureRequest(_message.Message):
    __slots__ = ("billing_datasource_azure", "update_mask")
    BILLING_DATASOURCE_AZURE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_azure: BillingDatasourceAzure
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_azure: _Optional[_Union[BillingDatasourceAzure, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceAzureRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAzureRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAzureResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceAzure]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceAzure, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BillingDatasourceAnthropic(_message.Message):
    __slots__ = ("id", "name", "admin_api_key", "start_date", "end_date", "type", "bq_table_uri", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADMIN_API_KEY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BQ_TABLE_URI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    admin_api_key: str
    start_date: str
    end_date: str
    type: str
    bq_table_uri: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., admin_api_key: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., type: _Optional[str] = ..., bq_table_uri: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceAnthropicRequest(_message.Message):
    __slots__ = ("billing_datasource_anthropic",)
    BILLING_DATASOURCE_ANTHROPIC_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_anthropic: BillingDatasourceAnthropic
    def __init__(self, billing_datasource_anthropic: _Optional[_Union[BillingDatasourceAnthropic, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceAnthropicRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceAnthropicRequest(_message.Message):
    __slots__ = ("billing_datasource_anthropic", "update_mask")
    BILLING_DATASOURCE_ANTHROPIC_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_anthropic: BillingDatasourceAnthropic
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_anthropic: _Optional[_Union[BillingDatasourceAnthropic, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceAnthropicRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAnthropicRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceAnthropicResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceAnthropic]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceAnthropic, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BillingDatasourceCursor(_message.Message):
    __slots__ = ("id", "name", "admin_api_key", "start_date", "end_date", "type", "bq_table_uri", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADMIN_API_KEY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BQ_TABLE_URI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    admin_api_key: str
    start_date: str
    end_date: str
    type: str
    bq_table_uri: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., admin_api_key: _Optional[str] = ..., start_date: _Optional[str] = ..., end_date: _Optional[str] = ..., type: _Optional[str] = ..., bq_table_uri: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceCursorRequest(_message.Message):
    __slots__ = ("billing_datasource_cursor",)
    BILLING_DATASOURCE_CURSOR_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_cursor: BillingDatasourceCursor
    def __init__(self, billing_datasource_cursor: _Optional[_Union[BillingDatasourceCursor, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceCursorRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceCursorRequest(_message.Message):
    __slots__ = ("billing_datasource_cursor", "update_mask")
    BILLING_DATASOURCE_CURSOR_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_cursor: BillingDatasourceCursor
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_cursor: _Optional[_Union[BillingDatasourceCursor, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceCursorRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceCursorRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceCursorResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceCursor]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceCursor, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BillingDatasourceElasticCloud(_message.Message):
    __slots__ = ("id", "name", "organization_id", "api_key", "start_date", "type", "bq_table_uri", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_ID_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BQ_TABLE_URI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    organization_id: str
    api_key: str
    start_date: str
    type: str
    bq_table_uri: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., organization_id: _Optional[str] = ..., api_key: _Optional[str] = ..., start_date: _Optional[str] = ..., type: _Optional[str] = ..., bq_table_uri: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceElasticCloudRequest(_message.Message):
    __slots__ = ("billing_datasource_elastic_cloud",)
    BILLING_DATASOURCE_ELASTIC_CLOUD_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_elastic_cloud: BillingDatasourceElasticCloud
    def __init__(self, billing_datasource_elastic_cloud: _Optional[_Union[BillingDatasourceElasticCloud, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceElasticCloudRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceElasticCloudRequest(_message.Message):
    __slots__ = ("billing_datasource_elastic_cloud", "update_mask")
    BILLING_DATASOURCE_ELASTIC_CLOUD_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_elastic_cloud: BillingDatasourceElasticCloud
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_elastic_cloud: _Optional[_Union[BillingDatasourceElasticCloud, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceElasticCloudRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceElasticCloudRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceElasticCloudResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceElasticCloud]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceElasticCloud, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class BillingDatasourceOpenai(_message.Message):
    __slots__ = ("id", "name", "admin_api_key", "start_date", "type", "bq_table_uri", "status", "status_message", "last_import_at", "findings")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ADMIN_API_KEY_FIELD_NUMBER: _ClassVar[int]
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BQ_TABLE_URI_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_IMPORT_AT_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    admin_api_key: str
    start_date: str
    type: str
    bq_table_uri: str
    status: str
    status_message: str
    last_import_at: _timestamp_pb2.Timestamp
    findings: _containers.RepeatedCompositeFieldContainer[_common_pb2.Finding]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., admin_api_key: _Optional[str] = ..., start_date: _Optional[str] = ..., type: _Optional[str] = ..., bq_table_uri: _Optional[str] = ..., status: _Optional[str] = ..., status_message: _Optional[str] = ..., last_import_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., findings: _Optional[_Iterable[_Union[_common_pb2.Finding, _Mapping]]] = ...) -> None: ...

class CreateBillingDatasourceOpenaiRequest(_message.Message):
    __slots__ = ("billing_datasource_openai",)
    BILLING_DATASOURCE_OPENAI_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_openai: BillingDatasourceOpenai
    def __init__(self, billing_datasource_openai: _Optional[_Union[BillingDatasourceOpenai, _Mapping]] = ...) -> None: ...

class GetBillingDatasourceOpenaiRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateBillingDatasourceOpenaiRequest(_message.Message):
    __slots__ = ("billing_datasource_openai", "update_mask")
    BILLING_DATASOURCE_OPENAI_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    billing_datasource_openai: BillingDatasourceOpenai
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, billing_datasource_openai: _Optional[_Union[BillingDatasourceOpenai, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteBillingDatasourceOpenaiRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceOpenaiRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBillingDatasourceOpenaiResponse(_message.Message):
    __slots__ = ("billing_datasources", "next_page_token")
    BILLING_DATASOURCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    billing_datasources: _containers.RepeatedCompositeFieldContainer[BillingDatasourceOpenai]
    next_page_token: str
    def __init__(self, billing_datasources: _Optional[_Iterable[_Union[BillingDatasourceOpenai, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
