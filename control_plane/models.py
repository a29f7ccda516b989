"""Database models."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    """SHA-256 hex digest of the API token; the token itself is never stored."""
    service_account_email: Mapped[str] = mapped_column(sa.String(200), unique=True)
    google_subject_id: Mapped[str] = mapped_column(sa.String(21), unique=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    metrics_datasources: Mapped[list[MetricsDatasource]] = relationship(
        back_populates="tenant", lazy="raise"
    )


class MetricsDatasource(Base):
    __tablename__ = "metrics_datasources"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(sa.ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    bucket_name: Mapped[str] = mapped_column(sa.String(255))
    prefix: Mapped[str | None] = mapped_column(sa.String(1024))
    role_arn: Mapped[str] = mapped_column(sa.String(2048))
    status: Mapped[str] = mapped_column(sa.String(32), default="PENDING")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    tenant: Mapped[Tenant] = relationship(back_populates="metrics_datasources", lazy="raise")
    metrics_definition: Mapped[list[MetricDefinition]] = relationship(
        back_populates="datasource",
        order_by="MetricDefinition.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )


class MetricDefinition(Base):
    __tablename__ = "metric_definitions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    datasource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("metrics_datasources.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    """Index in the datasource's list; the list is returned in this order."""
    metric_name: Mapped[str] = mapped_column(sa.String(200))
    gap_filling: Mapped[str] = mapped_column(sa.String(32))
    aggregation: Mapped[str] = mapped_column(sa.String(32))
    value_column: Mapped[str] = mapped_column(sa.String(200))
    date_column: Mapped[str] = mapped_column(sa.String(200))
    dimensions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    unit: Mapped[str | None] = mapped_column(sa.String(64))

    datasource: Mapped[MetricsDatasource] = relationship(back_populates="metrics_definition", lazy="raise")
