"""Notification history over REST: the same service and messages as NotificationService (gRPC)."""

from __future__ import annotations

from fastapi import APIRouter

from control_plane.messages import to_json
from control_plane.notify import service
from control_plane.notify.grpc import list_response
from control_plane.notify.models import Status
from control_plane.rest.dependencies import SessionDep, TenantDep
from control_plane.rest.schemas import model_for
from costory_proto.costory.v1 import notification_pb2 as pb

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=model_for(pb.ListNotificationsResponse.DESCRIPTOR), response_model_exclude_none=True)
def list_notifications(
    s: SessionDep,
    t: TenantDep,
    source_id: str = "",
    status: Status | None = None,
    page_size: int = 0,
    page_token: str = "",
):
    """Notifications sent or queued for budgets, alerts and reports, oldest first; recipients masked."""
    page = service.list_notifications(s, t, source_id, status.value if status else None, page_size, page_token)
    return to_json(list_response(page))
