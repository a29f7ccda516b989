"""Cost over REST: the explorer's split preview and cost queries (the work in control_plane.cost.api)."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.cost import api
from control_plane.messages import to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep, parse_body
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import cost_pb2 as pb

router = APIRouter(prefix="/v1", tags=["costs"])

PreviewBody = model_for(pb.PreviewCostSplitRequest.DESCRIPTOR)
QueryBody = model_for(pb.QueryCostsRequest.DESCRIPTOR)


@router.post(
    "/costs:preview-split",
    response_model=model_for(pb.PreviewCostSplitResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def preview_split(body: PreviewBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    """The explorer's formula: a = metric per owner, b = total, d = filtered cost, c = a / b * d."""
    request = parse_body(body, pb.PreviewCostSplitRequest(), services)
    return to_json(api.preview(services, s, t, request))


@router.post(
    "/costs:query",
    response_model=model_for(pb.QueryCostsResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def query_costs(body: QueryBody, services: ServicesDep, s: SessionDep, t: TenantDep):  # type: ignore[valid-type]
    """Cost by day, week, month or in total, grouped and filtered by virtual dimensions (`dimension:<id>`), cost
    columns and tags; billed, effective or list cost; presets, the previous period, top-N; paginated."""
    request = parse_body(body, pb.QueryCostsRequest(), services)
    return to_json(api.query(services, s, t, request))
