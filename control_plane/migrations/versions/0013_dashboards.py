"""Saved dashboards (owner: the dashboards domain).

A dashboard's widgets (title, kind, and the cost query as the API's JSON) are one JSON list, kept in the
order given: a dashboard is read and written whole, never queried by widget.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("widgets", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_dashboards_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_dashboards"),
    )
    op.create_index("ix_dashboards_tenant_id", "dashboards", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_dashboards_tenant_id", table_name="dashboards")
    op.drop_table("dashboards")
