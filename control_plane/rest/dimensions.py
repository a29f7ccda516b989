"""Virtual dimensions over REST: definitions, where their cost went, and recomputing on demand."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.dimensions import service
from control_plane.dimensions.messages import state_to_proto, to_proto
from control_plane.messages import to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import virtual_dimension_pb2 as pb

router = APIRouter(prefix="/v1/virtual-dimensions", tags=["virtual dimensions"])


@router.get(
    "",
    response_model=model_for(pb.ListVirtualDimensionsResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_dimensions(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_dimensions(s, t, page_size, page_token)
    return to_json(
        pb.ListVirtualDimensionsResponse(
            virtual_dimensions=[to_proto(d) for d in page.items], next_page_token=page.next_page_token
        )
    )


@router.get(
    "/{dimension_id}",
    response_model=model_for(pb.VirtualDimension.DESCRIPTOR),
    response_model_exclude_none=True,
)
def get_dimension(dimension_id: str, s: SessionDep, t: TenantDep):
    return to_json(to_proto(service.get_dimension(s, t, dimension_id)))


@router.get(
    "/{dimension_id}/allocation",
    response_model=model_for(pb.AllocationState.DESCRIPTOR),
    response_model_exclude_none=True,
)
def allocation_state(dimension_id: str, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Where the dimension's cost went: per value, per rule, leftover, last computed, status."""
    return to_json(state_to_proto(service.allocation_state(s, t, dimension_id, services.engine)))


@router.post(
    "/{dimension_id}/recompute",
    response_model=model_for(pb.AllocationState.DESCRIPTOR),
    response_model_exclude_none=True,
)
def recompute(dimension_id: str, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Compute the dimension again now from the cost and usage data held."""
    engine = services.engine
    row = service.get_dimension(s, t, dimension_id)
    service.recompute(s, row, engine)
    s.flush()
    return to_json(state_to_proto(service.state_of(row, engine)))
