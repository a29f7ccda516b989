"""VirtualDimensionService over gRPC: messages in and out, the work in dimensions.service."""

from __future__ import annotations

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from control_plane.dimensions import service
from control_plane.dimensions.messages import state_to_proto, to_proto
from control_plane.findings import to_proto as finding_to_proto
from control_plane.messages import to_data
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import virtual_dimension_pb2 as pb
from costory_proto.costory.v1 import virtual_dimension_pb2_grpc


class VirtualDimensionServicer(virtual_dimension_pb2_grpc.VirtualDimensionServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @property
    def engine(self):
        return self.services.engine

    @tenant_rpc
    def CreateVirtualDimension(self, request, session: Session, tenant: Tenant) -> pb.VirtualDimension:
        row, warnings = service.create_dimension(session, tenant, to_data(request.virtual_dimension), self.engine)
        return to_proto(row, warnings)

    @tenant_rpc
    def GetVirtualDimension(self, request, session: Session, tenant: Tenant) -> pb.VirtualDimension:
        return to_proto(service.get_dimension(session, tenant, request.id))

    @tenant_rpc
    def UpdateVirtualDimension(self, request, session: Session, tenant: Tenant) -> pb.VirtualDimension:
        message = request.virtual_dimension
        row, warnings = service.update_dimension(
            session, tenant, message.id, to_data(message), list(request.update_mask.paths), self.engine
        )
        return to_proto(row, warnings)

    @tenant_rpc
    def DeleteVirtualDimension(self, request, session: Session, tenant: Tenant) -> empty_pb2.Empty:
        service.delete_dimension(session, tenant, request.id, self.engine)
        return empty_pb2.Empty()

    @tenant_rpc
    def ListVirtualDimensions(self, request, session: Session, tenant: Tenant) -> pb.ListVirtualDimensionsResponse:
        page = service.list_dimensions(session, tenant, request.page_size, request.page_token)
        return pb.ListVirtualDimensionsResponse(
            virtual_dimensions=[to_proto(row) for row in page.items], next_page_token=page.next_page_token
        )

    @tenant_rpc
    def ValidateVirtualDimension(
        self, request, session: Session, tenant: Tenant
    ) -> pb.ValidateVirtualDimensionResponse:
        data = to_data(request.virtual_dimension)
        unknown = list(request.unknown_fields)
        definition, findings = service.check_dimension(session, tenant, data, unknown)
        if definition is not None and not definition.errors and not unknown:
            preview = service.impact(session, tenant, data, definition, self.engine)
            if preview is not None:
                findings.append(preview)
        return pb.ValidateVirtualDimensionResponse(findings=[finding_to_proto(f) for f in findings])

    @tenant_rpc
    def RecomputeVirtualDimension(self, request, session: Session, tenant: Tenant) -> pb.AllocationState:
        row = service.get_dimension(session, tenant, request.id)
        service.recompute(session, row, self.engine)
        session.flush()
        return state_to_proto(service.state_of(row, self.engine))

    @tenant_rpc
    def GetAllocationState(self, request, session: Session, tenant: Tenant) -> pb.AllocationState:
        return state_to_proto(service.allocation_state(session, tenant, request.id, self.engine))
