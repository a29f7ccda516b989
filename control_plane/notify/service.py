"""Reading notification history for one tenant; the gRPC servicer and the REST route both call this."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.findings import raise_errors
from control_plane.models import Tenant
from control_plane.notify.models import Notification
from control_plane.pagination import Page, page_of
from costory_proto.costory.v1 import notification_pb2
from costory_schema import rules


def list_notifications(
    session: Session,
    tenant: Tenant,
    source_id: str = "",
    status: str | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> Page:
    """One page of the tenant's notifications, oldest first, of one source and one status when given."""
    filters = {"status": status} if status is not None else {}
    raise_errors(rules.check(notification_pb2.ListNotificationsRequest.DESCRIPTOR, filters))
    query = sa.select(Notification).where(Notification.tenant_id == tenant.id)
    if source_id:
        query = query.where(Notification.source_id == source_id)
    if status is not None:
        query = query.where(Notification.status == status)
    return page_of(session, query, Notification.created_at, Notification.id, page_size, page_token)
