"""What every RPC goes through: the edge checks (list sizes, text, admission), a session of its own, the
calling tenant, and error mapping (control_plane.errors)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import grpc
from sqlalchemy.orm import Session, sessionmaker

from control_plane.admission import Admission
from control_plane.errors import DomainError, as_domain_error, to_grpc_status
from control_plane.limits import check_message
from control_plane.models import Tenant
from control_plane.tenants.service import authenticate, bearer

log = logging.getLogger(__name__)

AUTHORIZATION = "authorization"
"""Metadata key carrying ``Bearer <token>``."""
UNGUARDED_PREFIX = "/grpc.health."
"""Health checks answer even when the server is saturated."""


class Servicer(Protocol):
    sessions: sessionmaker[Session]


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key == AUTHORIZATION and isinstance(value, str) and (token := bearer(value)):
            return token
    return None


class Edge(grpc.ServerInterceptor):
    """Before any servicer code: every list and string of the request is checked (400-class errors need no
    slot), then the call takes a slot from the process's admission or is refused at once."""

    def __init__(self, admission: Admission, max_list_items: int):
        self.admission = admission
        self.max_list_items = max_list_items

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler_call_details.method.startswith(UNGUARDED_PREFIX):
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        serve = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                check_message(request, self.max_list_items)
                with self.admission.admit(token):
                    return serve(request, context)
            except DomainError as error:
                context.abort_with_status(to_grpc_status(error))

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def tenant_rpc(
    method: Callable[[Any, Any, Session, Tenant], Any],
) -> Callable[[Any, Any, grpc.ServicerContext], Any]:
    """Run a servicer method as the tenant named by the bearer token, in a session committed on success
    and rolled back on error. Domain errors (and a database pool timeout) become their gRPC status;
    anything else is logged and reported as INTERNAL without details."""

    @functools.wraps(method)
    def handler(self: Servicer, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            with self.sessions.begin() as session:
                tenant = authenticate(session, bearer_token(context.invocation_metadata()))
                return method(self, request, session, tenant)
        except Exception as error:
            domain_error = as_domain_error(error)
            if domain_error is None:
                log.exception("unexpected error in %s", method.__qualname__)
                context.abort(grpc.StatusCode.INTERNAL, "internal error")
            else:
                context.abort_with_status(to_grpc_status(domain_error))

    return handler
