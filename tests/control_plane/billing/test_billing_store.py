"""CostStore: partitions per tenant, datasource and month; reads filtered by day and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow.parquet as pq

from control_plane.billing.cur import normalize
from control_plane.billing.schema import COST_SCHEMA, RULE_COLUMNS
from control_plane.billing.store import CostStore
from devtools.sample_cur import cur_table, guide_cur


def month(datasource_id: str, billing_period: str, table=None, partition_id: int = 1):
    return normalize(
        table if table is not None else guide_cur(billing_period),
        datasource_id=datasource_id,
        billing_period=billing_period,
        partition_id=partition_id,
    )


def test_partitions_live_under_tenant_datasource_and_month(tmp_path):
    costs = CostStore(tmp_path)
    path = costs.replace_month("ten_a", "bds_1", "2026-11", month("bds_1", "2026-11"))
    assert path == tmp_path / "costs" / "ten_a" / "bds_1" / "2026-11.parquet"
    assert pq.read_schema(path) == COST_SCHEMA
    costs.replace_month("ten_a", "bds_0", "2026-12", month("bds_0", "2026-12"))
    costs.replace_month("ten_a", "bds_1", "2026-10", month("bds_1", "2026-10"))
    costs.replace_month("ten_b", "bds_2", "2026-11", month("bds_2", "2026-11"))
    root = tmp_path / "costs" / "ten_a"
    assert costs.paths("ten_a") == [
        root / "bds_0/2026-12.parquet",
        root / "bds_1/2026-10.parquet",
        root / "bds_1/2026-11.parquet",
    ]
    assert costs.paths("ten_c") == []


def test_read_filters_days_end_exclusive_and_selects_columns(tmp_path):
    costs = CostStore(tmp_path)
    costs.replace_month("ten_a", "bds_1", "2026-11", month("bds_1", "2026-11"))
    costs.replace_month("ten_b", "bds_2", "2026-11", month("bds_2", "2026-11"))

    table = costs.read(
        "ten_a", start=date(2026, 11, 2), end=date(2026, 11, 4), columns=["ChargePeriodStart", "BilledCost"]
    )

    assert table.column_names == ["ChargePeriodStart", "BilledCost"]
    assert sorted({t.date().isoformat() for t in table.column("ChargePeriodStart").to_pylist()}) == [
        "2026-11-02",
        "2026-11-03",
    ]
    # Per day: gateway + EC2 Team_A + EC2 Team_B + S3.
    assert sum(table.column("BilledCost").to_pylist()) == (
        Decimal("307.84") + Decimal("19.75") + Decimal("3") + Decimal("287.06") + Decimal("19.75") + Decimal("3")
    )
    assert costs.read("ten_a").num_rows == 17
    assert costs.read("ten_a", start=date(2026, 11, 5)).num_rows == 0


def test_nothing_stored_reads_as_an_empty_cost_table(tmp_path):
    costs = CostStore(tmp_path)
    assert costs.read("ten_a").schema == COST_SCHEMA
    assert costs.read("ten_a").num_rows == 0
    assert costs.read("ten_a", columns=["ServiceName"]).column_names == ["ServiceName"]


def test_replace_month_replaces_and_drop_datasource_removes_only_that_datasource(tmp_path):
    costs = CostStore(tmp_path)
    costs.replace_month("ten_a", "bds_1", "2026-11", month("bds_1", "2026-11"))
    costs.replace_month("ten_a", "bds_2", "2026-11", month("bds_2", "2026-11"))
    one_row = cur_table(
        [{"usage_day": "2026-11-09", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 4.5}]
    )
    costs.replace_month("ten_a", "bds_1", "2026-11", month("bds_1", "2026-11", one_row, partition_id=9))

    table = costs.read("ten_a", columns=["x_DatasourceId", "BilledCost", "x_RowId"])
    assert sorted(
        (r["x_DatasourceId"], r["BilledCost"], r["x_RowId"])
        for r in table.to_pylist()
        if r["x_DatasourceId"] == "bds_1"
    ) == [("bds_1", Decimal("4.500000000000"), 9 << 32)]
    costs.drop_datasource("ten_a", "bds_1")
    assert [p.parent.name for p in costs.paths("ten_a")] == ["bds_2"]
    costs.drop_datasource("ten_a", "bds_unknown")  # nothing to remove is not an error


def test_rule_columns_are_the_text_columns_of_the_schema():
    assert set(RULE_COLUMNS) <= set(COST_SCHEMA.names)
    assert all(COST_SCHEMA.field(name).type == "string" for name in RULE_COLUMNS)
    assert "Tags" not in RULE_COLUMNS and "x_DatasourceId" not in RULE_COLUMNS
