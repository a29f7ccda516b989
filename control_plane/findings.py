"""Problems found while checking something a user declared, on the wire: `costory.v1.Finding` messages for
validate responses and saved objects, INVALID_ARGUMENT for the errors of a write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from control_plane.errors import InvalidArgument
from costory_proto.costory.v1 import common_pb2
from costory_schema.problems import Problem

P = TypeVar("P", bound=Problem)


def to_proto(problem: Problem) -> common_pb2.Finding:
    return common_pb2.Finding(
        severity=common_pb2.Finding.ERROR if problem.is_error else common_pb2.Finding.WARNING,
        field=problem.field,
        summary=problem.summary,
        detail=problem.detail,
    )


def raise_errors(problems: Sequence[P]) -> list[P]:
    """Raise the errors (INVALID_ARGUMENT naming each attribute); return the warnings."""
    errors = [p for p in problems if p.is_error]
    if errors:
        raise InvalidArgument(errors)
    return [p for p in problems if not p.is_error]
