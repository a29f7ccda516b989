"""Metrics datasources over REST: datasources, their imports and files, and metric values."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from control_plane.messages import check_day, to_json
from control_plane.metrics import imports, service
from control_plane.metrics.messages import file_to_proto, import_to_proto, to_proto
from control_plane.metrics.query import AuthorizedDatasourceId
from control_plane.rest.dependencies import ServicesDep, SessionDep, TenantDep
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb

router = APIRouter(prefix="/v1/metrics-datasources", tags=["metrics datasources"])


@router.get(
    "",
    response_model=model_for(pb.ListMetricsDatasourcesResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_datasources(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    page = service.list_datasources(s, t, page_size, page_token)
    return to_json(
        pb.ListMetricsDatasourcesResponse(
            metrics_datasources=[to_proto(d) for d in page.items], next_page_token=page.next_page_token
        )
    )


@router.get(
    "/{datasource_id}",
    response_model=model_for(pb.MetricsDatasource.DESCRIPTOR),
    response_model_exclude_none=True,
)
def get_datasource(datasource_id: str, s: SessionDep, t: TenantDep):
    return to_json(to_proto(service.get_datasource(s, t, datasource_id)))


@router.post(
    "/{datasource_id}/import",
    response_model=model_for(pb.MetricImport.DESCRIPTOR),
    response_model_exclude_none=True,
)
def import_now(datasource_id: str, services: ServicesDep, s: SessionDep, t: TenantDep):
    """Import new and changed files now (the daily run does the same at 06:00 UTC)."""
    service.get_datasource(s, t, datasource_id)
    return to_json(import_to_proto(imports.run_import(services, datasource_id, trigger="MANUAL")))


@router.get(
    "/{datasource_id}/imports",
    response_model=model_for(pb.ListMetricImportsResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_imports(datasource_id: str, s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
    service.get_datasource(s, t, datasource_id)
    page = imports.list_imports(s, datasource_id, page_size, page_token)
    return to_json(
        pb.ListMetricImportsResponse(
            imports=[import_to_proto(r) for r in page.items], next_page_token=page.next_page_token
        )
    )


@router.get(
    "/{datasource_id}/files",
    response_model=model_for(pb.ListMetricFilesResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def list_files(datasource_id: str, s: SessionDep, t: TenantDep, status: str | None = None):
    service.get_datasource(s, t, datasource_id)
    files = imports.list_files(s, datasource_id, status)
    return to_json(pb.ListMetricFilesResponse(files=[file_to_proto(r) for r in files]))


@router.get(
    "/{datasource_id}/metrics/{metric_name}/values",
    response_model=model_for(pb.QueryMetricValuesResponse.DESCRIPTOR),
    response_model_exclude_none=True,
)
def metric_values(
    datasource_id: str,
    metric_name: str,
    s: SessionDep,
    t: TenantDep,
    start: date,
    end: date,
    group_by: Annotated[list[str] | None, Query()] = None,
):
    """Values by UTC day in [start, end], grouped by `group_by` dimensions, gap filling applied."""
    authorized = AuthorizedDatasourceId(service.get_datasource(s, t, datasource_id).id)
    first, last = check_day(start, "start"), check_day(end, "end")
    return to_json(imports.query_values(s, authorized, metric_name, start=first, end=last, group_by=group_by or []))
