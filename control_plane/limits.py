"""What every request is checked against before any work: how long its lists are and what its text holds.

One check for both servers. gRPC requests and REST bodies are proto messages, walked here field by field;
REST path and query parameters go through ``parameter_violations``. A list over ``max_list_items`` (20,000
`group_by` entries once crashed DuckDB) and a control character in any string (NUL is refused by
PostgreSQL) are refused with 400 / INVALID_ARGUMENT naming the field. The body size is enforced before
this, by the servers (``rest.edge.BodyLimit``, gRPC's ``max_receive_message_length``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from google.protobuf.message import Message

from control_plane.errors import InvalidArgument
from costory_schema.options import is_repeated
from costory_schema.problems import PathStep, Problem, format_path

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 controls and DEL, except tab, line feed and carriage return."""


def check_message(message: Message, max_list_items: int) -> None:
    """Raise InvalidArgument naming every over-long list and every string with a control character."""
    violations = message_violations(message, max_list_items)
    if violations:
        raise InvalidArgument(violations)


def message_violations(message: Message, max_list_items: int, path: tuple[PathStep, ...] = ()) -> list[Problem]:
    out: list[Problem] = []
    for field, value in message.ListFields():
        here = (*path, field.name)
        if is_repeated(field) and len(value) > max_list_items:
            out.append(_too_many(here, len(value), max_list_items))
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key in value:
                out += _text_violations((*here, "key"), key) if isinstance(key, str) else []
                out += _value_violations(value[key], (*here, str(key)[:64]), max_list_items)
        elif is_repeated(field):
            for index, item in enumerate(value):
                out += _value_violations(item, (*here, index), max_list_items)
        else:
            out += _value_violations(value, here, max_list_items)
    return out


def parameter_violations(parameters: Iterable[tuple[str, str]], max_list_items: int) -> list[Problem]:
    """The same checks for REST path and query parameters (a repeated query parameter is a list)."""
    out: list[Problem] = []
    counts: dict[str, int] = {}
    for name, value in parameters:
        counts[name] = counts.get(name, 0) + 1
        if counts[name] == max_list_items + 1:
            out.append(_too_many((name,), max_list_items + 1, max_list_items, at_least=True))
        out += _text_violations((name,), value)
    return out


def _value_violations(value: object, path: tuple[PathStep, ...], max_list_items: int) -> list[Problem]:
    if isinstance(value, Message):
        return message_violations(value, max_list_items, path)
    if isinstance(value, str):
        return _text_violations(path, value)
    return []


def _text_violations(path: tuple[PathStep, ...], value: str) -> list[Problem]:
    found = CONTROL_CHARACTERS.search(value)
    if found is None:
        return []
    return [
        Problem(
            path,
            "Control Character",
            f"`{format_path(path)}` holds the control character U+{ord(found.group()):04X}; remove it.",
        )
    ]


def _too_many(path: tuple[PathStep, ...], count: int, limit: int, *, at_least: bool = False) -> Problem:
    name = str(path[-1])
    has = f"at least {count}" if at_least else str(count)
    return Problem(path, "Too Many Items", f"`{name}` has {has} items; at most {limit} are accepted.")
