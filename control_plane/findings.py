"""A problem found while checking something a user declared: how bad, on which attribute, what to do."""

from __future__ import annotations

from dataclasses import dataclass

PathStep = str | int


@dataclass(frozen=True)
class Finding:
    severity: str
    """`ERROR` (the object is refused) or `WARNING` (saved; shown to the user)."""
    path: tuple[PathStep, ...]
    """Attribute path, e.g. ("metrics_definition", 0, "date_column")."""
    summary: str
    detail: str
