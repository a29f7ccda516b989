"""Tenant Google keys, metric ingestion (files, days, values, import history) and scheduled runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("metrics_datasources") as batch:
        batch.add_column(sa.Column("status_message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_import_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "tenant_google_keys",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_json", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_google_keys_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_google_keys"),
    )
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_import_runs_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_import_runs"),
        sa.UniqueConstraint("datasource_id", "scheduled_for", name="uq_import_runs_slot"),
    )
    op.create_index("ix_import_runs_datasource_id", "import_runs", ["datasource_id"])
    op.create_index("ix_import_runs_status", "import_runs", ["status"])
    op.create_table(
        "metric_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("files_seen", sa.Integer(), nullable=False),
        sa.Column("files_imported", sa.Integer(), nullable=False),
        sa.Column("files_unchanged", sa.Integer(), nullable=False),
        sa.Column("files_quarantined", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_metric_imports_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["import_runs.id"], name="fk_metric_imports_run_id_import_runs", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metric_imports"),
    )
    op.create_index("ix_metric_imports_datasource_id", "metric_imports", ["datasource_id"])
    op.create_index("ix_metric_imports_run_id", "metric_imports", ["run_id"])
    op.create_table(
        "metric_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(1024), nullable=False),
        sa.Column("etag", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_metric_files_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"], ["metric_imports.id"], name="fk_metric_files_import_id_metric_imports", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metric_files"),
        sa.UniqueConstraint("datasource_id", "key", "etag", name="uq_metric_files_object"),
    )
    op.create_index("ix_metric_files_datasource_id", "metric_files", ["datasource_id"])
    op.create_table(
        "metric_days",
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("metric_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("file_last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_key", sa.String(1024), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_metric_days_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("datasource_id", "metric_name", "day", name="pk_metric_days"),
    )
    op.create_table(
        "metric_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("datasource_id", sa.String(64), nullable=False),
        sa.Column("metric_name", sa.String(200), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["datasource_id"],
            ["metrics_datasources.id"],
            name="fk_metric_values_datasource_id_metrics_datasources",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_metric_values"),
    )
    op.create_index("ix_metric_values_lookup", "metric_values", ["datasource_id", "metric_name", "day"])


def downgrade() -> None:
    op.drop_index("ix_metric_values_lookup", table_name="metric_values")
    op.drop_table("metric_values")
    op.drop_table("metric_days")
    op.drop_index("ix_metric_files_datasource_id", table_name="metric_files")
    op.drop_table("metric_files")
    op.drop_index("ix_metric_imports_run_id", table_name="metric_imports")
    op.drop_index("ix_metric_imports_datasource_id", table_name="metric_imports")
    op.drop_table("metric_imports")
    op.drop_index("ix_import_runs_status", table_name="import_runs")
    op.drop_index("ix_import_runs_datasource_id", table_name="import_runs")
    op.drop_table("import_runs")
    op.drop_table("tenant_google_keys")
    with op.batch_alter_table("metrics_datasources") as batch:
        batch.drop_column("last_import_at")
        batch.drop_column("status_message")
