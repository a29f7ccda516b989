"""What the scheduler tests share besides fixtures: a controllable clock and (metrics and billing)
datasources created at chosen instants."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from control_plane.models import BillingDatasource, MetricsDatasource, Tenant

REPO = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).resolve().parent / "worker.py"


class Clock:
    """A clock that moves only when told: pass it wherever a ``now`` callable is expected."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def at(text: str) -> datetime:
    """``at("2026-01-05 07:00")``: that UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_datasource(session: Session, created_at: datetime, name: str | None = None) -> str:
    """A tenant and one metrics datasource created at ``created_at``; returns the datasource id."""
    suffix = uuid.uuid4().hex[:12]
    tenant = Tenant(
        id=f"ten_{suffix}",
        name=name or f"tenant-{suffix}",
        token_hash=hashlib.sha256(suffix.encode()).hexdigest(),
        service_account_email=f"costory-{suffix}@example.iam.gserviceaccount.com",
        google_subject_id=str(10**20 + int(suffix, 16) % 10**20),
        created_at=created_at,
    )
    datasource = MetricsDatasource(
        id=f"mds_{suffix}",
        tenant_id=tenant.id,
        name=f"usage-{suffix}",
        bucket_name="metrics",
        prefix=None,
        role_arn="arn:aws:iam::123456789012:role/costory",
        created_at=created_at,
    )
    session.add_all([tenant, datasource])
    session.flush()
    return datasource.id


def add_billing_datasource(
    session: Session,
    created_at: datetime,
    *,
    tenant_id: str | None = None,
    bucket_name: str = "customer-billing",
    prefix: str = "cur/",
) -> str:
    """A billing datasource created at ``created_at``, of ``tenant_id`` or of a new tenant; returns its id."""
    suffix = uuid.uuid4().hex[:12]
    if tenant_id is None:
        tenant_id = f"ten_{suffix}"
        session.add(
            Tenant(
                id=tenant_id,
                name=f"tenant-{suffix}",
                token_hash=hashlib.sha256(suffix.encode()).hexdigest(),
                service_account_email=f"costory-{suffix}@example.iam.gserviceaccount.com",
                google_subject_id=str(10**20 + int(suffix, 16) % 10**20),
                created_at=created_at,
            )
        )
        session.flush()
    datasource = BillingDatasource(
        id=f"bds_{suffix}",
        tenant_id=tenant_id,
        name=f"bill-{suffix}",
        bucket_name=bucket_name,
        prefix=prefix,
        role_arn="arn:aws:iam::123456789012:role/costory-billing",
        status="PENDING",
        created_at=created_at,
    )
    session.add(datasource)
    session.flush()
    return datasource.id
