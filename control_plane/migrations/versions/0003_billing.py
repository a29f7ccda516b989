"""Billing datasources (AWS CUR 2.0), the billing months held and the export files seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_datasources",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bucket_name", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(1024), nullable=False),
        sa.Column("role_arn", sa.String(2048), nullable=False),
        sa.Column("eks_split", sa.Boolean(), nullable=True),
        sa.Column("eks_split_data_enabled", sa.Boolean(), nullable=True),
        sa.Column("start_date", sa.String(10), nullable=True),
        sa.Column("end_date", sa.String(10), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("last_import_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_billing_datasources_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_billing_datasources"),
    )
    op.create_index("ix_billing_datasources_tenant_id", "billing_datasources", ["tenant_id"])
    op.create_table(
        "billing_periods",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("billing_period", sa.String(7), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("billed_cost", sa.String(48), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["billing_datasources.id"],
            name="fk_billing_periods_datasource_id_billing_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_billing_periods"),
        sa.UniqueConstraint("datasource_id", "billing_period", name="uq_billing_periods_month"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_billing_periods_datasource_id", "billing_periods", ["datasource_id"])
    op.create_table(
        "billing_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("etag", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billing_period", sa.String(7), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["billing_datasources.id"],
            name="fk_billing_files_datasource_id_billing_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_billing_files"),
        sa.UniqueConstraint("datasource_id", "key", name="uq_billing_files_key"),
    )
    op.create_index("ix_billing_files_datasource_id", "billing_files", ["datasource_id"])


def downgrade() -> None:
    for table in ("billing_files", "billing_periods", "billing_datasources"):
        column = "tenant_id" if table == "billing_datasources" else "datasource_id"
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        op.drop_table(table)
