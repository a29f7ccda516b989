"""Keyset pagination shared by every List RPC: pages ordered by (created_at, id), opaque tokens."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.errors import InvalidArgument
from control_plane.limits import CONTROL_CHARACTERS
from costory_schema.problems import Problem

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str
    """Empty on the last page."""


def page_of(session: Session, query: sa.Select, created_at, id_column, page_size: int, page_token: str) -> Page:
    """One page of ``query``'s rows, oldest first. ``page_size`` 0 means the default (50); more than 500 is
    capped at 500."""
    if page_size < 0:
        raise InvalidArgument([Problem(("page_size",), "Invalid Value", "`page_size` must not be negative.")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    if page_token:
        after_created, after_id = decode_token(page_token)
        query = query.where(
            sa.or_(created_at > after_created, sa.and_(created_at == after_created, id_column > after_id))
        )
    rows = list(session.scalars(query.order_by(created_at, id_column).limit(size + 1)))
    next_token = encode_token(rows[size - 1].created_at, rows[size - 1].id) if len(rows) > size else ""
    return Page(rows[:size], next_token)


def encode_token(created_at: datetime, row_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created_at.isoformat(), row_id]).encode()).decode()


MAX_TOKEN_CHARS = 512
"""Tokens issued here are under 120 characters; anything much longer is not one of them."""


def decode_token(token: str) -> tuple[datetime, str]:
    try:
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError(token[:16])
        created_at, row_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(created_at, str) or not isinstance(row_id, str) or CONTROL_CHARACTERS.search(row_id):
            raise ValueError(token[:16])
        return datetime.fromisoformat(created_at), row_id
    except (ValueError, TypeError, binascii.Error):
        raise InvalidArgument(
            [Problem(("page_token",), "Invalid Value", "`page_token` is not a token returned by this list.")]
        ) from None
