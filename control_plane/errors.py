"""Domain exceptions, and the one place they become gRPC statuses."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from costory_schema.rules import Violation


class DomainError(Exception):
    """An error the caller can act on; its message is safe to show to them."""

    code: int = code_pb2.UNKNOWN


class NotFound(DomainError):
    code = code_pb2.NOT_FOUND


class AlreadyExists(DomainError):
    code = code_pb2.ALREADY_EXISTS


class Unauthenticated(DomainError):
    code = code_pb2.UNAUTHENTICATED


class InvalidArgument(DomainError):
    code = code_pb2.INVALID_ARGUMENT

    def __init__(self, violations: Sequence[Violation]):
        self.violations = list(violations)
        super().__init__("; ".join(f"{v.field}: {v.detail}" for v in self.violations))


def to_grpc_status(error: DomainError) -> grpc.Status:
    status = status_pb2.Status(code=error.code, message=str(error))
    if isinstance(error, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.detail)
                for v in error.violations
            ]
        )
        status.details.add().Pack(bad_request)
    return rpc_status.to_status(status)
