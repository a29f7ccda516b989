"""Budgets, alerts and reports (owner: the budgets domain).

Each is a rule over a scope of cost (``filters``, JSON) with recipients: emails and team ids (JSON) and a Slack
webhook URL stored only sealed (``slack_webhook_sealed``). Alerts remember the last day that fired them (the
de-duplication window) and the last day evaluated.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("budgets", "alerts", "reports")


def _rule_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("team_ids", sa.JSON(), nullable=False),
        sa.Column("slack_webhook_sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _keys(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    op.create_table(
        "budgets",
        *_rule_columns(),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("amount", sa.String(32), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        *_keys("budgets"),
    )
    op.create_table(
        "alerts",
        *_rule_columns(),
        sa.Column("condition", sa.String(32), nullable=False),
        sa.Column("amount", sa.String(32), nullable=True),
        sa.Column("trailing_days", sa.Integer(), nullable=True),
        sa.Column("percent", sa.Float(), nullable=True),
        sa.Column("dedup_hours", sa.Integer(), nullable=False),
        sa.Column("last_fired_on", sa.Date(), nullable=True),
        sa.Column("evaluated_through", sa.Date(), nullable=True),
        *_keys("alerts"),
    )
    op.create_table(
        "reports",
        *_rule_columns(),
        sa.Column("dimension_id", sa.String(64), nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("top_n", sa.Integer(), nullable=False),
        *_keys("reports"),
    )
    for table in TABLES:
        op.create_index(f"ix_{table}_tenant_id", table, ["tenant_id"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_tenant_id", table_name=table)
        op.drop_table(table)
