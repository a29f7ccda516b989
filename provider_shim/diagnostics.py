"""Diagnostics: collected, never raised, each with a Title Case summary, a remedy and an attribute path."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from costory_schema.rules import format_path

PathStep = str | int


class Severity(enum.Enum):
    ERROR = 1
    WARNING = 2


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    summary: str
    detail: str
    path: tuple[PathStep, ...] = ()


def error(summary: str, detail: str, path: tuple[PathStep, ...] = ()) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, path)


def located(detail: str, path: tuple[PathStep, ...]) -> str:
    """``detail`` led by the attribute path when it points inside an attribute's value (a rule of a list):
    Terraform can underline only the attribute itself there, so the text says which element is meant."""
    return detail if len(path) <= 1 else f"At `{format_path(path)}`: {detail}"


def warning(summary: str, detail: str, path: tuple[PathStep, ...] = ()) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, path)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
