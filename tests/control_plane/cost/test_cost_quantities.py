"""Token quantities next to dollars in cost queries: summed per group, and shared like cost when a rule splits
a row between values (equally when the row costs nothing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from control_plane.billing.schema import source_table, with_row_identity
from control_plane.cost.model import Query
from control_plane.cost.query import run
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Tenant
from control_plane.tenants.service import create_tenant
from devtools.seed import seed_month

DAY = datetime(2026, 3, 2, tzinfo=UTC)
ROWS = [
    # (key name, model, token type, tokens, cost)
    ("team-payments", "claude-sonnet-4", "input", 1_000_000, "3.00"),
    ("team-payments", "claude-sonnet-4", "output", 200_000, "3.00"),
    ("team-search", "claude-sonnet-4", "input", 3_000_000, "9.00"),
    ("shared", "claude-haiku", "input", 900, "0.00"),
    ("shared", "claude-haiku", "output", 100, "1.00"),
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
            "name": "shared-evenly",
            "conditions": [{"column": "ResourceName", "operator": "EQUALS", "values": ["shared"]}],
            "split_even": ["payments", "search"],
        },
    ],
}


def test_tokens_follow_the_cost_they_came_with(sessions, settings):
    with sessions.begin() as session:
        tenant, _ = create_tenant(session, "Tenant Q")
        tenant_id = tenant.id
    table = source_table(
        {
            "ChargePeriodStart": [DAY] * len(ROWS),
            "BilledCost": [Decimal(r[4]) for r in ROWS],
            "EffectiveCost": [Decimal(r[4]) for r in ROWS],
            "Provider": ["Anthropic"] * len(ROWS),
            "ResourceName": [r[0] for r in ROWS],
            "x_Model": [r[1] for r in ROWS],
            "x_TokenType": [r[2] for r in ROWS],
            "ConsumedQuantity": [float(r[3]) for r in ROWS],
            "ConsumedUnit": ["Tokens"] * len(ROWS),
        },
        len(ROWS),
    )
    rows = with_row_identity(table, datasource_id="bds_a", billing_period="2026-03", partition_id=1)
    seed_month(sessions, settings.data_dir, tenant_id, "bds_a", "2026-03", rows)
    with sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        team, _ = dimensions.create_dimension(session, tenant, TEAM, Engine.local(settings.data_dir))
        by = f"dimension:{team.id}"
    march = {"start": date(2026, 3, 1), "end": date(2026, 3, 31), "granularity": "MONTH", "with_quantity": True}
    with sessions.begin() as session:
        result = run(
            session,
            session.get(Tenant, tenant_id),
            Engine.local(settings.data_dir),
            Query(group_by=(by, "x_Model"), **march),
        )
    assert [(r.group[by], r.group["x_Model"], r.cost, r.quantity) for r in result.rows] == [
        # The $1.00 haiku output row (100 tokens) is split evenly: 50 tokens each; the free 900-token input
        # row too: 450 each.
        ("payments", "claude-haiku", Decimal("0.50"), 500.0),
        ("payments", "claude-sonnet-4", Decimal("6.00"), 1_200_000.0),
        ("search", "claude-haiku", Decimal("0.50"), 500.0),
        ("search", "claude-sonnet-4", Decimal("9.00"), 3_000_000.0),
    ]
    assert result.total == Decimal("16.00")
    with sessions.begin() as session:
        plain = run(
            session,
            session.get(Tenant, tenant_id),
            Engine.local(settings.data_dir),
            Query(group_by=("x_TokenType",), **march),
        )
    assert [(r.group, r.cost, r.quantity) for r in plain.rows] == [
        ({"x_TokenType": "input"}, Decimal("12.00"), 4_000_900.0),
        ({"x_TokenType": "output"}, Decimal("4.00"), 200_100.0),
    ]
