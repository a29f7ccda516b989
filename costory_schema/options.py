"""Typed access to the custom options declared in proto/costory/v1/options.proto."""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from costory_proto.costory.v1 import options_pb2


def terraform_attribute(field: FieldDescriptor) -> options_pb2.TerraformAttribute:
    return field.GetOptions().Extensions[options_pb2.terraform]


def field_rules(field: FieldDescriptor) -> options_pb2.FieldRules:
    return field.GetOptions().Extensions[options_pb2.rules]


def resource_type(message: Descriptor) -> options_pb2.TerraformType | None:
    options = message.GetOptions()
    return options.Extensions[options_pb2.resource] if options.HasExtension(options_pb2.resource) else None


def data_source_type(message: Descriptor) -> options_pb2.TerraformType | None:
    options = message.GetOptions()
    return options.Extensions[options_pb2.data_source] if options.HasExtension(options_pb2.data_source) else None


def provider_type(message: Descriptor) -> options_pb2.TerraformType | None:
    options = message.GetOptions()
    return options.Extensions[options_pb2.provider] if options.HasExtension(options_pb2.provider) else None


def is_repeated(field: FieldDescriptor) -> bool:
    # `label` is deprecated in newer protobuf releases in favour of `is_repeated`.
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return bool(repeated)
    return field.label == FieldDescriptor.LABEL_REPEATED


def is_map(field: FieldDescriptor) -> bool:
    """A proto ``map<K, V>`` field (a repeated message of generated map entries)."""
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def map_value_field(field: FieldDescriptor) -> FieldDescriptor:
    return field.message_type.fields_by_name["value"]
