from costory_proto.costory.v1 import cost_pb2 as _cost_pb2
from costory_proto.costory.v1 import options_pb2 as _options_pb2
from costory_proto.costory.v1 import query_pb2 as _query_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Dashboard(_message.Message):
    __slots__ = ("id", "name", "description", "widgets", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WIDGETS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    widgets: _containers.RepeatedCompositeFieldContainer[Widget]
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., widgets: _Optional[_Iterable[_Union[Widget, _Mapping]]] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class Widget(_message.Message):
    __slots__ = ("title", "kind", "query")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    title: str
    kind: str
    query: _query_pb2.CostQuery
    def __init__(self, title: _Optional[str] = ..., kind: _Optional[str] = ..., query: _Optional[_Union[_query_pb2.CostQuery, _Mapping]] = ...) -> None: ...

class CreateDashboardRequest(_message.Message):
    __slots__ = ("dashboard",)
    DASHBOARD_FIELD_NUMBER: _ClassVar[int]
    dashboard: Dashboard
    def __init__(self, dashboard: _Optional[_Union[Dashboard, _Mapping]] = ...) -> None: ...

class GetDashboardRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateDashboardRequest(_message.Message):
    __slots__ = ("dashboard", "update_mask")
    DASHBOARD_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    dashboard: Dashboard
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, dashboard: _Optional[_Union[Dashboard, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class DeleteDashboardRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class ListDashboardsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDashboardsResponse(_message.Message):
    __slots__ = ("dashboards", "next_page_token")
    DASHBOARDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dashboards: _containers.RepeatedCompositeFieldContainer[Dashboard]
    next_page_token: str
    def __init__(self, dashboards: _Optional[_Iterable[_Union[Dashboard, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDashboardDataRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WidgetData(_message.Message):
    __slots__ = ("title", "kind", "query", "result", "error")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    title: str
    kind: str
    query: _query_pb2.CostQuery
    result: _cost_pb2.QueryCostsResponse
    error: str
    def __init__(self, title: _Optional[str] = ..., kind: _Optional[str] = ..., query: _Optional[_Union[_query_pb2.CostQuery, _Mapping]] = ..., result: _Optional[_Union[_cost_pb2.QueryCostsResponse, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class DashboardData(_message.Message):
    __slots__ = ("dashboard_id", "widgets")
    DASHBOARD_ID_FIELD_NUMBER: _ClassVar[int]
    WIDGETS_FIELD_NUMBER: _ClassVar[int]
    dashboard_id: str
    widgets: _containers.RepeatedCompositeFieldContainer[WidgetData]
    def __init__(self, dashboard_id: _Optional[str] = ..., widgets: _Optional[_Iterable[_Union[WidgetData, _Mapping]]] = ...) -> None: ...
