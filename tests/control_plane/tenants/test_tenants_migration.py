"""Migration 0008 (``tenants.revoked_at``) on SQLite and PostgreSQL: existing tenants and what they own stay."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from control_plane.db import create_engine, migrate
from tests.control_plane.migration_support import alembic, database_at

_ROWS = [
    "INSERT INTO tenants (id, name, token_hash, service_account_email, google_subject_id, created_at) "
    "VALUES ('ten_1', 'one', 'h', 'one@example.com', '100000000000000000001', '2026-01-01 00:00:00+00')",
    "INSERT INTO metrics_datasources (id, tenant_id, name, bucket_name, role_arn, status, created_at, updated_at) "
    "VALUES ('mds_1', 'ten_1', 'usage', 'usage', 'arn:aws:iam::123456789012:role/r', 'OK', "
    "'2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0007(request, tmp_path) -> str:
    return database_at(request, tmp_path, "0007", _ROWS)


def _state(url: str) -> tuple[list[str], list[tuple], list[tuple]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            columns = [c["name"] for c in sa.inspect(connection).get_columns("tenants")]
            tenants = [tuple(r) for r in connection.execute(sa.text("SELECT id, name, token_hash FROM tenants"))]
            owned = [tuple(r) for r in connection.execute(sa.text("SELECT id, tenant_id FROM metrics_datasources"))]
    finally:
        engine.dispose()
    return columns, tenants, owned


def test_0008_adds_revoked_at_and_its_downgrade_removes_it_keeping_every_row(database_at_0007):
    migrate(database_at_0007)
    columns, tenants, owned = _state(database_at_0007)
    assert "revoked_at" in columns
    assert (tenants, owned) == ([("ten_1", "one", "h")], [("mds_1", "ten_1")])
    engine = create_engine(database_at_0007)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT revoked_at FROM tenants")) is None
    engine.dispose()

    alembic(database_at_0007, command.downgrade, "0007")
    columns, tenants, owned = _state(database_at_0007)
    assert "revoked_at" not in columns
    assert (tenants, owned) == ([("ten_1", "one", "h")], [("mds_1", "ten_1")])
