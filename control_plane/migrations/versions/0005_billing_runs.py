"""Daily runs of billing datasources: an import run belongs to a metrics datasource or a billing datasource.

``import_runs.datasource_id`` (metrics) becomes nullable, ``billing_datasource_id`` is added (foreign key to
``billing_datasources``, ON DELETE CASCADE, one run per billing datasource and slot), and a CHECK requires
exactly one of the two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ONE_DATASOURCE = "(datasource_id IS NULL) <> (billing_datasource_id IS NULL)"


def upgrade() -> None:
    with _keeping_import_links(), op.batch_alter_table("import_runs") as batch:
        batch.alter_column("datasource_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("billing_datasource_id", sa.String(64), nullable=True))
        batch.create_foreign_key(
            "fk_import_runs_billing_datasource_id_billing_datasources",
            "billing_datasources",
            ["billing_datasource_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_unique_constraint("uq_import_runs_billing_slot", ["billing_datasource_id", "scheduled_for"])
        batch.create_check_constraint("ck_import_runs_one_datasource", ONE_DATASOURCE)
        batch.create_index("ix_import_runs_billing_datasource_id", ["billing_datasource_id"])


def downgrade() -> None:
    op.execute("DELETE FROM import_runs WHERE billing_datasource_id IS NOT NULL")
    with _keeping_import_links(), op.batch_alter_table("import_runs") as batch:
        batch.drop_index("ix_import_runs_billing_datasource_id")
        batch.drop_constraint("ck_import_runs_one_datasource", type_="check")
        batch.drop_constraint("uq_import_runs_billing_slot", type_="unique")
        batch.drop_constraint("fk_import_runs_billing_datasource_id_billing_datasources", type_="foreignkey")
        batch.drop_column("billing_datasource_id")
        batch.alter_column("datasource_id", existing_type=sa.String(64), nullable=False)


@contextmanager
def _keeping_import_links() -> Iterator[None]:
    """On SQLite, batch mode rebuilds ``import_runs`` (copy, DROP, rename). Foreign keys are enforced and
    cannot be switched off inside the migration's transaction, so the DROP applies ``metric_imports.run_id``'s
    ON DELETE SET NULL to every import of a scheduled run. The links are saved before and written back after
    (the run ids are copied unchanged). PostgreSQL alters the table in place; nothing to do there."""
    bind = op.get_bind()
    links = []
    if bind.dialect.name == "sqlite":
        links = [
            {"import_id": row.id, "run_id": row.run_id}
            for row in bind.execute(sa.text("SELECT id, run_id FROM metric_imports WHERE run_id IS NOT NULL"))
        ]
    yield
    if links:
        bind.execute(
            sa.text(
                "UPDATE metric_imports SET run_id = :run_id "
                "WHERE id = :import_id AND EXISTS (SELECT 1 FROM import_runs WHERE id = :run_id)"
            ),
            links,
        )
