"""A hand-made tenant for the budgets tests: ten days of cost in March 2026 on two services, and a `service`
dimension (the ServiceName as is) for reports.

| day (March 2026) | 1   | 2   | 3   | 4   | 5   | 6   | 7   | 8   | 9   | 10  |
| ---------------- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
| Claude API       | 100 | 100 | 100 | 100 | 300 | 100 | 260 | 250 | 100 | 400 |
| Amazon RDS       |  50 |  50 |  50 |  50 |  50 |  50 |  50 |  50 |  50 |  50 |

Claude API sums to 1810 over the ten days; March 1 is a Sunday, March 2-8 an ISO week.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from control_plane.billing.schema import source_table, with_row_identity
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Tenant
from devtools.seed import seed_month

CLAUDE = ["100", "100", "100", "100", "300", "100", "260", "250", "100", "400"]
RDS = "50"
MARCH = date(2026, 3, 1)
CLAUDE_ONLY = [{"field": "ServiceName", "operator": "EQUALS", "values": ["Claude API"]}]
SERVICE = {
    "name": "service",
    "rules": [{"name": "by-service", "from_column": {"column": "ServiceName", "mapping": {"strategy": "IDENTITY"}}}],
}


def seed_march(sessions: sessionmaker[Session], data_dir, tenant_id: str) -> str:
    """The table above as the tenant's March bill, and the `service` dimension; returns the dimension's id."""
    days = [MARCH + timedelta(days=i) for i in range(len(CLAUDE))]
    rows = [(day, "Claude API", cost) for day, cost in zip(days, CLAUDE, strict=True)]
    rows += [(day, "Amazon RDS", RDS) for day in days]
    costs = [Decimal(r[2]) for r in rows]
    table = source_table(
        {
            "ChargePeriodStart": [datetime.combine(r[0], datetime.min.time(), UTC) for r in rows],
            "ServiceName": [r[1] for r in rows],
            "Provider": ["Anthropic" if r[1] == "Claude API" else "AWS" for r in rows],
            "BilledCost": costs,
            "EffectiveCost": costs,
            "ListCost": costs,
        },
        len(rows),
    )
    seed_month(
        sessions,
        data_dir,
        tenant_id,
        "bds_march",
        "2026-03",
        with_row_identity(table, datasource_id="bds_march", billing_period="2026-03", partition_id=1),
    )
    with sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        assert tenant is not None
        row, _ = dimensions.create_dimension(session, tenant, SERVICE, Engine.local(data_dir))
        return row.id
