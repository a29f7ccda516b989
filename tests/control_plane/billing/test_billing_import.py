"""Importing a CUR 2.0 export from moto: a re-exported month replaces that month only."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod
from control_plane.storage import AwsCredentials, S3ObjectStore
from devtools.sample_cur import cur_table, guide_cur, write_cur
from tests.control_plane.imports.support import add_billing_datasource

BUCKET = "customer-billing"
PREFIX = "cur/"
EXPORT = "costory"


@pytest.fixture
def s3(moto):
    client = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def datasource_id(sessions):
    return add_billing_datasource(sessions, prefix=PREFIX)[1]


def run(sessions, settings, moto, datasource_id):
    store = S3ObjectStore(
        BUCKET, PREFIX, credentials=AwsCredentials("testing", "testing"), region="us-east-1", endpoint_url=moto.endpoint
    )
    return import_billing(sessions, datasource_id, store, CostStore(settings.data_dir))


def held(sessions, costs, tenant_id, **options):
    """The tenant's cost rows from its committed partitions."""
    with sessions() as session:
        return costs.read(session, tenant_id, **options)


def month_file(sessions, costs, tenant_id, datasource_id, month) -> Path:
    """The file of the month's committed partition: `<month>.<partition id>.parquet`."""
    with sessions() as session:
        period = session.scalar(
            sa.select(BillingPeriod).where(
                BillingPeriod.datasource_id == datasource_id, BillingPeriod.billing_period == month
            )
        )
    path = Path(costs.store.path(costs.key(tenant_id, datasource_id, month, period.partition_id)))
    assert path.name == f"{month}.{period.partition_id}.parquet" and path.exists()
    return path


def october(cost=10.0):
    return cur_table(
        [{"usage_day": "2025-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": cost}]
    )


def test_a_re_exported_month_replaces_that_month_only(sessions, settings, moto, s3, datasource_id):
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october())
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-01", guide_cur())
    first = run(sessions, settings, moto, datasource_id)
    assert (first.status, first.files_seen, first.months_replaced, first.months_unchanged) == (
        "SUCCEEDED",
        2,
        ["2025-10", "2026-01"],
        [],
    )
    costs = CostStore(settings.data_dir)
    tenant_id = "ten_" + datasource_id.removeprefix("bds_")
    january_file = month_file(sessions, costs, tenant_id, datasource_id, "2026-01")
    january_bytes, january_mtime = january_file.read_bytes(), january_file.stat().st_mtime_ns
    january_ids = held(sessions, costs, tenant_id, columns=["x_BillingPeriod", "x_RowId"]).filter(
        pc.equal(pc.field("x_BillingPeriod"), "2026-01")
    ).column("x_RowId").to_pylist()

    # Unchanged export: nothing is touched.
    again = run(sessions, settings, moto, datasource_id)
    assert (again.months_replaced, again.months_unchanged) == ([], ["2025-10", "2026-01"])

    # AWS restates October: two part files now, different amounts.
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october(cost=7.5), part=1)
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october(cost=1.25), part=2)
    restated = run(sessions, settings, moto, datasource_id)
    assert (restated.months_replaced, restated.months_unchanged) == (["2025-10"], ["2026-01"])

    table = held(sessions, costs, tenant_id, columns=["x_BillingPeriod", "BilledCost", "x_RowId"])
    by_month = table.group_by("x_BillingPeriod").aggregate([("BilledCost", "sum"), ("BilledCost", "count")])
    assert sorted(zip(*(by_month.column(c).to_pylist() for c in by_month.column_names), strict=True)) == [
        ("2025-10", Decimal("8.750000000000"), 2),
        ("2026-01", Decimal("1171.000000000000"), 17),
    ]
    assert january_file.read_bytes() == january_bytes
    assert january_file.stat().st_mtime_ns == january_mtime
    assert table.filter(pc.equal(pc.field("x_BillingPeriod"), "2026-01")).column("x_RowId").to_pylist() == january_ids
    with sessions.begin() as session:
        periods = {p.billing_period: (p.rows, p.billed_cost) for p in session.scalars(sa.select(BillingPeriod))}
    assert periods == {"2025-10": (2, "8.750000000000"), "2026-01": (17, "1171.000000000000")}


