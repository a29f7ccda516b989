"""Diagnostics: collected, never raised, each with a Title Case summary, a remedy and an attribute path.

A diagnostic is a `costory_schema.problems.Problem`, the type the control plane reports too, so a problem
found at plan time by the shared input rules and one the control plane returns read the same way.
"""

from __future__ import annotations

from costory_schema.problems import Path, Problem, Severity, format_path

__all__ = ["Diagnostic", "Severity", "error", "has_errors", "located", "warning"]

Diagnostic = Problem


def error(summary: str, detail: str, path: Path = ()) -> Problem:
    return Problem(path, summary, detail)


def warning(summary: str, detail: str, path: Path = ()) -> Problem:
    return Problem.warning(path, summary, detail)


def located(detail: str, path: Path) -> str:
    """``detail`` led by the attribute path when it points inside an attribute's value (a rule of a list):
    Terraform can underline only the attribute itself there, so the text says which element is meant."""
    return detail if len(path) <= 1 else f"At `{format_path(path)}`: {detail}"


def has_errors(diagnostics: list[Problem]) -> bool:
    return any(d.is_error for d in diagnostics)
