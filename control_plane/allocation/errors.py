"""Errors of the allocation engine."""

from __future__ import annotations

from control_plane.errors import FailedPrecondition


class AllocationError(FailedPrecondition):
    """The inputs handed to the engine cannot be allocated (a missing column, a missing usage table, …)."""


class ConservationError(RuntimeError):
    """Allocated amounts do not add up to the cost they came from: a bug in the engine, never the caller's fault."""