def test_a_broken_file_is_quarantined_and_its_month_kept(sessions, settings, moto, s3, datasource_id):
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october())
    assert run(sessions, settings, moto, datasource_id).months_replaced == ["2025-10"]
    broken_key = f"{PREFIX}{EXPORT}/data/BILLING_PERIOD=2025-10/{EXPORT}-00002.snappy.parquet"
    s3.put_object(Bucket=BUCKET, Key=broken_key, Body=b"not parquet at all")
    result = run(sessions, settings, moto, datasource_id)
    assert result.status == "PARTIAL"
    assert result.months_replaced == []
    assert [key for key, _ in result.quarantined] == [broken_key]
    assert result.quarantined[0][1].startswith("Not a Parquet file")
    tenant_id = "ten_" + datasource_id.removeprefix("bds_")
    costs = CostStore(settings.data_dir)
    assert held(sessions, costs, tenant_id, columns=["BilledCost"]).column("BilledCost").to_pylist() == [
        Decimal("10.000000000000")
    ]
    with sessions.begin() as session:
        statuses = {f.key.rsplit("/", 1)[1]: f.status for f in session.scalars(sa.select(BillingFile))}
    assert statuses == {f"{EXPORT}-00001.snappy.parquet": "LOADED", f"{EXPORT}-00002.snappy.parquet": "QUARANTINED"}


def test_start_and_end_dates_limit_the_months(sessions, settings, moto, s3, datasource_id):
    with sessions.begin() as session:
        session.get(BillingDatasource, datasource_id).start_date = "2025-11-15"
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october())
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-01", guide_cur())
    assert run(sessions, settings, moto, datasource_id).months_replaced == ["2026-01"]


# --- The Must-show: a CUR file re-exported for the same month replaces that month only -----------------


def tenant_of(datasource_id: str) -> str:
    return "ten_" + datasource_id.removeprefix("bds_")


