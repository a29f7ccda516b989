"""What every REST request goes through around its route: the body limit, admission, the checks of path and
query parameters, and how errors become responses (statuses from control_plane.errors).

The two middlewares are plain ASGI, so they act before FastAPI parses anything and before authentication:
a body over the limit is refused from its Content-Length at once, and a chunked one as soon as the bytes
received pass the limit (at most ``max_bytes`` are ever held).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import cookie_parser

from control_plane.admission import Admission
from control_plane.errors import (
    DomainError,
    InvalidArgument,
    PayloadTooLarge,
    as_domain_error,
    public_view,
)
from control_plane.limits import parameter_violations
from control_plane.tenants.service import bearer
from control_plane.web.session import COOKIE as SESSION_COOKIE
from costory_schema.problems import Problem

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GUARDED_PREFIXES = ("/v1/", "/mcp")
"""Admission applies to the API and MCP over HTTP; /openapi.json, the docs and the dashboard's pages answer
even when the server is saturated (the pages' own API calls are admitted)."""



def error_response(error: DomainError) -> JSONResponse:
    """The response for a domain error: status from the one table, `detail` a list of `{loc, msg, type}`
    for invalid arguments (as FastAPI names fields) or the message, `Retry-After` when it may pass."""
    view = public_view(error)
    detail: object
    if isinstance(error, InvalidArgument):
        detail = [{"loc": list(v.path), "msg": v.detail, "type": v.summary} for v in view.violations]
    else:
        detail = view.message
    headers = {}
    if view.status.http == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if view.retry_after is not None:
        headers["Retry-After"] = str(view.retry_after)
    return JSONResponse({"detail": detail}, status_code=view.status.http, headers=headers or None)


async def on_exception(_request: Request, error: Exception) -> JSONResponse:
    """Domain errors and pool timeouts get their status; anything else is a bug: logged, 500, no detail."""
    domain_error = as_domain_error(error)
    if domain_error is None:
        log.error("unexpected error in REST API", exc_info=error)
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return error_response(domain_error)


async def on_validation_error(_request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own parameter and body validation, as the 400 every other invalid argument gets."""
    violations = []
    for item in error.errors() if isinstance(error, RequestValidationError) else ():
        path = tuple(step for step in item.get("loc", ())[1:] if isinstance(step, str | int))
        name = ".".join(str(step) for step in path) or "body"
        violations.append(Problem(path, "Invalid Value", f"`{name}`: {item.get('msg', 'invalid value')}."))
    return error_response(InvalidArgument(violations))


async def check_parameters(request: Request) -> None:
    """Path and query parameters: no control characters, repeated parameters within the list cap."""
    settings = request.app.state.services.settings
    parameters = [*request.path_params.items(), *request.query_params.multi_items()]
    violations = parameter_violations(parameters, settings.max_list_items)
    if violations:
        raise InvalidArgument(violations)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = header(scope, b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server delivers no more than Content-Length
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay({"type": "http.request", "body": bytes(body)}, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"The request body is over {self.max_bytes} bytes; send less per request.")
        await error_response(error)(scope, receive, send)


class AdmissionLimit:
    def __init__(self, app: ASGIApp, admission: Admission):
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(GUARDED_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            key = await self.admission.acquire_async(_caller(scope))
        except DomainError as error:
            await drain(receive)  # an unread body would make the server reset the connection
            await error_response(error)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release(key)


def _caller(scope: Scope) -> str | None:
    """Who a request's admission slots count against: its bearer token, else its session cookie (hashed: the
    key is only compared), else nobody in particular (one shared allowance)."""
    token = bearer(header(scope, b"authorization"))
    if token:
        return token
    session = cookie_parser(header(scope, b"cookie") or "").get(SESSION_COOKIE)  # the dashboard's sign-in
    return f"session:{hashlib.sha256(session.encode()).hexdigest()}" if session else None


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return first

    return replay


async def drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


# -- what the OpenAPI document says about all of the above ----------------------------------------------------------

ERROR_SCHEMA = {
    "title": "Error",
    "description": "Every error's body. `detail` lists the fields at fault for a 400 from invalid arguments (each "
    '`loc` a path such as `["query", "filters", 1, "operator"]`), else it is a message.',
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["loc", "msg", "type"],
                        "properties": {
                            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                            "msg": {"type": "string", "description": "What is wrong and what to do."},
                            "type": {"type": "string", "description": "A short Title Case summary."},
                        },
                    },
                },
            ]
        }
    },
}
ERRORS = {
    "400": "Invalid argument (each field at fault named in `detail`) or a failed precondition.",
    "401": "No valid API token (`Authorization: Bearer <token>`).",
    "404": "No such object for this tenant (another tenant's ids are as missing as any other).",
    "409": "The name or key is taken.",
    "413": "The request body is over the limit.",
    "429": "The tenant's share of the server is used up; retry after `Retry-After` seconds.",
    "500": "A bug: logged on the server, no detail given.",
    "503": "The server is saturated or a dependency is down; retry after `Retry-After` seconds.",
}
SECURITY_SCHEME = "bearerAuth"


def document_errors(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every operation's error responses as this module renders them, the error body's schema, and the bearer
    scheme on the operations that take a token (those whose dependencies read the `Authorization` header: the
    header parameter becomes the scheme). FastAPI's 422 is replaced: validation errors are 400s here.

    Which statuses an operation lists: 400 and 500 always; 401 with a token; 429 and 503 under admission
    (`/v1/`); 404 with an id in the path or a body (a body may name ids); 409 on POST, PUT and PATCH; 413 with
    a body."""
    components = openapi.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's API token.",
    }
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            has_body = "requestBody" in operation
            statuses = {"400", "500"}
            parameters = operation.get("parameters", [])
            token = [p for p in parameters if p.get("in") == "header" and p.get("name", "").lower() == "authorization"]
            if token:
                operation["parameters"] = [p for p in parameters if p not in token]
                if not operation["parameters"]:
                    del operation["parameters"]
                operation["security"] = [{SECURITY_SCHEME: []}]
                statuses.add("401")
            if path.startswith(GUARDED_PREFIXES):
                statuses |= {"429", "503"}
            if "{" in path or has_body:
                statuses.add("404")
            if method in ("post", "put", "patch"):
                statuses.add("409")
            if has_body:
                statuses.add("413")
            responses = operation["responses"]
            responses.pop("422", None)
            for status in sorted(statuses):
                responses.setdefault(
                    status,
                    {
                        "description": ERRORS[status],
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    schemas = components["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return openapi
