from costory_proto.costory.v1 import options_pb2 as _options_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ProviderConfig(_message.Message):
    __slots__ = ("token", "base_url")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    token: str
    base_url: str
    def __init__(self, token: _Optional[str] = ..., base_url: _Optional[str] = ...) -> None: ...
