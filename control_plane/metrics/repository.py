from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from control_plane.models import MetricsDatasource


class MetricsDatasourceRepository:
    """Queries always scoped to one tenant."""

    def __init__(self, session: Session):
        self.session = session

    def _select(self, tenant_id: str) -> sa.Select[tuple[MetricsDatasource]]:
        return (
            sa.select(MetricsDatasource)
            .where(MetricsDatasource.tenant_id == tenant_id)
            .options(selectinload(MetricsDatasource.metrics_definition))
        )

    def get(self, tenant_id: str, datasource_id: str) -> MetricsDatasource | None:
        return self.session.scalars(
            self._select(tenant_id).where(MetricsDatasource.id == datasource_id)
        ).one_or_none()

    def list(self, tenant_id: str, after: tuple[datetime, str] | None, limit: int) -> list[MetricsDatasource]:
        """Up to ``limit`` datasources ordered by (created_at, id), starting after the key ``after``."""
        query = self._select(tenant_id)
        if after is not None:
            created_at, datasource_id = after
            query = query.where(
                sa.or_(
                    MetricsDatasource.created_at > created_at,
                    sa.and_(MetricsDatasource.created_at == created_at, MetricsDatasource.id > datasource_id),
                )
            )
        query = query.order_by(MetricsDatasource.created_at, MetricsDatasource.id).limit(limit)
        return list(self.session.scalars(query))

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
        return result.rowcount > 0
