"""Migration 0006 (dimensions point at the results they serve), on SQLite and PostgreSQL: dimensions computed
before it keep serving the file they wrote (a pointer to a file that is missing serves nothing); down and up
again keeps every row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from control_plane.db import create_engine
from tests.control_plane.migration_support import alembic, database_at

ROWS_0005 = [
    "INSERT INTO tenants (id, name, token_hash, service_account_email, google_subject_id, created_at) "
    "VALUES ('ten_1', 'one', 'h', 'one@example.com', '100000000000000000001', '2026-01-01 00:00:00+00')",
    *(
        "INSERT INTO virtual_dimensions (id, tenant_id, name, leftover_value, rules, status, created_at, updated_at) "
        f"VALUES ('{id}', 'ten_1', '{name}', 'Unallocated', '[]', '{status}', '2026-01-01 00:00:00+00', "
        "'2026-01-01 00:00:00+00')"
        for id, name, status in (
            ("vd_computed", "team", "COMPUTED"),
            ("vd_failed", "env", "ERROR"),
            ("vd_waiting", "owner", "NO_COST_DATA"),
        )
    ),
]


def dimensions(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns("virtual_dimensions")}
        pointer = "allocation_file" if "allocation_file" in columns else "NULL"
        rows = connection.execute(
            sa.text(f"SELECT id, status, {pointer} FROM virtual_dimensions ORDER BY id")
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0005(request, tmp_path) -> str:
    return database_at(request, tmp_path, "0005", ROWS_0005)


def test_0006_points_computed_dimensions_at_the_file_they_wrote(database_at_0005):
    alembic(database_at_0005, command.upgrade, "0006")
    assert dimensions(database_at_0005) == [
        ("vd_computed", "COMPUTED", "vd_computed.parquet"),
        ("vd_failed", "ERROR", "vd_failed.parquet"),  # its last computation's file, if it had one
        ("vd_waiting", "NO_COST_DATA", None),
    ]

    alembic(database_at_0005, command.downgrade, "0005")
    assert dimensions(database_at_0005) == [
        ("vd_computed", "COMPUTED", None),
        ("vd_failed", "ERROR", None),
        ("vd_waiting", "NO_COST_DATA", None),
    ]
    alembic(database_at_0005, command.upgrade, "0006")
    assert dimensions(database_at_0005)[0] == ("vd_computed", "COMPUTED", "vd_computed.parquet")
