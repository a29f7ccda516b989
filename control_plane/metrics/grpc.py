"""MetricsDatasourceService over gRPC: messages in and out, the work in metrics.service."""

from __future__ import annotations

from typing import Any

from google.protobuf import empty_pb2
from google.protobuf.json_format import MessageToDict
from sqlalchemy.orm import Session, sessionmaker

from control_plane.metrics import service
from control_plane.models import MetricsDatasource, Tenant
from control_plane.rpc import tenant_rpc
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import metrics_datasource_pb2_grpc
from costory_schema.options import terraform_attribute
from costory_schema.rules import Violation

DATASOURCE_TYPE = terraform_attribute(pb.MetricsDatasource.DESCRIPTOR.fields_by_name["type"]).constant


class MetricsDatasourceServicer(metrics_datasource_pb2_grpc.MetricsDatasourceServiceServicer):
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @tenant_rpc
    def CreateMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        return to_proto(service.create_datasource(session, tenant, to_data(request.metrics_datasource)))

    @tenant_rpc
    def GetMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        return to_proto(service.get_datasource(session, tenant, request.id))

    @tenant_rpc
    def UpdateMetricsDatasource(self, request, session: Session, tenant: Tenant) -> pb.MetricsDatasource:
        message = request.metrics_datasource
        datasource = service.update_datasource(
            session, tenant, message.id, to_data(message), list(request.update_mask.paths)
        )
        return to_proto(datasource)

    @tenant_rpc
    def DeleteMetricsDatasource(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_datasource(session, tenant, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListMetricsDatasources(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ListMetricsDatasourcesResponse:
        page = service.list_datasources(session, tenant, request.page_size, request.page_token)
        return pb.ListMetricsDatasourcesResponse(
            metrics_datasources=[to_proto(item) for item in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ValidateMetricsDatasource(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ValidateMetricsDatasourceResponse:
        violations = service.validate_datasource(to_data(request.metrics_datasource))
        return pb.ValidateMetricsDatasourceResponse(findings=[to_finding(v) for v in violations])


def to_data(message: pb.MetricsDatasource) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def to_proto(datasource: MetricsDatasource) -> pb.MetricsDatasource:
    return pb.MetricsDatasource(
        id=datasource.id,
        name=datasource.name,
        bucket_name=datasource.bucket_name,
        prefix=datasource.prefix,
        role_arn=datasource.role_arn,
        metrics_definition=[
            pb.MetricDefinition(
                metric_name=item.metric_name,
                gap_filling=item.gap_filling,
                aggregation=item.aggregation,
                value_column=item.value_column,
                date_column=item.date_column,
                dimensions=item.dimensions,
                unit=item.unit,
            )
            for item in datasource.metrics_definition
        ],
        status=datasource.status,
        type=DATASOURCE_TYPE,
    )


def to_finding(violation: Violation) -> pb.Finding:
    return pb.Finding(
        severity=pb.Finding.ERROR, field=violation.field, summary=violation.summary, detail=violation.detail
    )
