"""Saved dashboards over REST: the same service functions and messages as DashboardService (gRPC)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from control_plane.dashboards import service
from control_plane.dashboards.models import WidgetKind
from control_plane.dashboards.service import to_proto
from control_plane.messages import to_data, to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep, parse_body
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_proto.costory.v1 import query_pb2

router = APIRouter(prefix="/v1/dashboards", tags=["dashboards"])

CostQuery = model_for(query_pb2.CostQuery.DESCRIPTOR)


class WidgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    kind: WidgetKind
    query: CostQuery  # type: ignore[valid-type]
    """The cost query answered for the widget (the body of POST /v1/costs:query)."""


class DashboardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    """Empty when left out."""
    widgets: list[WidgetIn] = []
    """In display order."""


class DashboardPatch(BaseModel):
    """Only the fields sent change; `widgets` is replaced as a whole; a description sent as null goes back to
    empty."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    description: str | None = None
    widgets: list[WidgetIn] | None = None


DashboardOut = model_for(pb.Dashboard.DESCRIPTOR)


@router.get("", response_model=model_for(pb.ListDashboardsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_dashboards(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_dashboards(s, t, page_size, page_token)
    return to_json(
        pb.ListDashboardsResponse(dashboards=[to_proto(d) for d in page.items], next_page_token=page.next_page_token)
    )


@router.post("", status_code=201, response_model=DashboardOut, response_model_exclude_none=True)
def create_dashboard(body: DashboardCreate, services: ServicesDep, s: SessionDep, t: TenantDep):
    message = parse_body(body, pb.Dashboard(), services)
    return to_json(to_proto(service.create_dashboard(s, t, to_data(message))))


@router.get("/{dashboard_id}", response_model=DashboardOut, response_model_exclude_none=True)
def get_dashboard(dashboard_id: str, s: SessionDep, t: TenantDep):
    return to_json(to_proto(service.get_dashboard(s, t, dashboard_id)))


@router.patch("/{dashboard_id}", response_model=DashboardOut, response_model_exclude_none=True)
def update_dashboard(dashboard_id: str, body: DashboardPatch, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Change the fields sent (the update mask is the set of fields in the body)."""
    message = parse_body(body, pb.Dashboard(), services)
    mask = [name for name in service.FIELDS if name in body.model_fields_set]
    if not mask:
        return to_json(to_proto(service.get_dashboard(s, t, dashboard_id)))
    return to_json(to_proto(service.update_dashboard(s, t, dashboard_id, to_data(message), mask)))


@router.delete("/{dashboard_id}", status_code=204, response_class=Response)
def delete_dashboard(dashboard_id: str, s: SessionDep, t: TenantDep):
    service.delete_dashboard(s, t, dashboard_id)


@router.get(
    "/{dashboard_id}/data", response_model=model_for(pb.DashboardData.DESCRIPTOR), response_model_exclude_none=True
)
def dashboard_data(dashboard_id: str, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Every widget's query answered now, with exactly the rows and totals POST /v1/costs:query gives for it."""
    return to_json(service.dashboard_data(services, s, t, dashboard_id))
