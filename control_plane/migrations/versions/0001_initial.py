"""Tenants, metrics datasources and their metric definitions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("service_account_email", sa.String(200), nullable=False),
        sa.Column("google_subject_id", sa.String(21), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
        sa.UniqueConstraint("token_hash", name="uq_tenants_token_hash"),
        sa.UniqueConstraint("service_account_email", name="uq_tenants_service_account_email"),
        sa.UniqueConstraint("google_subject_id", name="uq_tenants_google_subject_id"),
    )
    op.create_table(
        "metrics_datasources",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("bucket_name", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(1024), nullable=True),
        sa.Column("role_arn", sa.String(2048), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_metrics_datasources_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metrics_datasources"),
    )
    op.create_index("ix_metrics_datasources_tenant_id", "metrics_datasources", ["tenant_id"])
    op.create_table(
        "metric_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("metric_name", sa.String(200), nullable=False),
        sa.Column("gap_filling", sa.String(32), nullable=False),
        sa.Column("aggregation", sa.String(32), nullable=False),
        sa.Column("value_column", sa.String(200), nullable=False),
        sa.Column("date_column", sa.String(200), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_metric_definitions_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metric_definitions"),
    )
    op.create_index("ix_metric_definitions_datasource_id", "metric_definitions", ["datasource_id"])


def downgrade() -> None:
    op.drop_index("ix_metric_definitions_datasource_id", table_name="metric_definitions")
    op.drop_table("metric_definitions")
    op.drop_index("ix_metrics_datasources_tenant_id", table_name="metrics_datasources")
    op.drop_table("metrics_datasources")
    op.drop_table("tenants")
