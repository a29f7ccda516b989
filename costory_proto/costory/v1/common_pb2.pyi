from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
