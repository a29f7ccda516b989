"""What the notification tests share: queueing a message and reading the outbox back."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from control_plane.notify import Notification, Recipient, enqueue
from control_plane.services import Services

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Platform* spent $1,234.50 of $1,000.00"}}]


def queue(services: Services, tenant_id: str, *recipients: Recipient, key: str = "budget_1:2026-03:100", **kw) -> bool:
    """Queue one message for ``recipients`` and commit, as a rule's transaction would."""
    with services.sessions.begin() as session:
        return enqueue(
            session,
            tenant_id=tenant_id,
            source_kind=kw.get("source_kind", "BUDGET"),
            source_id=kw.get("source_id", "budget_1"),
            key=key,
            subject=kw.get("subject", "Budget Platform: 100% of March reached"),
            text=kw.get("text", "Platform spent $1,234.50 of its $1,000.00 March budget."),
            blocks=kw.get("blocks"),
            recipients=list(recipients),
            settings=services.settings,
            now=kw.get("now"),
        )


def outbox(services: Services) -> list[Notification]:
    """Every row, oldest first, detached."""
    with services.sessions() as session:
        rows = list(session.scalars(sa.select(Notification).order_by(Notification.created_at, Notification.id)))
        session.expunge_all()
        return rows


def one(services: Services) -> Notification:
    rows = outbox(services)
    assert len(rows) == 1
    return rows[0]
