"""One history of imports for every source, and partition ids that are never reused.

- ``metric_imports`` becomes the history of every import: ``datasource_id`` (a metrics datasource) becomes
  nullable, ``billing_datasource_id`` is added (ON DELETE CASCADE), a CHECK requires exactly one of the two,
  and ``heartbeat_at`` records the last sign of life of a RUNNING import (a killed import is then marked
  FAILED instead of staying RUNNING forever).
- ``billing_files.status`` uses the pipeline's file vocabulary: ``IMPORTED`` becomes ``LOADED``.
- ``partition_ids`` hands out the ids that prefix a partition's x_RowIds (taken before the partition is
  written, so the file can be complete before the transaction that publishes it); ``billing_periods``
  records its ``partition_id``. Existing periods keep theirs (their id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ONE_DATASOURCE = "(datasource_id IS NULL) <> (billing_datasource_id IS NULL)"


def upgrade() -> None:
    with _keeping_file_links(), op.batch_alter_table("metric_imports") as batch:
        batch.alter_column("datasource_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("billing_datasource_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            "fk_metric_imports_billing_datasource_id_billing_datasources",
            "billing_datasources",
            ["billing_datasource_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_check_constraint("ck_metric_imports_one_datasource", ONE_DATASOURCE)
        batch.create_index("ix_metric_imports_billing_datasource_id", ["billing_datasource_id"])
    op.execute("UPDATE billing_files SET status = 'LOADED' WHERE status = 'IMPORTED'")
    op.create_table(
        "partition_ids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("billing_periods") as batch:
        batch.add_column(sa.Column("partition_id", sa.Integer, nullable=True))
    op.execute("UPDATE billing_periods SET partition_id = id")
    # Ids already used as partition ids are taken, so new ones come after them.
    op.execute("INSERT INTO partition_ids (id) SELECT id FROM billing_periods")
    if op.get_bind().dialect.name == "postgresql":  # explicit ids do not move a serial's sequence
        op.execute(
            "SELECT setval(pg_get_serial_sequence('partition_ids', 'id'), COALESCE(max(id), 0) + 1, false) "
            "FROM partition_ids"
        )


def downgrade() -> None:
    with op.batch_alter_table("billing_periods") as batch:
        batch.drop_column("partition_id")
    op.drop_table("partition_ids")
    op.execute("UPDATE billing_files SET status = 'IMPORTED' WHERE status = 'LOADED'")
    op.execute("DELETE FROM metric_imports WHERE billing_datasource_id IS NOT NULL")
    with _keeping_file_links(), op.batch_alter_table("metric_imports") as batch:
        batch.drop_index("ix_metric_imports_billing_datasource_id")
        batch.drop_constraint("ck_metric_imports_one_datasource", type_="check")
        batch.drop_constraint("fk_metric_imports_billing_datasource_id_billing_datasources", type_="foreignkey")
        batch.drop_column("heartbeat_at")
        batch.drop_column("billing_datasource_id")
        batch.alter_column("datasource_id", existing_type=sa.String(64), nullable=False)


@contextmanager
def _keeping_file_links() -> Iterator[None]:
    """On SQLite, batch mode rebuilds ``metric_imports`` (copy, DROP, rename); the DROP applies
    ``metric_files.import_id``'s ON DELETE SET NULL. The links are saved before and written back after (ids are
    copied unchanged). PostgreSQL alters the table in place."""
    bind = op.get_bind()
    links = []
    if bind.dialect.name == "sqlite":
        links = [
            {"file_id": row.id, "import_id": row.import_id}
            for row in bind.execute(sa.text("SELECT id, import_id FROM metric_files WHERE import_id IS NOT NULL"))
        ]
    yield
    if links:
        bind.execute(sa.text("UPDATE metric_files SET import_id = :import_id WHERE id = :file_id"), links)
