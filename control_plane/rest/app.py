"""The operators' REST API. Same tokens (``Authorization: Bearer``), same service layer and the same
proto messages as gRPC, rendered with the proto3 JSON mapping; OpenAPI at ``/openapi.json``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from google.protobuf.json_format import ParseDict, ParseError
from sqlalchemy.orm import Session

from control_plane.billing import service as billing
from control_plane.billing.grpc import import_to_proto as billing_import_to_proto
from control_plane.billing.grpc import period_to_proto
from control_plane.billing.grpc import to_proto as billing_to_proto
from control_plane.cost import api as cost_api
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.messages import state_to_proto
from control_plane.dimensions.messages import to_proto as dimension_to_proto
from control_plane.errors import DomainError, InvalidArgument, NotFound, Unauthenticated
from control_plane.messages import to_json
from control_plane.metrics import imports, service
from control_plane.metrics.messages import file_to_proto, import_to_proto, to_proto
from control_plane.models import Tenant
from control_plane.rest.schemas import model_for
from control_plane.services import Services
from control_plane.tenants.service import authenticate
from costory_proto.costory.v1 import billing_datasource_pb2 as billing_pb
from costory_proto.costory.v1 import cost_pb2
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import virtual_dimension_pb2 as vd_pb
from costory_schema.rules import Violation

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
PreviewBody = model_for(cost_pb2.PreviewCostSplitRequest.DESCRIPTOR)
QueryBody = model_for(cost_pb2.QueryCostsRequest.DESCRIPTOR)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Costory control plane",
        version="0.1.0",
        description=(
            "Read the state of metrics datasources and their imports, virtual dimensions and their allocation, "
            "and cost grouped by dimensions; preview a cost split; trigger imports and recomputations on demand."
        ),
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

    @app.get(
        "/v1/billing-datasources",
        response_model=model_for(billing_pb.ListBillingDatasourceAwsResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def list_billing(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
        page = billing.list_datasources(s, t, page_size, page_token)
        return to_json(
            billing_pb.ListBillingDatasourceAwsResponse(
                billing_datasources=[billing_to_proto(d) for d in page.items], next_page_token=page.next_page_token
            )
        )

    @app.get(
        "/v1/billing-datasources/{datasource_id}",
        response_model=model_for(billing_pb.BillingDatasourceAws.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def get_billing(datasource_id: str, s: SessionDep, t: TenantDep):
        return to_json(billing_to_proto(billing.get_datasource(s, t, datasource_id)))

    @app.post(
        "/v1/billing-datasources/{datasource_id}/import",
        response_model=model_for(billing_pb.BillingImport.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def import_billing(datasource_id: str, s: SessionDep, t: TenantDep):
        """Import now: each billing month whose export files changed replaces that month, nothing else."""
        return to_json(billing_import_to_proto(billing.run_import(services, s, billing.get_datasource(s, t, datasource_id))))

    @app.get(
        "/v1/billing-datasources/{datasource_id}/billing-periods",
        response_model=model_for(billing_pb.ListBillingPeriodsResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def billing_periods(datasource_id: str, s: SessionDep, t: TenantDep):
        billing.get_datasource(s, t, datasource_id)
        return to_json(
            billing_pb.ListBillingPeriodsResponse(
                billing_periods=[period_to_proto(p) for p in billing.list_periods(s, datasource_id)]
            )
        )

    @app.get(
        "/v1/virtual-dimensions",
        response_model=model_for(vd_pb.ListVirtualDimensionsResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def list_dimensions(s: SessionDep, t: TenantDep, page_size: int = 0, page_token: str = ""):
        page = dimensions.list_dimensions(s, t, page_size, page_token)
        return to_json(
            vd_pb.ListVirtualDimensionsResponse(
                virtual_dimensions=[dimension_to_proto(d) for d in page.items], next_page_token=page.next_page_token
            )
        )

    @app.get(
        "/v1/virtual-dimensions/{dimension_id}",
        response_model=model_for(vd_pb.VirtualDimension.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def get_dimension(dimension_id: str, s: SessionDep, t: TenantDep):
        return to_json(dimension_to_proto(dimensions.get_dimension(s, t, dimension_id)))

    @app.get(
        "/v1/virtual-dimensions/{dimension_id}/allocation",
        response_model=model_for(vd_pb.AllocationState.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def allocation_state(dimension_id: str, s: SessionDep, t: TenantDep):
        """Where the dimension's cost went: per value, per rule, leftover, last computed, status."""
        return to_json(state_to_proto(dimensions.allocation_state(s, t, dimension_id, services.settings.data_dir)))

    @app.post(
        "/v1/virtual-dimensions/{dimension_id}/recompute",
        response_model=model_for(vd_pb.AllocationState.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def recompute(dimension_id: str, s: SessionDep, t: TenantDep):
        """Compute the dimension again now from the cost and usage data held."""
        dimensions.recompute(s, dimensions.get_dimension(s, t, dimension_id), services.settings.data_dir)
        s.flush()
        return to_json(state_to_proto(dimensions.allocation_state(s, t, dimension_id, services.settings.data_dir)))

    @app.post(
        "/v1/costs:preview-split",
        response_model=model_for(cost_pb2.PreviewCostSplitResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def preview_split(body: PreviewBody, s: SessionDep, t: TenantDep):
        """The explorer's formula: a = metric per owner, b = total, d = filtered cost, c = a / b * d."""
        request = _parse(body, cost_pb2.PreviewCostSplitRequest())
        return to_json(cost_api.preview(services, s, t, request))

    @app.post(
        "/v1/costs:query",
        response_model=model_for(cost_pb2.QueryCostsResponse.DESCRIPTOR),
        response_model_exclude_none=True,
    )
    def query_costs(body: QueryBody, s: SessionDep, t: TenantDep):
        """Cost by day or month grouped by a virtual dimension and/or cost columns, with filters; paginated."""
        request = _parse(body, cost_pb2.QueryCostsRequest())
        return to_json(cost_api.query(services, s, t, request))

    return app


def _parse(body, message):
    try:
        return ParseDict(body.model_dump(exclude_none=True), message)
    except ParseError as exc:
        raise InvalidArgument([Violation((), "Invalid Request", str(exc))]) from None
