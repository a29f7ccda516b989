"""Virtual dimensions point at the allocation results they serve.

``virtual_dimensions.allocation_file`` (nullable) names the result file, relative to the tenant's allocations
folder; it changes in the transaction that saves what the results were computed from. Dimensions computed
before this revision keep their file where it was written (``<dimension id>.parquet``; a dimension in ERROR
kept the file of its last computation, if any: a pointer to a missing file serves nothing). After a downgrade,
dimensions computed since show no results until they are recomputed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("virtual_dimensions") as batch:
        batch.add_column(sa.Column("allocation_file", sa.String(200), nullable=True))
    op.execute("UPDATE virtual_dimensions SET allocation_file = id || '.parquet' WHERE status IN ('COMPUTED', 'ERROR')")


def downgrade() -> None:
    with op.batch_alter_table("virtual_dimensions") as batch:
        batch.drop_column("allocation_file")
