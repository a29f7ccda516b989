"""CostService requests -> responses, shared by gRPC and REST. Both read what they need from the database,
release the connection, then do their columnar work (control_plane.db.release)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from control_plane.cost.preview import preview_cost_split
from control_plane.cost.query import CostFilter, query_costs
from control_plane.messages import parse_day, to_data
from control_plane.models import Tenant
from control_plane.services import Services
from costory_proto.costory.v1 import cost_pb2 as pb


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


def query(services: Services, session: Session, tenant: Tenant, request: pb.QueryCostsRequest) -> pb.QueryCostsResponse:
    page = query_costs(
        session,
        tenant,
        services.engine,
        start=parse_day(request.start_date, "start_date"),
        end=parse_day(request.end_date, "end_date"),
        granularity=request.granularity or "DAY",
        virtual_dimension=request.virtual_dimension,
        group_by=list(request.group_by),
        filters=[CostFilter(f.column, tuple(f.values)) for f in request.filters],
        page_size=request.page_size,
        page_token=request.page_token,
    )
    return pb.QueryCostsResponse(
        rows=[
            pb.CostRow(
                period=r.period,
                dimension_value=r.dimension_value or "",
                group=r.group,
                cost=f"{r.cost:.2f}",
                consumed_quantity=r.consumed_quantity,
            )
            for r in page.rows
        ],
        next_page_token=page.next_page_token,
    )
