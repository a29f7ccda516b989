"""What routes take: the process's services, a session per request (committed on success), the calling
tenant, and request bodies parsed into their proto message."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Header, Request
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message
from pydantic import BaseModel
from sqlalchemy.orm import Session

from control_plane.errors import InvalidArgument
from control_plane.limits import check_message
from control_plane.models import Tenant
from control_plane.services import Services
from control_plane.tenants.service import TokenCache, bearer
from control_plane.web.session import cookie_token
from costory_schema.problems import Problem

M = TypeVar("M", bound=Message)


async def _services(request: Request) -> Services:  # async: no worker thread needed to read an attribute
    return request.app.state.services


async def _session(services: Annotated[Services, Depends(_services)]) -> AsyncIterator[Session]:
    """A session committed when the route succeeds, rolled back when it raises. Opening one takes no connection
    (nothing to wait for, so it happens on the event loop); the commit and close, which may, run in a worker
    thread: one thread hop per request besides the route's own."""
    session = services.sessions()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):  # a client gone away still gives the connection back
            await anyio.to_thread.run_sync(session.close)  # closing rolls back
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_commit, session)


def _commit(session: Session) -> None:
    with session:
        session.commit()


async def _tenant(
    request: Request,
    session: Annotated[Session, Depends(_session)],
    authorization: Annotated[str | None, Header()] = None,
) -> Tenant:
    """The caller's tenant: from the token cache without a thread or a query, else looked up in a worker thread.
    The bearer token, else the one in the dashboard's session cookie (checked the same way, so a revoked token
    stops working through the cookie too)."""
    token = bearer(authorization)
    if token is None:
        token = cookie_token(request, request.app.state.services.settings)
    tokens: TokenCache = request.app.state.tokens
    tenant = tokens.remembered(session, token)
    if tenant is None:
        tenant = await anyio.to_thread.run_sync(tokens.authenticate, session, token)
    return tenant


ServicesDep = Annotated[Services, Depends(_services)]
SessionDep = Annotated[Session, Depends(_session)]
TenantDep = Annotated[Tenant, Depends(_tenant)]


def parse_body(body: BaseModel, message: M, services: Services) -> M:
    """The body as its proto message, with the same list and text checks gRPC requests get."""
    try:
        ParseDict(body.model_dump(exclude_none=True), message)
    except ParseError as exc:
        raise InvalidArgument([Problem((), "Invalid Request", str(exc))]) from None
    check_message(message, services.settings.max_list_items)
    return message
