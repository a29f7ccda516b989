"""CostService over gRPC; the work in cost.api."""

from __future__ import annotations

from sqlalchemy.orm import Session

from control_plane.cost import api
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import cost_pb2 as pb
from costory_proto.costory.v1 import cost_pb2_grpc


class CostServicer(cost_pb2_grpc.CostServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @tenant_rpc
    def PreviewCostSplit(self, request, session: Session, tenant: Tenant) -> pb.PreviewCostSplitResponse:
        return api.preview(self.services, session, tenant, request)

    @tenant_rpc
    def QueryCosts(self, request, session: Session, tenant: Tenant) -> pb.QueryCostsResponse:
        return api.query(self.services, session, tenant, request)
