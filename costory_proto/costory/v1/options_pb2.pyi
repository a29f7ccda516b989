from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
TERRAFORM_FIELD_NUMBER: _ClassVar[int]
terraform: _descriptor.FieldDescriptor
RULES_FIELD_NUMBER: _ClassVar[int]
rules: _descriptor.FieldDescriptor
RESOURCE_FIELD_NUMBER: _ClassVar[int]
resource: _descriptor.FieldDescriptor
DATA_SOURCE_FIELD_NUMBER: _ClassVar[int]
data_source: _descriptor.FieldDescriptor
PROVIDER_FIELD_NUMBER: _ClassVar[int]
provider: _descriptor.FieldDescriptor

class TerraformAttribute(_message.Message):
    __slots__ = ("required", "optional", "computed", "sensitive", "requires_replace", "use_state_for_unknown", "attribute_or_blocks", "constant", "env_fallback", "description", "default_value")
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    OPTIONAL_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_REPLACE_FIELD_NUMBER: _ClassVar[int]
    USE_STATE_FOR_UNKNOWN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTE_OR_BLOCKS_FIELD_NUMBER: _ClassVar[int]
    CONSTANT_FIELD_NUMBER: _ClassVar[int]
    ENV_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    required: bool
    optional: bool
    computed: bool
    sensitive: bool
    requires_replace: bool
    use_state_for_unknown: bool
    attribute_or_blocks: bool
    constant: str
    env_fallback: str
    description: str
    default_value: str
    def __init__(self, required: _Optional[bool] = ..., optional: _Optional[bool] = ..., computed: _Optional[bool] = ..., sensitive: _Optional[bool] = ..., requires_replace: _Optional[bool] = ..., use_state_for_unknown: _Optional[bool] = ..., attribute_or_blocks: _Optional[bool] = ..., constant: _Optional[str] = ..., env_fallback: _Optional[str] = ..., description: _Optional[str] = ..., default_value: _Optional[str] = ...) -> None: ...

class FieldRules(_message.Message):
    __slots__ = ("not_empty", "pattern", "pattern_hint", "one_of", "unique_by", "differs_from")
    NOT_EMPTY_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    PATTERN_HINT_FIELD_NUMBER: _ClassVar[int]
    ONE_OF_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_BY_FIELD_NUMBER: _ClassVar[int]
    DIFFERS_FROM_FIELD_NUMBER: _ClassVar[int]
    not_empty: bool
    pattern: str
    pattern_hint: str
    one_of: _containers.RepeatedScalarFieldContainer[str]
    unique_by: str
    differs_from: str
    def __init__(self, not_empty: _Optional[bool] = ..., pattern: _Optional[str] = ..., pattern_hint: _Optional[str] = ..., one_of: _Optional[_Iterable[str]] = ..., unique_by: _Optional[str] = ..., differs_from: _Optional[str] = ...) -> None: ...

class TerraformType(_message.Message):
    __slots__ = ("type_name", "service", "singular", "description", "plan_check")
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SINGULAR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLAN_CHECK_FIELD_NUMBER: _ClassVar[int]
    type_name: str
    service: str
    singular: str
    description: str
    plan_check: bool
    def __init__(self, type_name: _Optional[str] = ..., service: _Optional[str] = ..., singular: _Optional[str] = ..., description: _Optional[str] = ..., plan_check: _Optional[bool] = ...) -> None: ...
