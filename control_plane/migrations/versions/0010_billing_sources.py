"""Billing datasources of every source, not only AWS: ``kind`` (AWS, GCP, AZURE, ANTHROPIC, CURSOR,
ELASTIC_CLOUD, OPENAI), the source's own settings in ``config`` (JSON), and its credential, when it has one,
in ``secret`` — encrypted (Fernet, the key from the settings), never in plain text.

The AWS columns stay NOT NULL (other kinds hold ""), so the table is altered in place with ADD COLUMN only:
a batch rebuild on SQLite would drop the table that billing periods and files cascade from.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("billing_datasources", sa.Column("kind", sa.String(32), nullable=False, server_default="AWS"))
    op.add_column("billing_datasources", sa.Column("config", sa.JSON(), nullable=True))
    op.add_column("billing_datasources", sa.Column("secret", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("billing_datasources", "secret")
    op.drop_column("billing_datasources", "config")
    op.drop_column("billing_datasources", "kind")
