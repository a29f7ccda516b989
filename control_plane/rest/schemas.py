"""Pydantic models for the REST API, derived from the proto messages, so proto/ stays the one place a
field is declared. Values follow the proto3 JSON mapping (``MessageToDict``): 64-bit integers are
strings and timestamps are RFC 3339 strings.

What the OpenAPI document shows of a message comes from the same declarations: a field's `one_of` rule is
its enum (checked by the service's input rules, so REST and gRPC say the same), its `required` Terraform
attribute or `not_empty` rule puts it in the schema's `required` list (documented only: the input rules say
what is missing, naming the field), and its description is the comment above it in the .proto file (else its
Terraform description)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from types import GenericAlias
from typing import Annotated, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from costory_schema.options import field_rules, is_repeated, terraform_attribute

PROTO_ROOT = Path(__file__).resolve().parents[2] / "proto"
"""Where the .proto sources are (a source checkout): their comments describe the fields."""

SCALARS: dict[int, Any] = {
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
"""Proto scalar types as the proto3 JSON mapping writes them (64-bit integers as strings)."""
_WELL_KNOWN: dict[str, Any] = {"google.protobuf.Timestamp": str, "google.protobuf.FieldMask": str}


def _field_type(field: FieldDescriptor) -> Any:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        return GenericAlias(dict, (str, _field_type(message.fields_by_name["value"])))
    if message is not None:
        element = _WELL_KNOWN.get(message.full_name) or model_for(message)
    else:
        choices = list(field_rules(field).one_of)
        element = SCALARS[field.type]
        if choices:  # shown as the enum; checked by the service's input rules, as over gRPC (the same message)
            element = Annotated[element, WithJsonSchema({"type": "string", "enum": choices})]
    return GenericAlias(list, (element,)) if is_repeated(field) else element


@cache
def model_for(descriptor: Descriptor) -> type[BaseModel]:
    """A pydantic model with the message's fields, all optional (proto3 omits defaults)."""
    comments = proto_comments()
    fields: dict[str, Any] = {}
    required = []
    for field in descriptor.fields:
        annotation = _field_type(field)
        description = comments.get(field.full_name) or terraform_attribute(field).description or None
        fields[field.name] = (annotation | None, Field(None, description=description))
        if terraform_attribute(field).required or field_rules(field).not_empty:
            required.append(field.name)
    extra: Any = {"required": required} if required else None
    config = ConfigDict(extra="forbid", json_schema_extra=extra)
    doc = comments.get(descriptor.full_name)
    return create_model(descriptor.name, __config__=config, __doc__=doc, **fields)


_BLOCK = re.compile(r"^\s*(message|service|enum)\s+(\w+)\s*\{")
_FIELD = re.compile(r"^\s*(?:optional\s+|repeated\s+)?(?:map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)\s*;")


@cache
def proto_comments() -> dict[str, str]:
    """Full name (`costory.v1.CostQuery.granularity`) -> the `//` comment lines right above its declaration,
    from the .proto sources; empty when they are not there (an installed package without proto/)."""
    out: dict[str, str] = {}
    for path in sorted(PROTO_ROOT.rglob("*.proto")) if PROTO_ROOT.is_dir() else []:
        package, scopes, depths, pending = "", [], [], []
        depth = 0
        for text in path.read_text().splitlines():
            line = _STRING.sub('""', text)  # braces inside option strings do not open blocks
            stripped = line.strip()
            if stripped.startswith("//"):
                pending.append(text.strip()[2:].strip())
                continue
            if match := _PACKAGE.match(line):
                package = match.group(1)
            elif match := _BLOCK.match(line):
                scopes.append(match.group(2))
                depths.append(depth)
                if pending:
                    out[".".join([package, *scopes])] = " ".join(pending)
            elif (match := _FIELD.match(line)) and scopes and pending:
                out[".".join([package, *scopes, match.group(1)])] = " ".join(pending)
            depth += line.count("{") - line.count("}")
            while depths and depth <= depths[-1]:
                scopes.pop()
                depths.pop()
            pending = []
    return out
