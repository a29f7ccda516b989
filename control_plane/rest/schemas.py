"""Pydantic models for the REST API, derived from the proto messages, so proto/ stays the one place a
field is declared. Values follow the proto3 JSON mapping (``MessageToDict``): 64-bit integers are
strings and timestamps are RFC 3339 strings."""

from __future__ import annotations

from functools import cache
from types import GenericAlias
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, ConfigDict, create_model

from costory_schema.options import is_repeated

_SCALARS: dict[int, Any] = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_BOOL: bool,
    FieldDescriptor.TYPE_DOUBLE: float,
    FieldDescriptor.TYPE_FLOAT: float,
    FieldDescriptor.TYPE_INT32: int,
    FieldDescriptor.TYPE_UINT32: int,
    FieldDescriptor.TYPE_INT64: str,
    FieldDescriptor.TYPE_UINT64: str,
    FieldDescriptor.TYPE_ENUM: str,
    FieldDescriptor.TYPE_BYTES: str,
}
_WELL_KNOWN: dict[str, Any] = {"google.protobuf.Timestamp": str, "google.protobuf.FieldMask": str}


def _field_type(field: FieldDescriptor) -> Any:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return GenericAlias(dict, (str, _field_type(message.fields_by_name["value"])))
    if message is not None:
        element = _WELL_KNOWN.get(message.full_name) or model_for(message)
    else:
        element = _SCALARS[field.type]
    return GenericAlias(list, (element,)) if is_repeated(field) else element


@cache
def model_for(descriptor: Descriptor) -> type[BaseModel]:
    """A pydantic model with the message's fields, all optional (proto3 omits defaults)."""
    fields: dict[str, Any] = {}
    for field in descriptor.fields:
        annotation = _field_type(field)
        fields[field.name] = (annotation | None, None)
    return create_model(descriptor.name, __config__=ConfigDict(extra="forbid"), **fields)
