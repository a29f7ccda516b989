"""BillingSourceService over gRPC: Create/Get/Delete/List for each kind of ``billing.kinds`` (the methods are
made from the table, one set per kind), and the on-demand import of any billing datasource."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import empty_pb2
from sqlalchemy.orm import Session

from control_plane.billing import service, sources_service
from control_plane.billing.grpc import import_to_proto
from control_plane.billing.kinds import KINDS, SourceKind
from control_plane.billing.store import CostStore
from control_plane.datastore import open_store
from control_plane.messages import to_data
from control_plane.models import Tenant
from control_plane.rpc import tenant_rpc
from control_plane.secrets import secret_box
from control_plane.services import Services
from costory_proto.costory.v1 import billing_datasource_pb2, billing_source_pb2, billing_source_pb2_grpc

Method = Callable[[Any, Any, Session, Tenant], Any]


class BillingSourceServicer(billing_source_pb2_grpc.BillingSourceServiceServicer):
    def __init__(self, services: Services):
        self.services = services
        self.sessions = services.sessions

    @tenant_rpc
    def ImportBillingDatasource(
        self, request, session: Session, tenant: Tenant
    ) -> billing_datasource_pb2.BillingImport:
        datasource = service.get_datasource(session, tenant, request.id, kind=None)
        return import_to_proto(service.run_import(self.services, session, datasource))


def _methods(kind: SourceKind) -> dict[str, Method]:
    list_response = getattr(billing_source_pb2, f"List{kind.singular}Response")

    def create(self: BillingSourceServicer, request: Any, session: Session, tenant: Tenant) -> Any:
        data = to_data(getattr(request, kind.request_field))
        created = sources_service.create(session, tenant, kind, data, secret_box(self.services.settings))
        return sources_service.to_proto(kind, created)

    def get(self: BillingSourceServicer, request: Any, session: Session, tenant: Tenant) -> Any:
        return sources_service.to_proto(kind, service.get_datasource(session, tenant, request.id, kind=kind.kind))

    def update(self: BillingSourceServicer, request: Any, session: Session, tenant: Tenant) -> Any:
        message = getattr(request, kind.request_field)
        datasource = service.get_datasource(session, tenant, message.id, kind=kind.kind)
        updated = sources_service.update(
            session,
            tenant,
            kind,
            datasource,
            to_data(message),
            list(request.update_mask.paths),
            secret_box(self.services.settings),
        )
        return sources_service.to_proto(kind, updated)

    def delete(self: BillingSourceServicer, request: Any, session: Session, tenant: Tenant) -> Any:
        datasource = service.get_datasource(session, tenant, request.id, kind=kind.kind)
        service.delete_datasource(session, datasource, CostStore(open_store(self.services.settings)))
        return empty_pb2.Empty()

    def list_(self: BillingSourceServicer, request: Any, session: Session, tenant: Tenant) -> Any:
        page = sources_service.list_datasources(session, tenant, kind, request.page_size, request.page_token)
        return list_response(
            billing_datasources=[sources_service.to_proto(kind, d) for d in page.items],
            next_page_token=page.next_page_token,
        )

    methods: dict[str, Method] = {"Create": create, "Get": get, "Update": update, "Delete": delete, "List": list_}
    return {f"{verb}{kind.singular}": method for verb, method in methods.items()}


for _kind in KINDS:
    for _name, _method in _methods(_kind).items():
        _method.__name__ = _method.__qualname__ = _name
        setattr(BillingSourceServicer, _name, tenant_rpc(_method))
