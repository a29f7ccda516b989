"""What every RPC goes through: a session of its own, the calling tenant, and error mapping."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import grpc
from sqlalchemy.orm import Session, sessionmaker

from control_plane.errors import DomainError, to_grpc_status
from control_plane.models import Tenant
from control_plane.tenants.service import authenticate

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
"""Metadata key carrying ``Bearer <token>``."""


class Servicer(Protocol):
    sessions: sessionmaker[Session]


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key == AUTHORIZATION and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def tenant_rpc(
    method: Callable[[Any, Any, Session, Tenant], Any],
) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    """Run a servicer method as the tenant named by the bearer token, in a session committed on success
    and rolled back on error. Domain errors become their gRPC status; anything else is logged and
    reported as INTERNAL without details."""

    @functools.wraps(method)
    def handler(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with self.sessions.begin() as session:
                tenant = authenticate(session, bearer_token(context.invocation_metadata()))
                return method(self, request, session, tenant)
        except DomainError as error:
            context.abort_with_status(to_grpc_status(error))
        except Exception:
            log.exception("unexpected error in %s", method.__qualname__)
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return handler
