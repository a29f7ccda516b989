"""Terraform object values <-> proto messages, field by field, using the derived attributes.

Terraform distinguishes null from empty; proto3 does so only for ``optional`` scalars. For repeated
fields an empty list reads back as null unless the value Terraform already holds (the hint) is ``[]``,
so neither form produces a diff.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from costory_schema.options import is_map, is_repeated, map_value_field
from costory_schema.rules import PathStep, format_path
from provider_shim import cty
from provider_shim.schema import Attribute


def to_message(
    message: Message,
    attributes: tuple[Attribute, ...],
    value: dict[str, Any],
    unknown: list[str] | None = None,
    path: tuple[PathStep, ...] = (),
) -> Message:
    """Fill ``message`` from a Terraform object value; computed attributes are skipped.

    The value must be wholly known, unless ``unknown`` is given: then values not known yet (at plan time)
    are left unset and their paths (``rules[0].metric_split.metrics_datasource_id``) appended to it."""
    for attribute in attributes:
        if attribute.computed and not (attribute.required or attribute.optional):
            continue
        item = value.get(attribute.name)
        item_path = (*path, attribute.name)
        if not cty.is_known(item):
            # At plan time, reported; at apply, only an optional+computed value left to the control plane.
            if unknown is not None:
                unknown.append(format_path(item_path))
            continue
        if item is None:
            continue
        field = attribute.field
        if is_map(field):
            known = {k: v for k, v in item.items() if unknown is None or cty.is_known(v)}
            if unknown is not None:
                unknown.extend(format_path((*item_path, k)) for k in item if k not in known)
            value_field = map_value_field(field)
            getattr(message, field.name).update({k: _to_proto(value_field, v) for k, v in known.items()})
        elif field.message_type is not None:
            target = getattr(message, field.name)
            if is_repeated(field):
                for index, element in enumerate(item):
                    if unknown is not None and not cty.is_known(element):
                        unknown.append(format_path((*item_path, index)))
                        target.add()
                        continue
                    to_message(target.add(), attribute.nested, element, unknown, (*item_path, index))
            else:
                target.SetInParent()
                to_message(target, attribute.nested, item, unknown, item_path)
        elif is_repeated(field):
            if unknown is not None and not all(cty.is_known(element) for element in item):
                unknown.append(format_path(item_path))
                continue
            getattr(message, field.name).extend(_to_proto(field, element) for element in item)
        else:
            setattr(message, field.name, _to_proto(field, item))
    return message


def from_message(message: Message, attributes: tuple[Attribute, ...], hint: dict[str, Any] | None) -> dict:
    """The Terraform object value for ``message``; ``hint`` is the value Terraform holds, if any."""
    hint = hint if isinstance(hint, dict) else {}
    value: dict[str, Any] = {}
    for attribute in attributes:
        field = attribute.field
        name = field.name
        held = hint.get(name)
        if is_map(field):
            entries = {k: _scalar(map_value_field(field), v) for k, v in getattr(message, name).items()}
            value[name] = entries if entries or held == {} else None
        elif is_repeated(field):
            items = getattr(message, name)
            if not items:
                value[name] = [] if held == [] else None
            elif field.message_type is not None:
                held_list = held if isinstance(held, list) else []
                value[name] = [
                    from_message(item, attribute.nested, held_list[i] if i < len(held_list) else None)
                    for i, item in enumerate(items)
                ]
            else:
                value[name] = [_scalar(field, item) for item in items]
        elif field.has_presence and not message.HasField(name):
            value[name] = attribute.default
        elif field.message_type is not None:
            value[name] = from_message(getattr(message, name), attribute.nested, held)
        else:
            scalar = _scalar(field, getattr(message, name))
            # A write-only secret comes back empty: keep what Terraform holds (nothing, after an import).
            value[name] = held if attribute.sensitive and scalar == "" else scalar
    return value


def _to_proto(field: FieldDescriptor, item: Any) -> Any:
    """Terraform numbers arrive as int or Decimal; proto doubles take floats."""
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return float(item)
    return item


def _scalar(field: FieldDescriptor, item: Any) -> Any:
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return cty.number_from_double(item)
    return item
