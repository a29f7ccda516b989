"""A problem found while checking something a user declared: how bad, on which attribute, what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from control_plane.errors import InvalidArgument
from costory_proto.costory.v1 import common_pb2
from costory_schema.rules import Violation, format_path

PathStep = str | int


@dataclass(frozen=True)
class Finding:
    severity: str
    """`ERROR` (the object is refused) or `WARNING` (saved; shown to the user)."""
    path: tuple[PathStep, ...]
    """Attribute path, e.g. ("metrics_definition", 0, "date_column")."""
    summary: str
    detail: str


def to_proto(finding: Finding) -> common_pb2.Finding:
    return common_pb2.Finding(
        severity=common_pb2.Finding.ERROR if finding.severity == "ERROR" else common_pb2.Finding.WARNING,
        field=format_path(finding.path),
        summary=finding.summary,
        detail=finding.detail,
    )


def raise_errors(findings: Sequence[Finding]) -> list[Finding]:
    """Raise the errors (INVALID_ARGUMENT naming each attribute); return the warnings."""
    errors = [f for f in findings if f.severity == "ERROR"]
    if errors:
        raise InvalidArgument([Violation(f.path, f.summary, f.detail) for f in errors])
    return [f for f in findings if f.severity != "ERROR"]
