"""Tool inputs derived from the proto messages, so a tool's JSON schema says what the Terraform schema says:
each field's description (`(costory.v1.terraform).description`), its enum (`(costory.v1.rules).one_of`) and
whether it is required. Values come back as the proto3 JSON view (`model_dump(exclude_none=True)`), ready
for `ParseDict` into the message the service takes."""

from __future__ import annotations

from functools import cache
from types import GenericAlias
from typing import Any, Literal

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, ConfigDict, Field, create_model

from control_plane.rest.schemas import SCALARS
from costory_schema.options import field_rules, is_map, is_repeated, map_value_field, terraform_attribute

_SCALARS: dict[int, Any] = {**SCALARS, FieldDescriptor.TYPE_INT64: int}
"""REST's mapping of the proto scalars; a tool's 64-bit integers are numbers (ParseDict takes either)."""


def _element(field: FieldDescriptor) -> Any:
    if field.message_type is not None:
        return input_model(field.message_type)
    one_of = tuple(field_rules(field).one_of)
    if one_of:
        return Literal[one_of]
    return _SCALARS[field.type]


def _annotation(field: FieldDescriptor) -> Any:
    if is_map(field):
        return GenericAlias(dict, (str, _element(map_value_field(field))))
    element = _element(field)
    return GenericAlias(list, (element,)) if is_repeated(field) else element


@cache
def input_model(descriptor: Descriptor, skip: frozenset[str] = frozenset()) -> type[BaseModel]:
    """A pydantic model of the message's Terraform-facing fields the user sets (computed-only ones and
    ``skip`` left out): required ones required, the others optional."""
    fields: dict[str, Any] = {}
    for field in descriptor.fields:
        attribute = terraform_attribute(field)
        if field.name in skip or (attribute.computed and not attribute.optional and not attribute.required):
            continue
        annotation = _annotation(field)
        description = attribute.description or None
        if attribute.required:
            fields[field.name] = (annotation, Field(description=description))
        else:
            fields[field.name] = (annotation | None, Field(default=None, description=description))
    return create_model(descriptor.name, __config__=ConfigDict(extra="forbid"), **fields)


def to_data(value: BaseModel | None) -> dict[str, Any]:
    """The proto3 JSON view of a tool input (fields left out are absent)."""
    return {} if value is None else value.model_dump(exclude_none=True)
