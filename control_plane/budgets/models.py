"""Budgets, alerts and reports, on the control plane's one ``Base``.

The three share what makes them rules: a tenant, a name, a scope (``filters``: the plain-Python view of
``costory.v1.QueryFilter`` messages), a cost metric and recipients. The Slack webhook URL is a secret: only its
sealed form (``control_plane.secrets``) is stored, and no API answers with it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from control_plane.models import Base, utcnow


class Period(enum.StrEnum):
    MONTH = "MONTH"
    QUARTER = "QUARTER"
    YEAR = "YEAR"


class ThresholdOf(enum.StrEnum):
    ACTUAL = "ACTUAL"
    FORECAST = "FORECAST"


class Condition(enum.StrEnum):
    ABOVE_AMOUNT = "ABOVE_AMOUNT"
    ABOVE_TRAILING_AVERAGE = "ABOVE_TRAILING_AVERAGE"


class Frequency(enum.StrEnum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


class Metric(enum.StrEnum):
    BILLED = "BILLED"
    EFFECTIVE = "EFFECTIVE"
    LIST = "LIST"


DEFAULT_PERIOD = Period.MONTH
DEFAULT_METRIC = Metric.BILLED
DEFAULT_DEDUP_HOURS = 24
DEFAULT_TOP_N = 10


class _Rule:
    """Columns every rule has (a mixin: each class below is its own table)."""

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    filters: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    metric: Mapped[str] = mapped_column(sa.String(16), default=DEFAULT_METRIC.value)
    emails: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    team_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    slack_webhook_sealed: Mapped[str | None] = mapped_column(sa.Text)
    """The webhook URL sealed by ``control_plane.secrets``; NULL without one."""
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(sa.ForeignKey("tenants.id"), index=True)


class Budget(_Rule, Base):
    __tablename__ = "budgets"

    period: Mapped[str] = mapped_column(sa.String(16), default=DEFAULT_PERIOD.value)
    amount: Mapped[str] = mapped_column(sa.String(32))
    """A decimal string as written (e.g. ``1250.50``): kept exactly, compared as ``Decimal``."""
    thresholds: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    """``[{"percent": 80.0, "of": "ACTUAL"}, ...]`` in the order written."""


class Alert(_Rule, Base):
    __tablename__ = "alerts"

    condition: Mapped[str] = mapped_column(sa.String(32))
    amount: Mapped[str | None] = mapped_column(sa.String(32))
    trailing_days: Mapped[int | None] = mapped_column(sa.Integer)
    percent: Mapped[float | None] = mapped_column(sa.Float)
    dedup_hours: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_DEDUP_HOURS)
    last_fired_on: Mapped[date | None] = mapped_column(sa.Date)
    """The last day whose cost fired the alert: the de-duplication window runs from it."""
    evaluated_through: Mapped[date | None] = mapped_column(sa.Date)
    """The last day of cost data evaluated, so each new day is looked at once, in order."""


class Report(_Rule, Base):
    __tablename__ = "reports"

    dimension_id: Mapped[str] = mapped_column(sa.String(64))
    frequency: Mapped[str] = mapped_column(sa.String(16))
    top_n: Mapped[int] = mapped_column(sa.Integer, default=DEFAULT_TOP_N)
