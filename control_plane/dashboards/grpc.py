"""DashboardService over gRPC: messages in and out, the work in dashboards.service."""

from __future__ import annotations

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from control_plane.dashboards import service
from control_plane.dashboards.service import to_proto
from control_plane.messages import to_data
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_proto.costory.v1 import dashboard_pb2_grpc


class DashboardServicer(dashboard_pb2_grpc.DashboardServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @tenant_rpc
    def CreateDashboard(self, request, session: Session, tenant: Tenant) -> pb.Dashboard:
        return to_proto(service.create_dashboard(session, tenant, to_data(request.dashboard)))

    @tenant_rpc
    def GetDashboard(self, request, session: Session, tenant: Tenant) -> pb.Dashboard:
        return to_proto(service.get_dashboard(session, tenant, request.id))

    @tenant_rpc
    def UpdateDashboard(self, request, session: Session, tenant: Tenant) -> pb.Dashboard:
        dashboard = service.update_dashboard(
            session, tenant, request.dashboard.id, to_data(request.dashboard), list(request.update_mask.paths)
        )
        return to_proto(dashboard)

    @tenant_rpc
    def DeleteDashboard(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_dashboard(session, tenant, request.id)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListDashboards(self, request, session: Session, tenant: Tenant) -> pb.ListDashboardsResponse:
        page = service.list_dashboards(session, tenant, request.page_size, request.page_token)
        return pb.ListDashboardsResponse(
            dashboards=[to_proto(d) for d in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def GetDashboardData(self, request, session: Session, tenant: Tenant) -> pb.DashboardData:
        return service.dashboard_data(self.services, session, tenant, request.id)
