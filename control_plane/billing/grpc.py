"""BillingDatasourceService over gRPC: messages in and out, the work in billing.service."""

from __future__ import annotations

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from control_plane.billing import service
from control_plane.billing.importer import BillingImportSummary
from control_plane.billing.store import CostStore
from control_plane.datastore import open_store
from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import timestamp, to_data
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import billing_datasource_pb2 as pb
from costory_proto.costory.v1 import billing_datasource_pb2_grpc
from costory_schema.problems import Problem


def to_proto(datasource: BillingDatasource, warnings: list[Problem] | tuple = ()) -> pb.BillingDatasourceAws:
    message = pb.BillingDatasourceAws(
        id=datasource.id,
        name=datasource.name,
        bucket_name=datasource.bucket_name,
        prefix=datasource.prefix,
        role_arn=datasource.role_arn,
        status=datasource.status,
        status_message=datasource.status_message or "",
        last_import_at=timestamp(datasource.last_import_at),
        findings=[finding_to_proto(f) for f in warnings],
    )
    for name in service.MUTABLE_FIELDS:
        value = getattr(datasource, name)
        if value is not None:
            setattr(message, name, value)
    return message


def import_to_proto(summary: BillingImportSummary) -> pb.BillingImport:
    return pb.BillingImport(
        datasource_id=summary.datasource_id,
        status=summary.status,
        files_seen=summary.files_seen,
        months_replaced=summary.months_replaced,
        months_unchanged=summary.months_unchanged,
        quarantined=[pb.QuarantinedBillingFile(key=k, reason=r) for k, r in summary.quarantined],
        dimensions_recomputed=summary.dimensions_recomputed,
        message=summary.message,
    )


def period_to_proto(period: BillingPeriod) -> pb.BillingPeriod:
    return pb.BillingPeriod(
        billing_period=period.billing_period,
        rows=period.rows,
        billed_cost=period.billed_cost,
        source_keys=[line.rpartition("@")[0] for line in period.fingerprint.splitlines()],
        imported_at=timestamp(period.imported_at),
    )


def file_to_proto(record: BillingFile) -> pb.BillingFile:
    return pb.BillingFile(
        key=record.key,
        etag=record.etag,
        size=record.size or 0,
        last_modified=timestamp(record.last_modified),
        billing_period=record.billing_period or "",
        status=record.status,
        reason=record.reason or "",
        seen_at=timestamp(record.seen_at),
    )


class BillingDatasourceServicer(billing_datasource_pb2_grpc.BillingDatasourceServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @tenant_rpc
    def CreateBillingDatasourceAws(self, request, session: Session, tenant: Tenant) -> pb.BillingDatasourceAws:
        datasource, warnings = service.create_datasource(
            session, tenant, to_data(request.billing_datasource_aws), self.services.enforced_access
        )
        return to_proto(datasource, warnings)

    @tenant_rpc
    def GetBillingDatasourceAws(self, request, session: Session, tenant: Tenant) -> pb.BillingDatasourceAws:
        return to_proto(service.get_datasource(session, tenant, request.id))

    @tenant_rpc
    def UpdateBillingDatasourceAws(self, request, session: Session, tenant: Tenant) -> pb.BillingDatasourceAws:
        message = request.billing_datasource_aws
        return to_proto(
            service.update_datasource(session, tenant, message.id, to_data(message), list(request.update_mask.paths))
        )

    @tenant_rpc
    def DeleteBillingDatasourceAws(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        datasource = service.get_datasource(session, tenant, request.id)
        service.delete_datasource(session, datasource, CostStore(open_store(self.services.settings)))
        return empty_pb2.Empty()

    @tenant_rpc
    def ListBillingDatasourceAws(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ListBillingDatasourceAwsResponse:
        page = service.list_datasources(session, tenant, request.page_size, request.page_token)
        return pb.ListBillingDatasourceAwsResponse(
            billing_datasources=[to_proto(d) for d in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ValidateBillingDatasourceAws(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ValidateBillingDatasourceAwsResponse:
        findings = service.check_datasource(
            session, tenant, to_data(request.billing_datasource_aws), self.services.enforced_access
        )
        return pb.ValidateBillingDatasourceAwsResponse(findings=[finding_to_proto(f) for f in findings])

    @tenant_rpc
    def ImportBillingDatasourceAws(self, request, session: Session, tenant: Tenant) -> pb.BillingImport:
        datasource = service.get_datasource(session, tenant, request.id)
        return import_to_proto(service.run_import(self.services, session, datasource))

    @tenant_rpc
    def ListBillingPeriods(self, request, session: Session, tenant: Tenant) -> pb.ListBillingPeriodsResponse:
        service.get_datasource(session, tenant, request.datasource_id, kind=None)
        return pb.ListBillingPeriodsResponse(
            billing_periods=[period_to_proto(p) for p in service.list_periods(session, request.datasource_id)]
        )

    @tenant_rpc
    def ListBillingFiles(self, request, session: Session, tenant: Tenant) -> pb.ListBillingFilesResponse:
        service.get_datasource(session, tenant, request.datasource_id, kind=None)
        return pb.ListBillingFilesResponse(
            files=[file_to_proto(f) for f in service.list_files(session, request.datasource_id, request.status)]
        )
