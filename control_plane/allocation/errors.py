"""Errors of the allocation engine."""

from __future__ import annotations

from google.rpc import code_pb2

from control_plane.errors import DomainError


class AllocationError(DomainError):
    """The inputs handed to the engine cannot be allocated (a missing column, a missing usage table, …)."""

    code = code_pb2.INVALID_ARGUMENT


class RuleError(AllocationError):
    """A rule of a virtual dimension is invalid; `path` points at the offending field."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}")


class ConservationError(RuntimeError):
    """Allocated amounts do not add up to the cost they came from: a bug in the engine, never the caller's fault."""
