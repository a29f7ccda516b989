"""The MCP server's streamable HTTP transport on the REST app, at `/mcp`: stateless (any REST process answers
any request) with JSON responses, behind the bearer-token guard, its session manager run by the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from mcp.server.fastmcp.server import StreamableHTTPASGIApp
from starlette.routing import Route

from control_plane.mcp.auth import RequireToken
from control_plane.mcp.server import build_server
from control_plane.services import Services
from control_plane.tenants.service import TokenCache

PATH = "/mcp"


def mount(app: FastAPI, services: Services) -> None:
    """Serve MCP at ``PATH`` on ``app`` with the app's token cache (``app.state.tokens``)."""
    tokens: TokenCache = app.state.tokens
    server = build_server(services, tokens=tokens)
    server.streamable_http_app()  # creates the session manager
    manager = server.session_manager
    transport = StreamableHTTPASGIApp(manager)
    app.router.routes.append(
        Route(PATH, endpoint=RequireToken(transport, services, tokens), methods=["GET", "POST", "DELETE"])
    )
    around = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with around(application) as state, manager.run():
            yield state

    app.router.lifespan_context = lifespan
