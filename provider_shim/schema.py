"""The provider's Terraform schema, derived from the proto descriptors.

Every message in ``costory.v1`` that carries a ``resource``, ``data_source`` or ``provider`` option becomes
one Terraform type; each of its fields becomes an attribute whose behaviour (required, computed,
sensitive, requires-replace, ...) is read from the field's ``terraform`` option. Nothing here names a
particular resource.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor

import costory_proto.costory.v1 as api_package
from costory_schema.options import (
    data_source_type,
    has_terraform_attribute,
    is_map,
    is_repeated,
    map_value_field,
    provider_type,
    resource_type,
    terraform_attribute,
)
from provider_shim import cty

_SCALARS = {
    FieldDescriptor.TYPE_STRING: cty.STRING,
    FieldDescriptor.TYPE_BOOL: cty.BOOL,
    FieldDescriptor.TYPE_DOUBLE: cty.NUMBER,
    FieldDescriptor.TYPE_FLOAT: cty.NUMBER,
    FieldDescriptor.TYPE_INT32: cty.NUMBER,
    FieldDescriptor.TYPE_INT64: cty.NUMBER,
    FieldDescriptor.TYPE_UINT32: cty.NUMBER,
    FieldDescriptor.TYPE_UINT64: cty.NUMBER,
}


@dataclass(frozen=True)
class Attribute:
    """One Terraform attribute and the proto field it maps to."""

    field: FieldDescriptor
    type: cty.Type
    required: bool
    optional: bool
    computed: bool
    sensitive: bool
    requires_replace: bool
    use_state_for_unknown: bool
    attribute_or_blocks: bool
    constant: str | None
    default: str | None
    """Planned when the configuration leaves the attribute unset, and shown when the API leaves it unset."""
    env_fallback: str | None
    description: str

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def nested(self) -> tuple[Attribute, ...]:
        """Attributes of a message field (of each element, when repeated); none for scalars and maps."""
        if self.field.message_type is None or is_map(self.field):
            return ()
        return _attributes(self.field.message_type)


@dataclass(frozen=True)
class TerraformType:
    """A resource, data source or the provider block: its name, proto message and attributes."""

    type_name: str
    description: str
    message: Descriptor
    service: str
    singular: str
    plan_check: bool = False

    @cached_property
    def attributes(self) -> tuple[Attribute, ...]:
        return _attributes(self.message)

    @cached_property
    def object_type(self) -> cty.Object:
        return cty.Object.of({a.name: a.type for a in self.attributes})

    def attribute(self, name: str) -> Attribute:
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        raise KeyError(name)


@dataclass(frozen=True)
class ProviderSchema:
    provider: TerraformType
    resources: dict[str, TerraformType]
    data_sources: dict[str, TerraformType]


def _scalar_type(field: FieldDescriptor) -> cty.Type:
    try:
        return _SCALARS[field.type]
    except KeyError:
        raise TypeError(f"{field.full_name}: proto type {field.type} has no Terraform mapping") from None


def _field_type(field: FieldDescriptor) -> cty.Type:
    if is_map(field):
        return cty.Map(_scalar_type(map_value_field(field)))
    if field.message_type is not None:
        nested = _attributes(field.message_type)
        element: cty.Type = cty.Object.of(
            {a.name: a.type for a in nested},
            optional={a.name for a in nested if not a.required},
        )
    else:
        element = _scalar_type(field)
    return cty.List(element) if is_repeated(field) else element


@cache
def _attributes(message: Descriptor) -> tuple[Attribute, ...]:
    """Fields with a ``(terraform)`` option; the others are API-only."""
    attributes = []
    for field in message.fields:
        if not has_terraform_attribute(field):
            continue
        option = terraform_attribute(field)
        attributes.append(
            Attribute(
                field=field,
                type=_field_type(field),
                required=option.required,
                optional=option.optional,
                computed=option.computed,
                sensitive=option.sensitive,
                requires_replace=option.requires_replace,
                use_state_for_unknown=option.use_state_for_unknown,
                attribute_or_blocks=option.attribute_or_blocks,
                constant=option.constant or None,
                default=option.default_value if option.HasField("default_value") else None,
                env_fallback=option.env_fallback or None,
                description=option.description,
            )
        )
    return tuple(attributes)


def _api_messages() -> list[Descriptor]:
    messages = []
    for module_info in pkgutil.iter_modules(api_package.__path__):
        if module_info.name.endswith("_pb2"):
            module = importlib.import_module(f"{api_package.__name__}.{module_info.name}")
            messages.extend(module.DESCRIPTOR.message_types_by_name.values())
    return messages


@lru_cache(maxsize=1)
def provider_schema() -> ProviderSchema:
    """Scan the API protos once and build the whole provider schema."""
    provider = None
    resources: dict[str, TerraformType] = {}
    data_sources: dict[str, TerraformType] = {}
    for message in _api_messages():
        for option_of, bucket in ((resource_type, resources), (data_source_type, data_sources)):
            option = option_of(message)
            if option is not None:
                bucket[option.type_name] = TerraformType(
                    option.type_name,
                    option.description,
                    message,
                    option.service,
                    option.singular,
                    plan_check=option.plan_check,
                )
        option = provider_type(message)
        if option is not None:
            provider = TerraformType(option.type_name, option.description, message, "", "")
    if provider is None:
        raise RuntimeError("no message in costory.v1 carries the (costory.v1.provider) option")
    return ProviderSchema(provider, resources, data_sources)
