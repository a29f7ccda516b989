from __future__ import annotations

from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from control_plane.models import MetricsDatasource


class MetricsDatasourceRepository:
    """Queries always scoped to one tenant."""

    def __init__(self, session: Session):
        self.session = session

    def _select(self, tenant_id: str) -> sa.Select[MetricsDatasource]:
        return (
            sa.select(MetricsDatasource)
            .where(MetricsDatasource.tenant_id == tenant_id)
            .options(selectinload(MetricsDatasource.metrics_definition))
        )

    def get(self, tenant_id: str, datasource_id: str) -> MetricsDatasource | None:
        return self.session.scalars(
            self._select(tenant_id).where(MetricsDatasource.id == datasource_id)
        ).one_or_none()

    def add(self, datasource: MetricsDatasource) -> None:
        self.session.add(datasource)
        self.session.flush()

    def delete(self, tenant_id: str, datasource_id: str) -> bool:
        """Delete one datasource (its definitions go with it, ON DELETE CASCADE); False if there was none."""
        result = self.session.execute(
            sa.delete(MetricsDatasource).where(
                MetricsDatasource.tenant_id == tenant_id, MetricsDatasource.id == datasource_id
            )
        )
        return cast(sa.CursorResult, result).rowcount > 0
