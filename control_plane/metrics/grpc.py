"""MetricsDatasourceService over gRPC: messages in and out, the work in metrics.service and
metrics.imports."""

from __future__ import annotations

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import parse_day, to_data
from control_plane.metrics import imports, service
from control_plane.metrics.messages import file_to_proto, import_to_proto, to_proto
from control_plane.metrics.query import AuthorizedDatasourceId
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import metrics_datasource_pb2_grpc


class MetricsDatasourceServicer(metrics_datasource_pb2_grpc.MetricsDatasourceServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @tenant_rpc
    def CreateMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        datasource, warnings = service.create_datasource(
            session, tenant, to_data(request.metrics_datasource), self.services.enforced_access
        )
        return to_proto(datasource, warnings)

    @tenant_rpc
    def GetMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        return to_proto(service.get_datasource(session, tenant, request.id))

    @tenant_rpc
    def UpdateMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        message = request.metrics_datasource
        datasource, warnings = service.update_datasource(
            session,
            tenant,
            message.id,
            to_data(message),
            list(request.update_mask.paths),
            self.services.enforced_access,
        )
        return to_proto(datasource, warnings)

    @tenant_rpc
    def DeleteMetricsDatasource(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_datasource(session, tenant, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListMetricsDatasources(self, request, session: Session, tenant: Tenant) -> pb.ListMetricsDatasourcesResponse:
        page = service.list_datasources(session, tenant, request.page_size, request.page_token)
        return pb.ListMetricsDatasourcesResponse(
            metrics_datasources=[to_proto(item) for item in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ValidateMetricsDatasource(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ValidateMetricsDatasourceResponse:
        findings = service.check_datasource(
            session, tenant, to_data(request.metrics_datasource), self.services.enforced_access
        )
        return pb.ValidateMetricsDatasourceResponse(findings=[finding_to_proto(f) for f in findings])

    @tenant_rpc
    def ImportMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricImport:
        datasource = service.get_datasource(session, tenant, request.id)
        return import_to_proto(imports.run_import(self.services, datasource.id, trigger="MANUAL"))

    @tenant_rpc
    def ListMetricImports(self, request, session: Session, tenant: Tenant) -> pb.ListMetricImportsResponse:
        service.get_datasource(session, tenant, request.datasource_id)
        page = imports.list_imports(session, request.datasource_id, request.page_size, request.page_token)
        return pb.ListMetricImportsResponse(
            imports=[import_to_proto(row) for row in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ListMetricFiles(self, request, session: Session, tenant: Tenant) -> pb.ListMetricFilesResponse:
        service.get_datasource(session, tenant, request.datasource_id)
        files = imports.list_files(session, request.datasource_id, request.status or None)
        return pb.ListMetricFilesResponse(files=[file_to_proto(row) for row in files])

    @tenant_rpc
    def QueryMetricValues(self, request, session: Session, tenant: Tenant) -> pb.QueryMetricValuesResponse:
        authorized = AuthorizedDatasourceId(service.get_datasource(session, tenant, request.datasource_id).id)
        return imports.query_values(
            session,
            authorized,
            request.metric_name,
            start=parse_day(request.start_date, "start_date"),
            end=parse_day(request.end_date, "end_date"),
            group_by=list(request.group_by),
        )
