"""Input rules (FieldRules options) applied to a plain-Python view of a message.

Values are dicts/lists/scalars keyed by proto field names, the shape of both a decoded Terraform
configuration and ``MessageToDict(..., preserving_proto_field_name=True)``. A value the caller cannot
know yet (an unknown in a Terraform plan) is anything for which ``is_known`` returns False; rules skip it,
so they are checked again once it is known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from costory_schema.options import field_rules, is_map, is_repeated, terraform_attribute
from costory_schema.problems import PathStep, Problem, format_path

if TYPE_CHECKING:
    from costory_schema.options import MessageDescriptor

__all__ = ["PathStep", "Problem", "check", "format_path"]


def _always_known(_: Any) -> bool:
    return True


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """The proto's own `pattern` options (ours, not users'): Python `re` is fine for them."""
    return re.compile(pattern)


def check(
    message: MessageDescriptor,
    value: Mapping[str, Any] | None,
    *,
    is_known: Callable[[Any], bool] = _always_known,
    path: tuple[PathStep, ...] = (),
) -> list[Problem]:
    """Every violation of the rules declared on ``message``'s fields, in field order."""
    if value is None or not is_known(value):
        return []
    violations: list[Problem] = []
    for field in cast(Descriptor, message).fields:  # a upb descriptor has the same interface
        field_value = value.get(field.name)
        field_path = (*path, field.name)
        if field_value is None or not is_known(field_value):
            if terraform_attribute(field).required and field_value is None:
                violations.append(Problem(field_path, "Missing Required Attribute", f"`{field.name}` must be set."))
            continue
        violations.extend(_check_field(field, field_value, value, field_path, is_known))
    return violations


def _check_field(
    field: FieldDescriptor,
    value: Any,
    siblings: Mapping[str, Any],
    path: tuple[PathStep, ...],
    is_known: Callable[[Any], bool],
) -> list[Problem]:
    rules = field_rules(field)
    if is_map(field):
        return []
    if is_repeated(field):
        violations: list[Problem] = []
        for index, element in enumerate(value):
            if field.message_type is not None:
                violations.extend(check(field.message_type, element, is_known=is_known, path=(*path, index)))
            elif element is not None and is_known(element):
                violations.extend(_check_scalar(field, rules, element, siblings, (*path, index), is_known))
        if rules.unique_by:
            violations.extend(_check_unique(value, rules.unique_by, path, is_known))
        return violations
    if field.message_type is not None:
        return check(field.message_type, value, is_known=is_known, path=path)
    return _check_scalar(field, rules, value, siblings, path, is_known)


def _check_scalar(field, rules, value, siblings, path, is_known) -> list[Problem]:
    name = field.name
    if not isinstance(value, str):
        return []
    if rules.not_empty and not value.strip():
        return [Problem(path, "Empty Value", f"`{name}` must not be empty.")]
    if rules.one_of and value not in rules.one_of:
        allowed = ", ".join(f"`{v}`" for v in rules.one_of)
        return [Problem(path, "Invalid Value", f"`{name}` is `{value}`; it must be one of {allowed} (case-sensitive).")]
    if rules.pattern and not _compiled(rules.pattern).match(value):
        hint = rules.pattern_hint or f"a value matching `{rules.pattern}`"
        if terraform_attribute(field).sensitive:  # never quote a secret, even a malformed one
            return [Problem(path, "Invalid Value", f"`{name}` (sensitive, not shown) must be {hint}.")]
        return [Problem(path, "Invalid Value", f"`{name}` is `{value}`; it must be {hint}.")]
    if rules.differs_from:
        other = siblings.get(rules.differs_from)
        if other is not None and is_known(other) and other == value:
            return [
                Problem(
                    path,
                    "Conflicting Columns",
                    f"`{name}` and `{rules.differs_from}` are both `{value}`; they must name different columns.",
                )
            ]
    return []


def _check_unique(elements, key: str, path, is_known) -> list[Problem]:
    first_seen: dict[Any, int] = {}
    violations = []
    for index, element in enumerate(elements):
        if element is None or not is_known(element):
            continue
        k = element.get(key)
        if k is None or not is_known(k):
            continue
        if k in first_seen:
            violations.append(
                Problem(
                    (*path, index, key),
                    "Duplicate Value",
                    f"`{key}` `{k}` is already used by {format_path((*path, first_seen[k]))}; "
                    f"each `{key}` must be unique.",
                )
            )
        else:
            first_seen[k] = index
    return violations
