"""Who an MCP tool call acts for: the tenant of an API token, checked as REST checks it (the same
``TokenCache``, so a revoked or rotated token stops working within ``token_cache_seconds``).

Over HTTP the token is the request's `Authorization: Bearer` header: a request without a valid one is refused
with REST's 401 before the MCP transport reads it, and each tool call checks it again in its own session.
Over stdio and in memory the server is built with one token (from `COSTORY_TOKEN`), checked on every call.
"""

from __future__ import annotations

import anyio.to_thread
from mcp.server.fastmcp import Context

from control_plane.errors import as_domain_error
from control_plane.rest.edge import ASGIApp, Receive, Scope, Send, drain, error_response, header
from control_plane.services import Services
from control_plane.tenants.service import TokenCache, bearer


def token_of(ctx: Context, fixed: str | None) -> str | None:
    """The token a tool call carries: its HTTP request's bearer token, else the server's own (stdio)."""
    request = ctx.request_context.request
    if request is not None:
        return bearer(request.headers.get("authorization"))
    return fixed


class RequireToken:
    """ASGI guard in front of the streamable HTTP transport: only requests with a valid tenant token pass."""

    def __init__(self, app: ASGIApp, services: Services, tokens: TokenCache):
        self.app = app
        self.services = services
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer(header(scope, b"authorization"))
        try:
            await anyio.to_thread.run_sync(self._authenticate, token)
        except Exception as exc:
            error = as_domain_error(exc)
            if error is None:
                raise
            await drain(receive)  # an unread body would make the server reset the connection
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authenticate(self, token: str | None) -> None:
        with self.services.sessions() as session:
            self.tokens.authenticate(session, token)
