"""The operators' REST API. Same tokens (``Authorization: Bearer``), same service layer and the same
proto messages as gRPC, rendered with the proto3 JSON mapping; OpenAPI at ``/openapi.json``.

One router per domain (metrics, billing, dimensions, costs); what every request goes through is in
``rest.edge``: the body limit and admission (shared with gRPC when ``serve`` runs both) before anything
else, parameter checks before authentication, and one error rendering.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import sqlalchemy.exc
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi

from control_plane.admission import Admission
from control_plane.errors import DomainError
from control_plane.mcp import http as mcp_http
from control_plane.rest import billing, budgets, costs, dashboards, dimensions, metrics, notifications, teams
from control_plane.rest.edge import (
    AdmissionLimit,
    BodyLimit,
    check_parameters,
    document_errors,
    on_exception,
    on_validation_error,
)
from control_plane.services import Services
from control_plane.tenants.service import TokenCache
from control_plane.web import routes as web


def create_app(services: Services, admission: Admission | None = None) -> FastAPI:
    """The REST app over ``services``. ``admission`` is shared with the gRPC server by ``serve``; without
    one, the app gets its own from the settings."""
    settings = services.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in worker threads: no more of them than requests admitted (and pool connections).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.max_requests_in_flight
        yield

    app = FastAPI(
        title="Costory control plane",
        version="0.1.0",
        description=(
            "Read the state of metrics datasources and their imports, virtual dimensions and their allocation, "
            "and cost grouped by dimensions; preview a cost split; trigger imports and recomputations on demand."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.tokens = TokenCache(settings.token_cache_seconds)
    for module in (metrics, billing, dimensions, costs, teams, dashboards, web, notifications, budgets):
        app.include_router(module.router, dependencies=[Depends(check_parameters)])
    mcp_http.mount(app, services)  # MCP over streamable HTTP at /mcp, same tokens
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(DomainError, on_exception)
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, on_exception)
    app.add_exception_handler(Exception, on_exception)
    app.add_middleware(AdmissionLimit, admission=admission or Admission.from_settings(settings))
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)  # outermost: before admission
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with what every route shares filled in once for all of them (rest.edge): the
    bearer scheme on the routes that take a token, and every error response with the error body's schema.
    Required fields, enums and descriptions come from the proto declarations (rest.schemas.model_for)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        app.openapi_schema = document_errors(document)
    return app.openapi_schema
