"""What routes take: the process's services, a session per request (committed on success), the calling
tenant, and request bodies parsed into their proto message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message
from pydantic import BaseModel
from sqlalchemy.orm import Session

from control_plane.errors import InvalidArgument
from control_plane.limits import check_message
from control_plane.models import Tenant
from control_plane.services import Services
from control_plane.tenants.service import TokenCache
from costory_schema.problems import Problem

M = TypeVar("M", bound=Message)


async def _services(request: Request) -> Services:  # async: no worker thread needed to read an attribute
    return request.app.state.services


def _session(services: Annotated[Services, Depends(_services)]) -> Iterator[Session]:
    with services.sessions.begin() as session:
        yield session


def _tenant(
    request: Request,
    session: Annotated[Session, Depends(_session)],
    authorization: Annotated[str | None, Header()] = None,
) -> Tenant:
    scheme, _, token = (authorization or "").partition(" ")
    tokens: TokenCache = request.app.state.tokens
    return tokens.authenticate(session, token.strip() if scheme.lower() == "bearer" else None)


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
