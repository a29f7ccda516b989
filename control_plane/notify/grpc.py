"""NotificationService over gRPC: the request in, the history out; the work in notify.service."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from control_plane.messages import rfc3339
from control_plane.models import Tenant
from control_plane.notify import service
from control_plane.notify.models import Notification
from control_plane.rpc import tenant_rpc
from control_plane.services import Services
from costory_proto.costory.v1 import notification_pb2 as pb
from costory_proto.costory.v1 import notification_pb2_grpc


def to_proto(row: Notification) -> pb.Notification:
    """The history entry: the recipient only in its masked form (the sealed address never leaves the table)."""
    return pb.Notification(
        id=row.id,
        source_kind=row.source_kind,
        source_id=row.source_id,
        key=row.key,
        channel=row.channel,
        address=row.recipient_masked,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        subject=row.subject,
        created_at=rfc3339(row.created_at),
        sent_at=rfc3339(row.sent_at),
        next_attempt_at=rfc3339(row.next_attempt_at) if row.status == "PENDING" else "",
    )


def list_response(page) -> pb.ListNotificationsResponse:
    return pb.ListNotificationsResponse(
        notifications=[to_proto(n) for n in page.items], next_page_token=page.next_page_token
    )


class NotificationServicer(notification_pb2_grpc.NotificationServiceServicer):
    def __init__(self, services: Services):
        self.sessions: sessionmaker[Session] = services.sessions

    @tenant_rpc
    def ListNotifications(self, request, session: Session, tenant: Tenant) -> pb.ListNotificationsResponse:
        status = request.status if request.HasField("status") else None
        page = service.list_notifications(
            session, tenant, request.source_id, status, request.page_size, request.page_token
        )
        return list_response(page)
