"""The saved dashboard, on the control plane's one ``Base``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.models import Base, utcnow


class WidgetKind(enum.StrEnum):
    """How a widget is drawn (the proto's `kind` one_of; a test keeps them equal)."""

    LINE = "LINE"
    STACKED_BAR = "STACKED_BAR"
    PIE = "PIE"
    TABLE = "TABLE"
    NUMBER = "NUMBER"


class Dashboard(Base):
    __tablename__ = "dashboards"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    widgets: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    """The `widgets` list as given, in order (proto JSON mapping, proto field names): what Get returns, so a
    query reads back exactly as Terraform wrote it."""
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
