"""Checks every datasource that reads a customer's bucket through a role goes through before it is saved."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.models import BillingDatasource, MetricsDatasource, Tenant
from control_plane.trust.access import RoleAccess
from costory_schema.problems import Problem


def check_role_and_access(
    session: Session, tenant: Tenant, data: Mapping[str, Any], access: RoleAccess | None
) -> list[Problem]:
    """The role is claimed by no other tenant, trusts this tenant's identity (and only it) and can read the
    bucket (skipped when ``access`` is None). Errors come first."""
    claimed = role_claimed_elsewhere(session, tenant, data["role_arn"])
    if claimed is not None:
        return [claimed]
    if access is None:
        return []
    return sorted(access.check(session, tenant.id, data), key=lambda problem: not problem.is_error)


def role_claimed_elsewhere(session: Session, tenant: Tenant, role_arn: str) -> Problem | None:
    """The confused-deputy guard: web identity has no external id, so one role serves one tenant, whatever
    kind of datasource registered it."""
    for model in (MetricsDatasource, BillingDatasource):
        other = session.scalar(
            sa.select(model.id).where(model.role_arn == role_arn, model.tenant_id != tenant.id).limit(1)
        )
        if other is not None:
            return Problem(
                ("role_arn",),
                "Role Registered By Another Tenant",
                f"`{role_arn}` is already registered by another Costory tenant. A role can serve one tenant only: "
                "create a role of your own whose trust policy pins `data.costory_service_account.current.sub_ids`.",
            )
    return None
