"""Typed access to the custom options declared in proto/costory/v1/options.proto."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from costory_proto.costory.v1 import options_pb2

if TYPE_CHECKING:
    from typing import TypeAlias

    from google._upb._message import Descriptor as _UpbDescriptor

    MessageDescriptor: TypeAlias = Descriptor | _UpbDescriptor
    """What a generated message's ``DESCRIPTOR`` is typed as (pure-Python or upb descriptor)."""

# The generated stubs type extensions as plain FieldDescriptors, which the Extensions mapping does not accept.
_TERRAFORM: Any = options_pb2.terraform
_RULES: Any = options_pb2.rules
_RESOURCE: Any = options_pb2.resource
_DATA_SOURCE: Any = options_pb2.data_source
_PROVIDER: Any = options_pb2.provider


def terraform_attribute(field: FieldDescriptor) -> options_pb2.TerraformAttribute:
    return field.GetOptions().Extensions[_TERRAFORM]


def has_terraform_attribute(field: FieldDescriptor) -> bool:
    """Whether the field is part of the Terraform schema (fields without the option are API-only)."""
    return field.GetOptions().HasExtension(_TERRAFORM)


def field_rules(field: FieldDescriptor) -> options_pb2.FieldRules:
    return field.GetOptions().Extensions[_RULES]


def _message_option(message: MessageDescriptor, extension: Any) -> options_pb2.TerraformType | None:
    options = message.GetOptions()
    return options.Extensions[extension] if options.HasExtension(extension) else None


def resource_type(message: MessageDescriptor) -> options_pb2.TerraformType | None:
    return _message_option(message, _RESOURCE)


def data_source_type(message: MessageDescriptor) -> options_pb2.TerraformType | None:
    return _message_option(message, _DATA_SOURCE)


def provider_type(message: MessageDescriptor) -> options_pb2.TerraformType | None:
    return _message_option(message, _PROVIDER)


def is_repeated(field: FieldDescriptor) -> bool:
    # `label` is deprecated in newer protobuf releases in favour of `is_repeated`.
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return getattr(field, "label", None) == FieldDescriptor.LABEL_REPEATED


def is_map(field: FieldDescriptor) -> bool:
    """A proto ``map<K, V>`` field (a repeated message of generated map entries)."""
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_value_field(field: FieldDescriptor) -> FieldDescriptor:
    if field.message_type is None or not is_map(field):
        raise ValueError(f"{field.full_name} is not a map field")
    return field.message_type.fields_by_name["value"]


def request_field(message_name: str) -> str:
    """The field of a Create/Update/Validate request holding the object: the message's name in snake_case
    (`BillingDatasourceGcp` -> `billing_datasource_gcp`), the API's convention."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in message_name).lstrip("_")
