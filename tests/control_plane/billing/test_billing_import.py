"""Importing a CUR 2.0 export from moto: a re-exported month replaces that month only."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

import boto3
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.sample import cur_table, guide_cur, write_cur
from control_plane.billing.store import CostStore
from control_plane.ingest.store import AwsCredentials, S3ObjectStore
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, Tenant

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
    suffix = uuid.uuid4().hex[:12]
    with sessions.begin() as session:
        session.add(
            Tenant(
                id=f"ten_{suffix}",
                name=f"tenant-{suffix}",
                token_hash=hashlib.sha256(suffix.encode()).hexdigest(),
                service_account_email=f"costory-{suffix}@example.iam.gserviceaccount.com",
                google_subject_id=str(10**20 + int(suffix, 16) % 10**20),
            )
        )
        session.flush()
        session.add(
            BillingDatasource(
                id=f"bds_{suffix}",
                tenant_id=f"ten_{suffix}",
                name="bill",
                bucket_name=BUCKET,
                prefix=PREFIX,
                role_arn="arn:aws:iam::123456789012:role/costory-billing",
            )
        )
    return f"bds_{suffix}"


def run(sessions, settings, moto, datasource_id):
    store = S3ObjectStore(
        BUCKET, PREFIX, credentials=AwsCredentials("testing", "testing"), region="us-east-1", endpoint_url=moto.endpoint
    )
    with sessions.begin() as session:
        datasource = session.get(BillingDatasource, datasource_id)
        return import_billing(session, datasource, store, CostStore(settings.data_dir))


def october(cost=10.0):
    return cur_table([{"usage_day": "2025-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": cost}])


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
    january_file = costs.month_path(tenant_id, datasource_id, "2026-01")
    january_bytes, january_mtime = january_file.read_bytes(), january_file.stat().st_mtime_ns
    january_ids = costs.read(tenant_id, columns=["x_BillingPeriod", "x_RowId"]).filter(
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

    table = costs.read(tenant_id, columns=["x_BillingPeriod", "BilledCost", "x_RowId"])
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
    assert result.quarantined[0][1].startswith("not a readable Parquet file")
    tenant_id = "ten_" + datasource_id.removeprefix("bds_")
    assert CostStore(settings.data_dir).read(tenant_id, columns=["BilledCost"]).column("BilledCost").to_pylist() == [
        Decimal("10.000000000000")
    ]
    with sessions.begin() as session:
        statuses = {f.key.rsplit("/", 1)[1]: f.status for f in session.scalars(sa.select(BillingFile))}
    assert statuses == {f"{EXPORT}-00001.snappy.parquet": "IMPORTED", f"{EXPORT}-00002.snappy.parquet": "QUARANTINED"}


def test_start_and_end_dates_limit_the_months(sessions, settings, moto, s3, datasource_id):
    with sessions.begin() as session:
        session.get(BillingDatasource, datasource_id).start_date = "2025-11-15"
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2025-10", october())
    write_cur(s3, BUCKET, PREFIX, EXPORT, "2026-01", guide_cur())
    assert run(sessions, settings, moto, datasource_id).months_replaced == ["2026-01"]
