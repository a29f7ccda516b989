"""Domain exceptions, and the one table that says what each becomes over gRPC and over HTTP.

Every error a caller can act on is a ``DomainError`` of one of the kinds below; a package's own errors
subclass the kind that fits (``identity.PoolExhausted`` is a ``ResourceExhausted``). Both servers turn
an error into a response through ``status_of`` and ``public_view``, so the same error gets the same
status on both, and a message that echoes input is capped once, here.

| kind                 | gRPC                | HTTP | meaning                                                    |
| -------------------- | ------------------- | ---- | ---------------------------------------------------------- |
| `InvalidArgument`    | INVALID_ARGUMENT    | 400  | the request is wrong; each violation names its field       |
| `FailedPrecondition` | FAILED_PRECONDITION | 400  | well formed, but the data it needs cannot serve it         |
| `Unauthenticated`    | UNAUTHENTICATED     | 401  | no valid API token (`WWW-Authenticate: Bearer`)            |
| `NotFound`           | NOT_FOUND           | 404  | no such object for this tenant                             |
| `AlreadyExists`      | ALREADY_EXISTS      | 409  | the name or key is taken                                   |
| `PayloadTooLarge`    | RESOURCE_EXHAUSTED  | 413  | the request body is over the limit                         |
| `ResourceExhausted`  | RESOURCE_EXHAUSTED  | 429  | the tenant's share (or a pool) is used up; retry later     |
| `Unavailable`        | UNAVAILABLE         | 503  | the server is saturated or a dependency is down            |
| any other exception  | INTERNAL            | 500  | a bug: logged with its traceback, the caller sees no detail|

FailedPrecondition is 400, not 412: 412 answers HTTP conditional headers, which this API does not use
(google.rpc's own HTTP mapping also says 400). When an error carries ``retry_after`` (seconds), REST sends
``Retry-After`` and gRPC a ``google.rpc.RetryInfo`` detail.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import sqlalchemy.exc
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from costory_schema.problems import Problem


class DomainError(Exception):
    """An error the caller can act on; its message is safe to show to them. Raise one of the kinds below
    (the base class itself answers as a FailedPrecondition)."""

    retry_after: float | None = None
    """Seconds after which the same call may succeed; None when retrying without a change is pointless."""


class InvalidArgument(DomainError):
    def __init__(self, violations: Sequence[Problem]):
        self.violations = list(violations)
        super().__init__("; ".join(f"{v.field}: {v.detail}" for v in self.violations))


class FailedPrecondition(DomainError):
    pass


class Unauthenticated(DomainError):
    pass


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class PayloadTooLarge(DomainError):
    pass


class ResourceExhausted(DomainError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Status:
    grpc: grpc.StatusCode
    http: int


STATUSES: dict[type[DomainError], Status] = {
    InvalidArgument: Status(grpc.StatusCode.INVALID_ARGUMENT, 400),
    FailedPrecondition: Status(grpc.StatusCode.FAILED_PRECONDITION, 400),
    Unauthenticated: Status(grpc.StatusCode.UNAUTHENTICATED, 401),
    NotFound: Status(grpc.StatusCode.NOT_FOUND, 404),
    AlreadyExists: Status(grpc.StatusCode.ALREADY_EXISTS, 409),
    PayloadTooLarge: Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
    ResourceExhausted: Status(grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    Unavailable: Status(grpc.StatusCode.UNAVAILABLE, 503),
    DomainError: Status(grpc.StatusCode.FAILED_PRECONDITION, 400),
}
"""The one mapping of error kinds to statuses; an error takes the entry of its nearest kind."""


def status_of(error: DomainError) -> Status:
    return next(STATUSES[kind] for kind in type(error).__mro__ if kind in STATUSES)


# -- what a caller is shown --------------------------------------------------------------------------

MAX_MESSAGE_BYTES = 512
"""Cap of an error message (UTF-8 bytes). gRPC carries the message and its details in trailing metadata,
which clients refuse beyond 8 KiB, so an error echoing a 10 KB input must be cut to fit."""
MAX_FIELD_BYTES = 100
MAX_DETAIL_BYTES = 256
MAX_VIOLATIONS = 8
"""Violations listed one by one; the rest are counted in one more."""


@dataclass(frozen=True)
class PublicView:
    """An error as both servers show it: capped, with the retry hint in whole seconds."""

    status: Status
    message: str
    violations: list[Problem]
    retry_after: int | None


def cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes (on a character boundary), marked with `…` when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def public_view(error: DomainError) -> PublicView:
    violations = []
    if isinstance(error, InvalidArgument):
        shown = error.violations[:MAX_VIOLATIONS]
        violations = [
            Problem(
                tuple(cap(s, MAX_FIELD_BYTES) if isinstance(s, str) else s for s in v.path),
                cap(v.summary, MAX_FIELD_BYTES),
                cap(v.detail, MAX_DETAIL_BYTES),
            )
            for v in shown
        ]
        hidden = len(error.violations) - len(shown)
        if hidden:
            violations.append(Problem((), "More Violations", f"{hidden} more violation(s) not listed."))
        message = "; ".join(f"{v.field}: {v.detail}" if v.path else v.detail for v in violations)
    else:
        message = str(error)
    retry_after = None if error.retry_after is None else max(1, math.ceil(error.retry_after))
    return PublicView(status_of(error), cap(message, MAX_MESSAGE_BYTES), violations, retry_after)


def to_grpc_status(error: DomainError) -> grpc.Status:
    view = public_view(error)
    status = status_pb2.Status(code=view.status.grpc.value[0], message=view.message)
    if view.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.detail)
                for v in view.violations
            ]
        )
        status.details.add().Pack(bad_request)
    if view.retry_after is not None:
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=Duration(seconds=view.retry_after)))
    return rpc_status.to_status(status)



def as_domain_error(error: BaseException) -> DomainError | None:
    """What an exception means to the caller at the edge: a DomainError as it is, a database pool timeout
    as Unavailable (the server is saturated: retry), anything else None (a bug: INTERNAL / 500)."""
    if isinstance(error, DomainError):
        return error
    if isinstance(error, sqlalchemy.exc.TimeoutError):
        return Unavailable("The control plane is busy (no database connection free); retry shortly.", retry_after=1)
    return None
