from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from control_plane.db import create_engine, migrate
from control_plane.models import Base
from tests.control_plane.migration_support import alembic, database_at


def test_migrating_an_empty_database_creates_exactly_the_models_tables(settings):
    migrate(settings.database_url)

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert set(inspector.get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_migrating_twice_is_a_no_op(settings):
    migrate(settings.database_url)
    migrate(settings.database_url)

    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0013"
    engine.dispose()


_ROWS_0004 = [
    (
        "INSERT INTO tenants (id, name, token_hash, service_account_email, google_subject_id, created_at) "
        "VALUES ('ten_1', 'one', 'h', 'one@example.com', '100000000000000000001', '2026-01-01 00:00:00+00')"
    ),
    (
        "INSERT INTO metrics_datasources (id, tenant_id, name, bucket_name, role_arn, status, created_at, "
        "updated_at) VALUES ('mds_1', 'ten_1', 'usage', 'usage', 'arn:aws:iam::123456789012:role/r', 'OK', "
        "'2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')"
    ),
    (
        "INSERT INTO import_runs (id, datasource_id, scheduled_for, status, attempts, next_attempt_at) "
        "VALUES (7, 'mds_1', '2026-01-02 06:00:00+00', 'SUCCEEDED', 1, '2026-01-02 06:00:00+00')"
    ),
    (
        "INSERT INTO metric_imports (id, datasource_id, trigger, run_id, owner, status, started_at, files_seen, "
        "files_imported, files_unchanged, files_quarantined) "
        "VALUES (3, 'mds_1', 'SCHEDULED', 7, 'A', 'SUCCEEDED', '2026-01-02 06:00:00+00', 1, 1, 0, 0)"
    ),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0004(request, tmp_path) -> str:
    """An empty database migrated to 0004 (before billing runs), holding a scheduled metrics run and its
    import."""
    return database_at(request, tmp_path, "0004", _ROWS_0004)


def _existing_run(url: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT r.id, r.datasource_id, r.status, i.id FROM import_runs r "
                "JOIN metric_imports i ON i.run_id = r.id ORDER BY r.id"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_0005_keeps_existing_runs_and_the_imports_linked_to_them(database_at_0004):
    assert _existing_run(database_at_0004) == [(7, "mds_1", "SUCCEEDED", 3)]
    migrate(database_at_0004)
    assert _existing_run(database_at_0004) == [(7, "mds_1", "SUCCEEDED", 3)]
    engine = create_engine(database_at_0004)
    with engine.connect() as connection:
        columns = {c["name"]: c["nullable"] for c in sa.inspect(connection).get_columns("import_runs")}
        assert (columns["datasource_id"], columns["billing_datasource_id"]) == (True, True)
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()

    alembic(database_at_0004, command.downgrade, "0004")
    assert _existing_run(database_at_0004) == [(7, "mds_1", "SUCCEEDED", 3)]
    migrate(database_at_0004)
    assert _existing_run(database_at_0004) == [(7, "mds_1", "SUCCEEDED", 3)]
