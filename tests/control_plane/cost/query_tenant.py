"""A small hand-made tenant for the query model's tests: 11 cost rows over January to March 2026, two
dimensions that split rows, tags and tokens. Every expected table in test_query_model is worked out from this.

| # | day        | ResourceName  | ServiceName | Provider  | x_Model | tag env | billed | effective | list  | tokens |
| - | ---------- | ------------- | ----------- | --------- | ------- | ------- | ------ | --------- | ----- | ------ |
| 1 | 2026-01-15 | team-payments | Claude API  | Anthropic | sonnet  | prod    |  10.00 |      8.00 | 12.00 |   1000 |
| 2 | 2026-01-15 | team-search   | Claude API  | Anthropic | haiku   | dev     |   4.00 |      4.00 |  5.00 |   2000 |
| 3 | 2026-01-31 | shared        | Amazon RDS  | AWS       |         |         |   6.00 |      5.00 |  8.00 |      0 |
| 4 | 2026-02-01 | team-payments | Claude API  | Anthropic | sonnet  | prod    |  20.00 |     16.00 | 24.00 |   3000 |
| 5 | 2026-02-02 | team-search   | Claude API  | Anthropic | sonnet  | prod    |   8.00 |      6.00 | 10.00 |   1000 |
| 6 | 2026-02-02 | shared        | Amazon RDS  | AWS       |         |         |   2.00 |      2.00 |  2.00 |      0 |
| 7 | 2026-02-20 | ops-key       | Claude API  | Anthropic | haiku   | dev     |   1.00 |      1.00 |  1.00 |    500 |
| 8 | 2026-03-01 | team-payments | Claude API  | Anthropic | sonnet  | prod    |  30.00 |     24.00 | 36.00 |   5000 |
| 9 | 2026-03-10 | team-search   | Claude API  | Anthropic | haiku   | dev     |   3.00 |      3.00 |  4.00 |   6000 |
| 10| 2026-03-10 | shared        | Amazon RDS  | AWS       |         |         |   0.02 |      0.02 |  0.02 |      0 |
| 11| 2026-03-20 | team-payments | Claude API  | Anthropic | sonnet  | prod    |   5.00 |      4.00 |  6.00 |    500 |

Dimension `team`: ResourceName `team-<x>` -> `<x>`; `shared` split evenly between payments and search; the rest
(row 7) Unallocated. Dimension `env`: tag env prod -> prod, dev -> dev; `shared` split evenly between dev and
prod. 2026-01-31 is a Saturday and 2026-02-01 a Sunday: ISO week 2026-01-26 holds rows 3 and 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa

from control_plane.billing.schema import source_table, with_row_identity
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Tenant
from control_plane.tenants.service import create_tenant
from devtools.seed import seed_month

ROWS = [
    ("2026-01-15", "team-payments", "Claude API", "Anthropic", "sonnet", "prod", "10.00", "8.00", "12.00", 1000),
    ("2026-01-15", "team-search", "Claude API", "Anthropic", "haiku", "dev", "4.00", "4.00", "5.00", 2000),
    ("2026-01-31", "shared", "Amazon RDS", "AWS", None, None, "6.00", "5.00", "8.00", 0),
    ("2026-02-01", "team-payments", "Claude API", "Anthropic", "sonnet", "prod", "20.00", "16.00", "24.00", 3000),
    ("2026-02-02", "team-search", "Claude API", "Anthropic", "sonnet", "prod", "8.00", "6.00", "10.00", 1000),
    ("2026-02-02", "shared", "Amazon RDS", "AWS", None, None, "2.00", "2.00", "2.00", 0),
    ("2026-02-20", "ops-key", "Claude API", "Anthropic", "haiku", "dev", "1.00", "1.00", "1.00", 500),
    ("2026-03-01", "team-payments", "Claude API", "Anthropic", "sonnet", "prod", "30.00", "24.00", "36.00", 5000),
    ("2026-03-10", "team-search", "Claude API", "Anthropic", "haiku", "dev", "3.00", "3.00", "4.00", 6000),
    ("2026-03-10", "shared", "Amazon RDS", "AWS", None, None, "0.02", "0.02", "0.02", 0),
    ("2026-03-20", "team-payments", "Claude API", "Anthropic", "sonnet", "prod", "5.00", "4.00", "6.00", 500),
]
TEAM = {
    "name": "team",
    "rules": [
        {
            "name": "per-key",
            "conditions": [{"column": "ResourceName", "operator": "MATCHES", "values": ["^team-"]}],
            "from_column": {"column": "ResourceName", "mapping": {"strategy": "REGEX", "regex": "^team-(.+)$"}},
        },
        {
            "name": "shared",
            "conditions": [{"column": "ResourceName", "operator": "EQUALS", "values": ["shared"]}],
            "split_even": ["payments", "search"],
        },
    ],
}
ENV = {
    "name": "env",
    "rules": [
        {
            "name": "prod",
            "conditions": [{"column": "tag:env", "operator": "EQUALS", "values": ["prod"]}],
            "value": "prod",
        },
        {"name": "dev", "conditions": [{"column": "tag:env", "operator": "EQUALS", "values": ["dev"]}], "value": "dev"},
        {
            "name": "shared",
            "conditions": [{"column": "ResourceName", "operator": "EQUALS", "values": ["shared"]}],
            "split_even": ["dev", "prod"],
        },
    ],
}


@dataclass(frozen=True)
class HandMade:
    tenant_id: str
    token: str
    team: str
    """The `team` dimension's id."""
    env: str


def seed(sessions, data_dir, tenant_id: str | None = None, token: str = "") -> HandMade:
    """The rows and both dimensions, for a new tenant or the one given."""
    if tenant_id is None:
        with sessions.begin() as session:
            tenant, token = create_tenant(session, "Tenant Q")
            tenant_id = tenant.id
    for partition, month in enumerate(("2026-01", "2026-02", "2026-03"), start=1):
        rows = [r for r in ROWS if r[0].startswith(month)]
        table = source_table(
            {
                "ChargePeriodStart": [datetime.fromisoformat(r[0]).replace(tzinfo=UTC) for r in rows],
                "ResourceName": [r[1] for r in rows],
                "ServiceName": [r[2] for r in rows],
                "Provider": [r[3] for r in rows],
                "x_Model": [r[4] for r in rows],
                "Tags": pa.array([[("env", r[5])] if r[5] else [] for r in rows], pa.map_(pa.string(), pa.string())),
                "BilledCost": [Decimal(r[6]) for r in rows],
                "EffectiveCost": [Decimal(r[7]) for r in rows],
                "ListCost": [Decimal(r[8]) for r in rows],
                "ConsumedQuantity": [float(r[9]) for r in rows],
                "ConsumedUnit": ["Tokens"] * len(rows),
            },
            len(rows),
        )
        costs = with_row_identity(table, datasource_id="bds_q", billing_period=month, partition_id=partition)
        seed_month(sessions, data_dir, tenant_id, "bds_q", month, costs)
    ids = []
    with sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        for definition in (TEAM, ENV):
            row, _ = dimensions.create_dimension(session, tenant, definition, Engine.local(data_dir))
            ids.append(row.id)
    return HandMade(tenant_id, token, ids[0], ids[1])
