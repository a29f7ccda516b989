"""Notifications: an outbox of messages to Slack incoming webhooks and email, delivered once by the scheduler,
retried on transient failures, and kept as history (``NotificationService``, ``GET /v1/notifications``).

Rules (budgets, alerts, reports) call ``enqueue`` in their own transaction; the scheduler calls
``deliver_due``. Importing the package registers the table on ``Base``.
"""

from control_plane.notify.models import Channel, Notification, Status
from control_plane.notify.outbox import Recipient, deliver_due, enqueue

__all__ = ["Channel", "Notification", "Recipient", "Status", "deliver_due", "enqueue"]
