"""CostService requests -> responses, shared by gRPC and REST. Both read what they need from the database,
release the connection, then do their columnar work (control_plane.db.release)."""

from __future__ import annotations

import base64
import binascii
from datetime import date

from sqlalchemy.orm import Session

from control_plane.cost.model import Filter, Query
from control_plane.cost.preview import preview_cost_split
from control_plane.cost.query import run
from control_plane.errors import InvalidArgument
from control_plane.messages import parse_day, to_data
from control_plane.models import Tenant
from control_plane.services import Services
from costory_proto.costory.v1 import cost_pb2 as pb
from costory_proto.costory.v1 import query_pb2
from costory_schema import rules
from costory_schema.problems import PathStep, Problem


def preview(
    services: Services, session: Session, tenant: Tenant, request: pb.PreviewCostSplitRequest
) -> pb.PreviewCostSplitResponse:
    result = preview_cost_split(
        session,
        tenant,
        services.engine,
        start=parse_day(request.start_date, "start_date"),
        end=parse_day(request.end_date, "end_date"),
        metric=to_data(request.metric),
        cost_filter=[to_data(c) for c in request.cost_filter],
    )
    return pb.PreviewCostSplitResponse(
        rows=[
            pb.PreviewRow(value=r.value, usage=r.usage, share=f"{r.share:.6f}", cost=f"{r.cost:.2f}")
            for r in result.rows
        ],
        total_usage=result.total_usage,
        total_cost=f"{result.total_cost:.2f}",
        unmapped_owners=result.unmapped_owners,
    )


def to_query(message: query_pb2.CostQuery, path: tuple[PathStep, ...] = ("query",)) -> Query:
    """The proto query as the model's `Query` (unset choices take their defaults); a day that is not YYYY-MM-DD
    is InvalidArgument naming it (`query.start_date`). Everything else is checked by `query.run`."""
    violations = []
    days: dict[str, date | None] = {}
    for name in ("start_date", "end_date"):
        text = getattr(message, name)
        try:
            days[name] = date.fromisoformat(text) if text else None
        except ValueError:
            detail = f"`{name}` is `{text}`; use a UTC day as YYYY-MM-DD."
            violations.append(Problem((*path, name), "Invalid Date", detail))
    if violations:
        raise InvalidArgument(violations)
    return Query(
        group_by=tuple(message.group_by),
        filters=tuple(Filter(f.field, f.operator, tuple(f.values)) for f in message.filters),  # type: ignore[arg-type]
        granularity=message.granularity if message.HasField("granularity") else "DAY",  # type: ignore[arg-type]
        metric=message.metric if message.HasField("metric") else "BILLED",  # type: ignore[arg-type]
        start=days["start_date"],
        end=days["end_date"],
        preset=message.preset if message.HasField("preset") else None,  # type: ignore[arg-type]
        compare=message.compare,
        top_n=message.top_n,
        with_quantity=message.with_quantity,
    )


def query(services: Services, session: Session, tenant: Tenant, request: pb.QueryCostsRequest) -> pb.QueryCostsResponse:
    """One page of a cost query; the totals cover every page."""
    violations = rules.check(pb.QueryCostsRequest.DESCRIPTOR, to_data(request))
    if request.page_size < 0:
        violations.append(Problem(("page_size",), "Invalid Value", "`page_size` must not be negative."))
    if violations:
        raise InvalidArgument(violations)
    size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = decode_offset(request.page_token) if request.page_token else 0
    result = run(session, tenant, services.engine, to_query(request.query), limit=size, offset=offset)
    return pb.QueryCostsResponse(
        rows=[
            pb.CostRow(
                period=r.period,
                group={k: v for k, v in r.group.items() if v is not None},
                cost=f"{r.cost:.2f}",
                quantity=r.quantity,
                previous_cost="" if r.previous_cost is None else f"{r.previous_cost:.2f}",
            )
            for r in result.rows
        ],
        next_page_token=encode_offset(offset + size) if result.truncated else "",
        total_cost=f"{result.total:.2f}",
        start_date=result.start.isoformat(),
        end_date=result.end.isoformat(),
        previous_start_date=result.previous_start.isoformat() if result.previous_start else "",
        previous_end_date=result.previous_end.isoformat() if result.previous_end else "",
        previous_total_cost="" if result.previous_total is None else f"{result.previous_total:.2f}",
    )


DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 10_000_000
"""Deepest row a page token may point at: far beyond any real result."""


def encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_offset(token: str) -> int:
    try:
        if len(token) > 64:
            raise ValueError(token[:16])
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "offset" or not number.isdigit() or int(number) > MAX_OFFSET:
            raise ValueError(token[:16])
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument(
            [Problem(("page_token",), "Invalid Value", "`page_token` is not a token returned by this query.")]
        ) from None
