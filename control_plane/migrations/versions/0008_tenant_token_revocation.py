"""Tenant API tokens can be revoked: ``tenants.revoked_at`` (NULL while the token is valid).

A revoked token is still recognised by its hash, so a call with it is told the token was revoked rather
than that it is unknown; rotating the token (a new hash) clears ``revoked_at``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite >= 3.35 has it): a batch rebuild would DROP ``tenants``, which every
    # tenant-owned table references.
    op.drop_column("tenants", "revoked_at")
