"""The operators' REST API. Same tokens (``Authorization: Bearer``), same service layer and the same
proto messages as gRPC, rendered with the proto3 JSON mapping; OpenAPI at ``/openapi.json``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from control_plane.errors import DomainError, InvalidArgument, NotFound, Unauthenticated
from control_plane.metrics import imports, service
from control_plane.metrics.messages import file_to_proto, import_to_proto, to_json, to_proto
from control_plane.models import Tenant
from control_plane.rest.schemas import model_for
from control_plane.services import Services
from control_plane.tenants.service import authenticate
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, InvalidArgument: 400, Unauthenticated: 401}


def _error_response(error: DomainError) -> JSONResponse:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 409)
    if isinstance(error, InvalidArgument):
        detail = [{"loc": list(v.path), "msg": v.detail, "type": v.summary} for v in error.violations]
    else:
        detail = str(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _services(request: Request) -> Services:
    return request.app.state.services


def _session(services: Annotated[Services, Depends(_services)]) -> Iterator[Session]:
    with services.sessions.begin() as session:
        yield session


def _tenant(
    session: Annotated[Session, Depends(_session)], authorization: Annotated[str | None, Header()] = None
) -> Tenant:
    scheme, _, token = (authorization or "").partition(" ")
    return authenticate(session, token.strip() if scheme.lower() == "bearer" else None)


ServicesDep = Annotated[Services, Depends(_services)]
SessionDep = Annotated[Session, Depends(_session)]
TenantDep = Annotated[Tenant, Depends(_tenant)]


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Costory control plane",
        version="0.1.0",
        description="Read the state of metrics datasources and their imports; trigger imports on demand.",
    )

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, error: DomainError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error in REST API")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    app.state.services = services

    @app.get(
        "/v1/metrics-datasources",
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

    @app.get(
        "/v1/metrics-datasources/{datasource_id}",
        response_model=model_for(pb.MetricsDatasource.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def get_datasource(datasource_id: str, s: SessionDep, t: TenantDep):
        return to_json(to_proto(service.get_datasource(s, t, datasource_id)))

    @app.post(
        "/v1/metrics-datasources/{datasource_id}/import",
        response_model=model_for(pb.MetricImport.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def import_now(datasource_id: str, s: SessionDep, t: TenantDep):
        """Import new and changed files now (the daily run does the same at 06:00 UTC)."""
        service.get_datasource(s, t, datasource_id)
        return to_json(import_to_proto(imports.run_import(services, datasource_id, trigger="MANUAL")))

    @app.get(
        "/v1/metrics-datasources/{datasource_id}/imports",
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

    @app.get(
        "/v1/metrics-datasources/{datasource_id}/files",
        response_model=model_for(pb.ListMetricFilesResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def list_files(datasource_id: str, s: SessionDep, t: TenantDep, status: str | None = None):
        service.get_datasource(s, t, datasource_id)
        return to_json(pb.ListMetricFilesResponse(files=[file_to_proto(r) for r in imports.list_files(s, datasource_id, status)]))

    @app.get(
        "/v1/metrics-datasources/{datasource_id}/metrics/{metric_name}/values",
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
        group_by: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI reads the default
    ):
        """Values by UTC day in [start, end], grouped by `group_by` dimensions, gap filling applied."""
        service.get_datasource(s, t, datasource_id)
        return to_json(imports.query_values(s, datasource_id, metric_name, start=start, end=end, group_by=group_by))

    return app
