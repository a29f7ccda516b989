"""Cost data put in place as an import leaves it, for tests, benchmarks and tools that need a tenant with a bill
but not the import that made it: a billing datasource row, and each month's partition recorded by the cost
store (`CostStore.record_month`), so readers find it through the committed rows like any imported month."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.billing.store import CostStore
from control_plane.datastore import DataStore
from control_plane.models import BillingDatasource


def seed_month(
    sessions: sessionmaker[Session],
    store: DataStore | Path,
    tenant_id: str,
    datasource_id: str,
    month: str,
    table: pa.Table,
) -> str:
    """Record ``table`` (COST_SCHEMA columns) as the ``month`` (YYYY-MM) of ``datasource_id`` (created as an AWS
    datasource of the tenant when missing), replacing the month's partition if any; returns its key."""
    with sessions.begin() as session:
        if session.get(BillingDatasource, datasource_id) is None:
            session.add(
                BillingDatasource(
                    id=datasource_id,
                    tenant_id=tenant_id,
                    name=datasource_id,
                    bucket_name="seeded",
                    prefix="",
                    role_arn="arn:aws:iam::000000000000:role/seeded",
                    status="SUCCEEDED",
                )
            )
            session.flush()
        return CostStore(store).record_month(session, tenant_id, datasource_id, month, table)
