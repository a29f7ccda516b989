"""CostStore: a month's partition is an object written once under its own key, current when the committed
``BillingPeriod`` row names it; replaced objects go after the commit, unreferenced ones with the sweep."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from control_plane.billing.cur import normalize
from control_plane.billing.schema import COST_SCHEMA, RULE_COLUMNS
from control_plane.billing.store import CostStore
from control_plane.models import BillingDatasource, BillingPeriod
from devtools.sample_cur import cur_table, guide_cur
from tests.control_plane.imports.support import add_billing_datasource


def month(datasource_id: str, billing_period: str, table=None, partition_id: int = 1):
    return normalize(
        table if table is not None else guide_cur(billing_period),
        datasource_id=datasource_id,
        billing_period=billing_period,
        partition_id=partition_id,
    )


ONE_ROW = cur_table(
    [{"usage_day": "2026-11-09", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 4.5}]
)


@pytest.fixture
def tenants(sessions):
    """Tenant A with datasources `<a>_1` and `<a>_0`, tenant B with `<b>_2`: (a, b)."""
    tenant_a, _ = add_billing_datasource(sessions)
    tenant_b, _ = add_billing_datasource(sessions)
    with sessions.begin() as session:
        for tenant, suffix in ((tenant_a, "1"), (tenant_a, "0"), (tenant_b, "2")):
            session.add(
                BillingDatasource(
                    id=f"{tenant}_{suffix}", tenant_id=tenant, name=suffix, bucket_name="b", prefix="", role_arn="r"
                )
            )
    return tenant_a, tenant_b


def record(sessions, costs, tenant, datasource, billing_period, table=None) -> str:
    with sessions.begin() as session:
        return costs.record_month(
            session,
            tenant,
            datasource,
            billing_period,
            table if table is not None else month(datasource, billing_period),
        )


def keys(sessions, costs, tenant):
    with sessions() as session:
        return costs.partition_keys(session, tenant)


def period(sessions, datasource, billing_period) -> BillingPeriod:
    with sessions() as session:
        return session.scalar(
            sa.select(BillingPeriod).where(
                BillingPeriod.datasource_id == datasource, BillingPeriod.billing_period == billing_period
            )
        )


def files(root) -> list[str]:
    """The objects under `costs/`, as keys."""
    return sorted(str(p.relative_to(root)) for p in (root / "costs").rglob("*") if p.is_file())


def test_partitions_are_keyed_by_tenant_datasource_month_and_partition(sessions, tmp_path, tenants):
    a, b = tenants
    costs = CostStore(tmp_path)
    first = record(sessions, costs, a, f"{a}_1", "2026-11")
    record(sessions, costs, a, f"{a}_0", "2026-12")
    record(sessions, costs, a, f"{a}_1", "2026-10")
    record(sessions, costs, b, f"{b}_2", "2026-11")

    ids = {m: period(sessions, f"{a}_1", m).partition_id for m in ("2026-10", "2026-11")}
    ids["2026-12"] = period(sessions, f"{a}_0", "2026-12").partition_id
    assert first == f"costs/{a}/{a}_1/2026-11.{ids['2026-11']}.parquet"
    assert pq.read_schema(tmp_path / first) == COST_SCHEMA
    assert keys(sessions, costs, a) == [
        f"costs/{a}/{a}_0/2026-12.{ids['2026-12']}.parquet",
        f"costs/{a}/{a}_1/2026-10.{ids['2026-10']}.parquet",
        f"costs/{a}/{a}_1/2026-11.{ids['2026-11']}.parquet",
    ]
    assert len(set(ids.values())) == 3
    assert keys(sessions, costs, "ten_nobody") == []
    assert costs.dataset(keys(sessions, costs, a)).schema == COST_SCHEMA


def test_read_filters_days_end_exclusive_and_selects_columns(sessions, tmp_path, tenants):
    a, b = tenants
    costs = CostStore(tmp_path)
    record(sessions, costs, a, f"{a}_1", "2026-11")
    record(sessions, costs, b, f"{b}_2", "2026-11")

    with sessions() as session:
        table = costs.read(
            session, a, start=date(2026, 11, 2), end=date(2026, 11, 4), columns=["ChargePeriodStart", "BilledCost"]
        )
        assert costs.read(session, a).num_rows == 17
        assert costs.read(session, a, start=date(2026, 11, 5)).num_rows == 0

    assert table.column_names == ["ChargePeriodStart", "BilledCost"]
    assert sorted({t.date().isoformat() for t in table.column("ChargePeriodStart").to_pylist()}) == [
        "2026-11-02",
        "2026-11-03",
    ]
    # Per day: gateway + EC2 Team_A + EC2 Team_B + S3.
    assert sum(table.column("BilledCost").to_pylist()) == (
        Decimal("307.84") + Decimal("19.75") + Decimal("3") + Decimal("287.06") + Decimal("19.75") + Decimal("3")
    )
    # Keys instead of a session: exactly those partitions.
    assert costs.read(keys(sessions, costs, b), columns=["x_DatasourceId"]).column(0).unique().to_pylist() == [f"{b}_2"]


def test_nothing_stored_reads_as_an_empty_cost_table(sessions, tmp_path, tenants):
    costs = CostStore(tmp_path)
    with sessions() as session:
        assert costs.read(session, tenants[0]).schema == COST_SCHEMA
        assert costs.read(session, tenants[0]).num_rows == 0
        assert costs.read(session, tenants[0], columns=["ServiceName"]).column_names == ["ServiceName"]
    assert costs.read([]).num_rows == 0


def test_a_replaced_partition_goes_after_the_commit_and_a_rolled_back_one_after_the_rollback(
    sessions, tmp_path, tenants
):
    a, _ = tenants
    costs = CostStore(tmp_path)
    old = record(sessions, costs, a, f"{a}_1", "2026-11")
    other = record(sessions, costs, a, f"{a}_0", "2026-11")

    new = record(sessions, costs, a, f"{a}_1", "2026-11", month(f"{a}_1", "2026-11", ONE_ROW, partition_id=9))
    assert new != old
    assert files(tmp_path) == sorted([new, other])
    with sessions() as session:
        table = costs.read(session, a, columns=["x_DatasourceId", "BilledCost", "x_RowId"])
    assert sorted(
        (r["x_DatasourceId"], r["BilledCost"], r["x_RowId"])
        for r in table.to_pylist()
        if r["x_DatasourceId"] == f"{a}_1"
    ) == [(f"{a}_1", Decimal("4.500000000000"), 9 << 32)]

    # A transaction that does not commit leaves the month as it was, and no object behind.
    written = []
    with pytest.raises(RuntimeError), sessions.begin() as session:
        written.append(costs.record_month(session, a, f"{a}_1", "2026-11", month(f"{a}_1", "2026-11")))
        assert (tmp_path / written[0]).exists()
        raise RuntimeError("the import failed before its commit")
    assert files(tmp_path) == sorted([new, other])
    assert keys(sessions, costs, a) == sorted([new, other])


def test_drop_datasource_removes_its_folder_once_the_deletion_commits(sessions, tmp_path, tenants):
    a, _ = tenants
    costs = CostStore(tmp_path)
    kept = record(sessions, costs, a, f"{a}_0", "2026-11")
    dropped = record(sessions, costs, a, f"{a}_1", "2026-11")

    with pytest.raises(RuntimeError), sessions.begin() as session:
        session.delete(session.get(BillingDatasource, f"{a}_1"))
        costs.drop_datasource(session, a, f"{a}_1")
        raise RuntimeError("rolled back")
    assert files(tmp_path) == sorted([kept, dropped])

    with sessions.begin() as session:
        session.delete(session.get(BillingDatasource, f"{a}_1"))
        costs.drop_datasource(session, a, f"{a}_1")
        costs.drop_datasource(session, a, f"{a}_unknown")  # nothing to remove is not an error
        assert files(tmp_path) == sorted([kept, dropped])
    assert files(tmp_path) == [kept]
    assert keys(sessions, costs, a) == [kept]


def test_the_sweep_removes_only_unreferenced_objects_older_than_the_grace_period(sessions, tmp_path, tenants):
    a, _ = tenants
    costs = CostStore(tmp_path, grace=timedelta(minutes=10))
    current = record(sessions, costs, a, f"{a}_1", "2026-11")
    orphan = f"costs/{a}/{a}_1/2026-11.999999.parquet"  # a killed import's partition: no row names it
    costs.store.write_table(orphan, month(f"{a}_1", "2026-11"))
    leftover = f"costs/{a}/{a}_1/2026-10.parquet.tmp"  # an earlier version's write aside
    costs.store.write_table(leftover, month(f"{a}_1", "2026-10"))
    committed = {"2026-11": period(sessions, f"{a}_1", "2026-11").partition_id}
    now = datetime.now(UTC)

    assert costs.sweep(a, f"{a}_1", committed, now=now) == 0  # young: its import may still commit
    assert files(tmp_path) == sorted([current, orphan, leftover])
    assert costs.sweep(a, f"{a}_1", committed, now=now + timedelta(minutes=11)) == 2
    assert files(tmp_path) == [current]
    assert costs.sweep(a, f"{a}_1", committed, now=now + timedelta(days=30)) == 0
    assert costs.sweep(a, f"{a}_unknown", {}, now=now) == 0


def test_files_of_earlier_versions_are_still_read_and_a_committed_staged_file_is_adopted(sessions, tmp_path, tenants):
    a, _ = tenants
    costs = CostStore(tmp_path)
    staged_key = record(sessions, costs, a, f"{a}_1", "2026-11")
    legacy_key = record(sessions, costs, a, f"{a}_1", "2026-10", month(f"{a}_1", "2026-10", ONE_ROW))
    november = period(sessions, f"{a}_1", "2026-11").partition_id
    october = period(sessions, f"{a}_1", "2026-10").partition_id
    folder = tmp_path / "costs" / a / f"{a}_1"
    # October as an early version left it (renamed in place); November staged, committed, never renamed.
    (tmp_path / legacy_key).rename(folder / "2026-10.parquet")
    (tmp_path / staged_key).rename(folder / f"2026-11.{november}.parquet.staged")

    assert keys(sessions, costs, a) == [
        f"costs/{a}/{a}_1/2026-10.parquet",
        f"costs/{a}/{a}_1/2026-11.{november}.parquet.staged",
    ]
    with sessions() as session:
        assert costs.read(session, a).num_rows == 1 + 17

    committed = {"2026-10": october, "2026-11": november}
    assert costs.sweep(a, f"{a}_1", committed, now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert files(tmp_path) == [f"costs/{a}/{a}_1/2026-10.parquet", staged_key]
    assert keys(sessions, costs, a) == [f"costs/{a}/{a}_1/2026-10.parquet", staged_key]

    # Replacing the legacy month removes the legacy file after the commit.
    replaced = record(sessions, costs, a, f"{a}_1", "2026-10", month(f"{a}_1", "2026-10", ONE_ROW))
    assert files(tmp_path) == sorted([replaced, staged_key])


def test_rule_columns_are_the_text_columns_of_the_schema():
    assert set(RULE_COLUMNS) <= set(COST_SCHEMA.names)
    assert all(COST_SCHEMA.field(name).type == "string" for name in RULE_COLUMNS)
    assert "Tags" not in RULE_COLUMNS and "x_DatasourceId" not in RULE_COLUMNS
