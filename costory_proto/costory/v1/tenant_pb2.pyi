from costory_proto.costory.v1 import options_pb2 as _options_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("tenant_id", "tenant_name")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_NAME_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    tenant_name: str
    def __init__(self, tenant_id: _Optional[str] = ..., tenant_name: _Optional[str] = ...) -> None: ...

class GetServiceAccountRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServiceAccount(_message.Message):
    __slots__ = ("service_account", "sub_ids")
    SERVICE_ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SUB_IDS_FIELD_NUMBER: _ClassVar[int]
    service_account: str
    sub_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, service_account: _Optional[str] = ..., sub_ids: _Optional[_Iterable[str]] = ...) -> None: ...
