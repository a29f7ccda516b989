"""Virtual dimensions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "virtual_dimensions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("leftover_value", sa.String(200), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_virtual_dimensions_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_virtual_dimensions"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_virtual_dimensions_tenant_name"),
    )
    op.create_index("ix_virtual_dimensions_tenant_id", "virtual_dimensions", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_virtual_dimensions_tenant_id", table_name="virtual_dimensions")
    op.drop_table("virtual_dimensions")
