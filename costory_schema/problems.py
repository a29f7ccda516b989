"""A problem at a path: the one type every validation reports, in the provider (Terraform diagnostics at plan
time) and in the control plane (INVALID_ARGUMENT field violations, warning findings on saved objects).

Errors are the common case, so ``Problem(path, summary, detail)`` is an error; warnings are built with
``Problem.warning``. ``summary`` is short and Title Case; ``detail`` says what is wrong and what to do.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

PathStep = str | int
Path = tuple[PathStep, ...]


class Severity(enum.StrEnum):
    ERROR = "ERROR"
    """The object is refused."""
    WARNING = "WARNING"
    """The object is accepted; the user is told."""


@dataclass(frozen=True)
class Problem:
    path: Path
    """Attribute path of the offending value, e.g. ("rules", 2, "conditions", 0, "values", 0); () for the
    object as a whole."""
    summary: str
    detail: str
    severity: Severity = Severity.ERROR

    @classmethod
    def warning(cls, path: Path, summary: str, detail: str) -> Problem:
        return cls(path, summary, detail, Severity.WARNING)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def field(self) -> str:
        """The path as ``metrics_definition[1].gap_filling`` (google.rpc.BadRequest style)."""
        return format_path(self.path)


def errors_in(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings_in(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_error]


def format_path(path: Path) -> str:
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out
