"""Billing datasources over REST: datasources, on-demand imports and the billing periods held."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.billing import service
from control_plane.billing.grpc import import_to_proto, period_to_proto, to_proto
from control_plane.messages import to_json
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import billing_datasource_pb2 as pb

router = APIRouter(prefix="/v1/billing-datasources", tags=["billing datasources"])


@router.get(
    "",
    response_model=model_for(pb.ListBillingDatasourceAwsResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_datasources(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_datasources(s, t, page_size, page_token)
    return to_json(
        pb.ListBillingDatasourceAwsResponse(
            billing_datasources=[to_proto(d) for d in page.items], next_page_token=page.next_page_token
        )
    )


@router.get(
    "/{datasource_id}",
    response_model=model_for(pb.BillingDatasourceAws.DESCRIPTOR),
    response_model_exclude_none=True,
)
def get_datasource(datasource_id: str, s: SessionDep, t: TenantDep):
    return to_json(to_proto(service.get_datasource(s, t, datasource_id)))


@router.post(
    "/{datasource_id}/import",
    response_model=model_for(pb.BillingImport.DESCRIPTOR),
    response_model_exclude_none=True,
)
def import_now(datasource_id: str, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Import now (any kind): what changed replaces itself (a month of CUR files, the days a source restated),
    nothing else."""
    datasource = service.get_datasource(s, t, datasource_id, kind=None)
    return to_json(import_to_proto(service.run_import(services, s, datasource)))


@router.get(
    "/{datasource_id}/billing-periods",
    response_model=model_for(pb.ListBillingPeriodsResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def billing_periods(datasource_id: str, s: SessionDep, t: TenantDep):
    service.get_datasource(s, t, datasource_id, kind=None)
    periods = service.list_periods(s, datasource_id)
    return to_json(pb.ListBillingPeriodsResponse(billing_periods=[period_to_proto(p) for p in periods]))