def october_v1():
    return cur_table(
        [
            {"usage_day": "2026-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 10.0},
            {"usage_day": "2026-10-06", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 2.5},
        ]
    )


def october_v2():
    """AWS restated October: EC2 lower, S3 the same, and a credit."""
    return cur_table(
        [
            {"usage_day": "2026-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 9.75},
            {"usage_day": "2026-10-06", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 2.5},
            {
                "usage_day": "2026-10-31",
                "line_item_product_code": "AmazonEC2",
                "line_item_line_item_type": "Credit",
                "line_item_unblended_cost": -1.0,
            },
        ]
    )


def month_rows(sessions, costs, tenant_id, month):
    table = held(
        sessions,
        costs,
        tenant_id,
        columns=["x_BillingPeriod", "ChargePeriodStart", "ServiceName", "ChargeCategory", "BilledCost", "x_RowId"],
    )
    table = table.filter(pc.equal(pc.field("x_BillingPeriod"), month))
    return [
        (
            r["ChargePeriodStart"].date().isoformat(),
            r["ServiceName"],
            r["ChargeCategory"],
            r["BilledCost"],
            r["x_RowId"],
        )
        for r in table.to_pylist()
    ]


def period_records(sessions):
    with sessions.begin() as session:
        return {p.billing_period: (p.id, p.rows, p.billed_cost) for p in session.scalars(sa.select(BillingPeriod))}


def test_must_show_a_re_exported_month_replaces_that_month_only(sessions, settings, moto, s3, datasource_id):
    tenant_id = tenant_of(datasource_id)
    costs = CostStore(settings.data_dir)
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v1())
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-11", guide_cur("2026-11"))

    first = run(sessions, settings, moto, datasource_id)
    assert (first.status, first.changed_months, first.months_unchanged) == ("SUCCEEDED", ["2026-10", "2026-11"], [])
    before = period_records(sessions)
    october_id, november_id = before["2026-10"][0], before["2026-11"][0]
    assert before == {
        "2026-10": (october_id, 2, "12.500000000000"),
        "2026-11": (november_id, 17, "1171.000000000000"),
    }
    assert month_rows(sessions, costs, tenant_id, "2026-10") == [
        ("2026-10-05", "AmazonEC2", "Usage", Decimal("10.000000000000"), (october_id << 32) + 0),
        ("2026-10-06", "AmazonS3", "Usage", Decimal("2.500000000000"), (october_id << 32) + 1),
    ]
    october_file = month_file(sessions, costs, tenant_id, datasource_id, "2026-10")
    november_file = month_file(sessions, costs, tenant_id, datasource_id, "2026-11")
    november_bytes, november_mtime = november_file.read_bytes(), november_file.stat().st_mtime_ns
    october_mtime = october_file.stat().st_mtime_ns
    november_rows = month_rows(sessions, costs, tenant_id, "2026-11")
    assert [r[4] for r in november_rows] == [(november_id << 32) + i for i in range(17)]
    gateway = sum(r[3] for r in november_rows if r[1] == "Amazon API Gateway")
    assert gateway == Decimal("1000.000000000000")

    # The same export again: nothing is read back, nothing is written.
    again = run(sessions, settings, moto, datasource_id)
    assert (again.changed_months, again.months_unchanged) == ([], ["2026-10", "2026-11"])
    assert october_file.stat().st_mtime_ns == october_mtime
    assert november_file.stat().st_mtime_ns == november_mtime
    assert period_records(sessions) == before

    # AWS re-exports October (same key, new content).
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v2())
    restated = run(sessions, settings, moto, datasource_id)
    assert (restated.status, restated.changed_months, restated.months_unchanged) == (
        "SUCCEEDED",
        ["2026-10"],
        ["2026-11"],
    )

    after = period_records(sessions)
    new_october_id = after["2026-10"][0]
    assert new_october_id not in (october_id, november_id)
    assert after == {
        "2026-10": (new_october_id, 3, "11.250000000000"),
        "2026-11": (november_id, 17, "1171.000000000000"),
    }
    assert month_rows(sessions, costs, tenant_id, "2026-10") == [
        ("2026-10-05", "AmazonEC2", "Usage", Decimal("9.750000000000"), (new_october_id << 32) + 0),
        ("2026-10-06", "AmazonS3", "Usage", Decimal("2.500000000000"), (new_october_id << 32) + 1),
        ("2026-10-31", "AmazonEC2", "Credit", Decimal("-1.000000000000"), (new_october_id << 32) + 2),
    ]
    # November: the same bytes, never rewritten, the same row ids.
    assert november_file.read_bytes() == november_bytes
    assert november_file.stat().st_mtime_ns == november_mtime
    assert month_rows(sessions, costs, tenant_id, "2026-11") == november_rows
    # October's new partition is a new object; the replaced one is gone, nothing else was left.
    new_october_file = month_file(sessions, costs, tenant_id, datasource_id, "2026-10")
    assert new_october_file != october_file
    assert sorted(october_file.parent.iterdir()) == [new_october_file, november_file]
    with sessions() as session:
        assert costs.partition_keys(session, tenant_id) == [
            f"costs/{tenant_id}/{datasource_id}/2026-10.{after['2026-10'][0]}.parquet",
            f"costs/{tenant_id}/{datasource_id}/2026-11.{november_id}.parquet",
        ]


def test_a_restated_month_never_reuses_the_row_ids_of_the_partition_it_replaced(
    sessions, settings, moto, s3, datasource_id
):
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v1())
    run(sessions, settings, moto, datasource_id)
    (first_id, _, _) = period_records(sessions)["2026-10"]
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v2())
    run(sessions, settings, moto, datasource_id)
    # The replaced row had the highest id: SQLite must not hand it out again.
    assert period_records(sessions)["2026-10"][0] == first_id + 1


def test_the_month_comes_from_the_data_when_the_key_has_no_billing_period(sessions, settings, moto, s3, datasource_id):
    november = guide_cur("2026-11")
    september = october_v1().drop_columns(["bill_billing_period_start_date"])
    september = september.set_column(
        september.schema.get_field_index("line_item_usage_start_date"),
        "line_item_usage_start_date",
        pa.array([datetime(2026, 9, 30, 23), datetime(2026, 9, 1)], pa.timestamp("ms")),
    )
    for key, table in (("cur/legacy/a.parquet", november), ("cur/legacy/b.parquet", september)):
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        s3.put_object(Bucket=BUCKET, Key=key, Body=buffer.getvalue())

    result = run(sessions, settings, moto, datasource_id)

    assert (result.status, result.changed_months) == ("SUCCEEDED", ["2026-09", "2026-11"])
    with sessions.begin() as session:
        months = {f.key: (f.billing_period, f.status) for f in session.scalars(sa.select(BillingFile))}
    assert months == {"cur/legacy/a.parquet": ("2026-11", "LOADED"), "cur/legacy/b.parquet": ("2026-09", "LOADED")}
    # Known files are not read again to learn their month.
    assert run(sessions, settings, moto, datasource_id).months_unchanged == ["2026-09", "2026-11"]


