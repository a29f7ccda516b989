"""Migration 0006 (dimensions point at the results they serve), on SQLite and PostgreSQL: dimensions computed
before it keep serving the file they wrote (a pointer to a file that is missing serves nothing); down and up
again keeps every row."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from control_plane.db import MIGRATIONS, create_engine

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


def alembic(url: str, action, revision: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            action(config, revision)
    finally:
        engine.dispose()


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
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").create_database(f"test_{uuid.uuid4().hex[:12]}")
    else:
        url = f"sqlite:///{tmp_path / 'old.db'}"
    alembic(url, command.upgrade, "0005")
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in ROWS_0005:
            connection.execute(sa.text(statement))
    engine.dispose()
    return url


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
