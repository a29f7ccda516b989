"""TenantService over gRPC."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from control_plane.identity import get_service_account
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from costory_proto.costory.v1 import tenant_pb2, tenant_pb2_grpc


class TenantServicer(tenant_pb2_grpc.TenantServiceServicer):
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @tenant_rpc
    def WhoAmI(self, request, session: Session, tenant: Tenant) -> tenant_pb2.WhoAmIResponse:
        return tenant_pb2.WhoAmIResponse(tenant_id=tenant.id, tenant_name=tenant.name)

    @tenant_rpc
    def GetServiceAccount(self, request, session: Session, tenant: Tenant) -> tenant_pb2.ServiceAccount:
        account = get_service_account(session, tenant)
        return tenant_pb2.ServiceAccount(service_account=account.email, sub_ids=list(account.subject_ids))