def test_a_file_without_a_required_column_is_quarantined_and_nothing_else_is_lost(
    sessions, settings, moto, s3, datasource_id
):
    tenant_id = tenant_of(datasource_id)
    costs = CostStore(settings.data_dir)
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-11", guide_cur("2026-11"))
    run(sessions, settings, moto, datasource_id)
    november_file = month_file(sessions, costs, tenant_id, datasource_id, "2026-11")
    november_bytes = november_file.read_bytes()

    # November gains a part without line_item_unblended_cost; October arrives intact.
    broken = guide_cur("2026-11").drop_columns(["line_item_unblended_cost"])
    broken_key = write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-11", broken, part=2)
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v1())
    result = run(sessions, settings, moto, datasource_id)

    assert (result.status, result.changed_months, result.months_unchanged) == ("PARTIAL", ["2026-10"], ["2026-11"])
    reason = "Not a CUR 2.0 file: missing column(s) line_item_unblended_cost."
    assert result.quarantined == [(broken_key, reason)]
    assert result.message == (
        "1 file quarantined: its rows are not imported. Fix each file and upload it again (the same key is fine).\n"
        f"- {broken_key}: {reason}"
    )
    assert november_file.read_bytes() == november_bytes
    with sessions.begin() as session:
        record = session.scalar(sa.select(BillingFile).where(BillingFile.key == broken_key))
        assert (record.status, record.reason, record.billing_period, record.size > 0) == (
            "QUARANTINED",
            reason,
            "2026-11",
            True,
        )

    # The broken part is withdrawn: November is the export it was, nothing to redo.
    s3.delete_object(Bucket=BUCKET, Key=broken_key)
    fixed = run(sessions, settings, moto, datasource_id)
    assert (fixed.status, fixed.changed_months) == ("SUCCEEDED", [])


def test_a_month_whose_files_all_disappeared_keeps_its_data(sessions, settings, moto, s3, datasource_id):
    key = write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-10", october_v1())
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-11", guide_cur("2026-11"))
    run(sessions, settings, moto, datasource_id)
    s3.delete_object(Bucket=BUCKET, Key=key)

    result = run(sessions, settings, moto, datasource_id)

    assert (result.files_seen, result.changed_months, result.months_unchanged) == (1, [], ["2026-10", "2026-11"])
    assert period_records(sessions)["2026-10"][1:] == (2, "12.500000000000")
    totals = held(sessions, CostStore(settings.data_dir), tenant_of(datasource_id), columns=["x_BillingPeriod"])
    totals = totals.column("x_BillingPeriod")
    assert pc.value_counts(totals).to_pylist() == [
        {"values": "2026-10", "counts": 2},
        {"values": "2026-11", "counts": 17},
    ]


def test_a_month_with_a_value_that_is_not_a_cost_is_quarantined_whole(sessions, settings, moto, s3, datasource_id):
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-11", guide_cur("2026-11"))
    run(sessions, settings, moto, datasource_id)
    key = write_cur(
        s3, BUCKET, PREFIX, EXPORT, "2026-11",
        cur_table([{"usage_day": "2026-11-02", "line_item_unblended_cost": float("nan")}]), part=2,
    )  # fmt: skip

    result = run(sessions, settings, moto, datasource_id)

    reason = (
        "Not a usable CUR 2.0 file: 1 row(s) with NaN in `line_item_unblended_cost`; a cost is a finite amount "
        "of money."
    )
    assert (result.status, result.changed_months, result.quarantined) == ("PARTIAL", [], [(key, reason)])
    assert period_records(sessions)["2026-11"][1:] == (17, "1171.000000000000")
    with sessions.begin() as session:
        statuses = sorted((f.key.rsplit("/", 1)[1], f.status) for f in session.scalars(sa.select(BillingFile)))
    assert statuses == [(f"{EXPORT}-00001.snappy.parquet", "LOADED"), (f"{EXPORT}-00002.snappy.parquet", "QUARANTINED")]
