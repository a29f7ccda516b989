"""Terraform object values <-> proto messages, field by field, using the derived attributes.

Terraform distinguishes null from empty; proto3 does so only for ``optional`` scalars. For repeated
fields an empty list reads back as null unless the value Terraform already holds (the hint) is ``[]``,
so neither form produces a diff.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

from costory_schema.options import is_repeated
from provider_shim.schema import Attribute


def to_message(message: Message, attributes: tuple[Attribute, ...], value: dict[str, Any]) -> Message:
    """Fill ``message`` from a wholly known Terraform object value; computed attributes are skipped."""
    for attribute in attributes:
        if attribute.computed and not (attribute.required or attribute.optional):
            continue
        item = value.get(attribute.name)
        if item is None:
            continue
        field = attribute.field
        if field.message_type is not None:
            target = getattr(message, field.name)
            if is_repeated(field):
                for element in item:
                    to_message(target.add(), attribute.nested, element)
            else:
                to_message(target, attribute.nested, item)
        elif is_repeated(field):
            getattr(message, field.name).extend(item)
        else:
            setattr(message, field.name, item)
    return message


def from_message(message: Message, attributes: tuple[Attribute, ...], hint: dict[str, Any] | None) -> dict:
    """The Terraform object value for ``message``; ``hint`` is the value Terraform holds, if any."""
    hint = hint if isinstance(hint, dict) else {}
    value: dict[str, Any] = {}
    for attribute in attributes:
        field = attribute.field
        name = field.name
        held = hint.get(name)
        if is_repeated(field):
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
                value[name] = list(items)
        elif field.has_presence and not message.HasField(name):
            value[name] = None
        elif field.message_type is not None:
            value[name] = from_message(getattr(message, name), attribute.nested, held)
        else:
            value[name] = getattr(message, name)
    return value
