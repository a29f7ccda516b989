from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.models import Tenant, TenantGoogleKey


class GoogleKeyRepository:
    def __init__(self, session: Session):
        self.session = session

    def get(self, tenant_id: str) -> TenantGoogleKey | None:
        return self.session.get(TenantGoogleKey, tenant_id)

    def put(self, tenant_id: str, key_json: str, source: str) -> None:
        """Set the tenant's key, replacing any it had."""
        key = self.get(tenant_id)
        if key is None:
            self.session.add(TenantGoogleKey(tenant_id=tenant_id, key_json=key_json, source=source))
        else:
            key.key_json, key.source = key_json, source

    def identity_in_use(self, client_email: str, client_id: str, except_tenant_id: str | None = None) -> bool:
        """Whether a tenant (other than ``except_tenant_id``) has this service account or subject id."""
        used = sa.or_(Tenant.service_account_email == client_email, Tenant.google_subject_id == client_id)
        if except_tenant_id is not None:
            used = sa.and_(used, Tenant.id != except_tenant_id)
        return self.session.scalar(sa.select(sa.exists().where(used))) or False

    def subject_id_exists(self, subject_id: str) -> bool:
        return (
            self.session.scalar(sa.select(sa.exists().where(Tenant.google_subject_id == subject_id))) or False
        )

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.session.get(Tenant, tenant_id)
