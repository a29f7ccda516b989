"""The notification outbox: one row per message per recipient, which is also its delivery history."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models import Base, utcnow


class Channel(enum.StrEnum):
    SLACK = "SLACK"
    EMAIL = "EMAIL"


class Status(enum.StrEnum):
    """Where a notification is (the proto's `status` one_of; a test keeps them equal)."""

    PENDING = "PENDING"
    """Queued, or waiting for ``next_attempt_at`` after a transient failure."""
    SENDING = "SENDING"
    """Claimed by ``lease_owner``, committed before the send: found after its lease expired, it becomes UNCERTAIN."""
    SENT = "SENT"
    FAILED = "FAILED"
    UNCERTAIN = "UNCERTAIN"
    """Its process stopped between sending and recording: it may have been delivered, so it is never resent."""


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "key", "recipient_fingerprint", name="uq_notifications_key_recipient"),
        sa.Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_notifications_tenant_id_source_id", "tenant_id", "source_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id", ondelete="CASCADE"))
    source_kind: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str] = mapped_column(sa.String(200))
    key: Mapped[str] = mapped_column(sa.String(400))
    """The caller's de-duplication key (e.g. ``budget_1:2026-11:90%``)."""
    channel: Mapped[str] = mapped_column(sa.String(16))
    recipient_sealed: Mapped[str] = mapped_column(sa.Text)
    """The webhook URL or email address, sealed with ``secrets.SecretBox``: never stored in plain text."""
    recipient_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    """HMAC-SHA256 of channel and address under a key derived from the secret key: equal recipients compare
    equal (the uniqueness), without the address being readable or guessable from the database."""
    recipient_masked: Mapped[str] = mapped_column(sa.String(300))
    """What history shows: ``hooks.slack.com/…``, ``a***@example.com``."""
    subject: Mapped[str] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    blocks: Mapped[list | None] = mapped_column(sa.JSON)
    """Slack Block Kit blocks, sent next to ``text`` (which is then the fallback)."""
    status: Mapped[str] = mapped_column(sa.String(16), default=Status.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    """When a failed attempt is retried; NULL for a new row, due at the next delivery whatever its clock says."""
    lease_owner: Mapped[str | None] = mapped_column(sa.String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
