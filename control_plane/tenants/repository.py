from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.models import Tenant, TenantGoogleKey


class TenantRepository:
    def __init__(self, session: Session):
        self.session = session

    def get_by_token_hash(self, token_hash: str) -> Tenant | None:
        return self.session.scalars(sa.select(Tenant).where(Tenant.token_hash == token_hash)).one_or_none()

    def get_by_name(self, name: str) -> Tenant | None:
        return self.session.scalars(sa.select(Tenant).where(Tenant.name == name)).one_or_none()

    def all_with_key_source(self) -> list[tuple[Tenant, str | None]]:
        """Every tenant with the source of its Google key (None without one), oldest first."""
        query = (
            sa.select(Tenant, TenantGoogleKey.source)
            .outerjoin(TenantGoogleKey, TenantGoogleKey.tenant_id == Tenant.id)
            .order_by(Tenant.created_at, Tenant.name)
        )
        return [(tenant, source) for tenant, source in self.session.execute(query)]

    def exists(self, **values: str) -> bool:
        filters = [getattr(Tenant, key) == value for key, value in values.items()]
        return self.session.scalar(sa.select(sa.exists().where(*filters))) or False

    def add(self, tenant: Tenant) -> None:
        self.session.add(tenant)
        self.session.flush()
