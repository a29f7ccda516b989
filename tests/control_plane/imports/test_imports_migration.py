"""Migration 0007 (one import history, file vocabulary, partition ids) on SQLite and PostgreSQL: metric imports and
the files linked to them stay linked, billing files become LOADED, each billing period keeps its partition id and
new ids come after every id in use; down and up again keeps every row."""

from __future__ import annotations

import pytest
from alembic import command

from tests.control_plane.migration_support import alembic, database_at, query

ROWS_0006 = [
    "INSERT INTO tenants (id, name, token_hash, service_account_email, google_subject_id, created_at) "
    "VALUES ('ten_1', 'one', 'h', 'one@example.com', '100000000000000000001', '2026-01-01 00:00:00+00')",
    "INSERT INTO metrics_datasources (id, tenant_id, name, bucket_name, role_arn, status, created_at, updated_at) "
    "VALUES ('mds_1', 'ten_1', 'usage', 'usage', 'arn:aws:iam::123456789012:role/r', 'OK', "
    "'2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
    "INSERT INTO metric_imports (id, datasource_id, trigger, owner, status, started_at, files_seen, files_imported, "
    "files_unchanged, files_quarantined) VALUES (3, 'mds_1', 'MANUAL', 'A', 'SUCCEEDED', '2026-01-02 06:00:00+00', "
    "1, 1, 0, 0)",
    "INSERT INTO metric_files (id, datasource_id, key, etag, size, last_modified, status, rows, import_id, "
    "imported_at) VALUES (5, 'mds_1', 'a.parquet', 'e1', 10, '2026-01-02 05:00:00+00', 'LOADED', 2, 3, "
    "'2026-01-02 06:00:00+00')",
    "INSERT INTO billing_datasources (id, tenant_id, name, bucket_name, prefix, role_arn, status, created_at, "
    "updated_at) VALUES ('bds_1', 'ten_1', 'bill', 'bills', 'cur/', 'arn:aws:iam::123456789012:role/r', 'OK', "
    "'2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00')",
    "INSERT INTO billing_periods (id, datasource_id, billing_period, fingerprint, rows, billed_cost, imported_at) "
    "VALUES (41, 'bds_1', '2025-10', 'k@e', 2, '11.25', '2026-01-02 06:00:00+00')",
    "INSERT INTO billing_files (id, datasource_id, key, etag, billing_period, status, seen_at) VALUES "
    "(1, 'bds_1', 'cur/a.parquet', 'e', '2025-10', 'IMPORTED', '2026-01-02 06:00:00+00'), "
    "(2, 'bds_1', 'cur/b.parquet', 'f', '2025-10', 'QUARANTINED', '2026-01-02 06:00:00+00')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0006(request, tmp_path) -> str:
    return database_at(request, tmp_path, "0006", ROWS_0006)


def test_0007_keeps_history_links_renames_file_statuses_and_reserves_partition_ids(database_at_0006):
    url = database_at_0006
    alembic(url, command.upgrade, "0007")

    assert query(url, "SELECT id, datasource_id, billing_datasource_id, status FROM metric_imports") == [
        (3, "mds_1", None, "SUCCEEDED")
    ]
    assert query(url, "SELECT id, import_id FROM metric_files") == [(5, 3)]
    assert query(url, "SELECT key, status FROM billing_files ORDER BY key") == [
        ("cur/a.parquet", "LOADED"),
        ("cur/b.parquet", "QUARANTINED"),
    ]
    assert query(url, "SELECT id, partition_id FROM billing_periods") == [(41, 41)]
    query(url, "INSERT INTO partition_ids (created_at) VALUES (CURRENT_TIMESTAMP)")
    assert query(url, "SELECT id FROM partition_ids ORDER BY id") == [(41,), (42,)]
    # A billing import now has a place in the history; an import of no datasource has none.
    query(
        url,
        "INSERT INTO metric_imports (billing_datasource_id, trigger, owner, status, started_at, files_seen, "
        "files_imported, files_unchanged, files_quarantined) VALUES ('bds_1', 'MANUAL', 'B', 'SUCCEEDED', "
        "'2026-01-03 06:00:00+00', 1, 1, 0, 0)",
    )

    alembic(url, command.downgrade, "0006")
    assert query(url, "SELECT id, datasource_id, status FROM metric_imports") == [(3, "mds_1", "SUCCEEDED")]
    assert query(url, "SELECT id, import_id FROM metric_files") == [(5, 3)]
    assert query(url, "SELECT key, status FROM billing_files ORDER BY key") == [
        ("cur/a.parquet", "IMPORTED"),
        ("cur/b.parquet", "QUARANTINED"),
    ]
    alembic(url, command.upgrade, "0007")
    assert query(url, "SELECT id, partition_id FROM billing_periods") == [(41, 41)]
