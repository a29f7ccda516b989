"""The billing import on PostgreSQL: a restated month replaces that month only, with a fresh partition id."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod
from control_plane.storage import AwsCredentials, S3ObjectStore
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import cur_table, guide_cur, write_cur


@pytest.fixture
def pg_sessions(postgres_url):
    engine = create_engine(postgres_url)
    yield create_sessionmaker(engine)
    engine.dispose()


def test_restated_month_on_postgresql(pg_sessions, moto, tmp_path):
    s3 = boto3.client(
        "s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    s3.create_bucket(Bucket="bills")
    store = S3ObjectStore(
        "bills", "cur/", credentials=AwsCredentials("t", "t"), region="us-east-1", endpoint_url=moto.endpoint
    )
    costs = CostStore(tmp_path)
    with pg_sessions.begin() as session:
        tenant, _token = create_tenant(session, "pg-restatement")
        tenant_id = tenant.id
        session.add(
            BillingDatasource(
                id="bds_pgr", tenant_id=tenant_id, name="bill", bucket_name="bills", prefix="cur/",
                role_arn="arn:aws:iam::123456789012:role/r",
            )
        )  # fmt: skip

    def run():
        return import_billing(pg_sessions, "bds_pgr", store, costs)

    def partitions():
        with pg_sessions.begin() as session:
            return {p.billing_period: p.partition_id for p in session.scalars(sa.select(BillingPeriod))}

    def periods():
        with pg_sessions.begin() as session:
            return {p.billing_period: (p.id, p.rows, p.billed_cost) for p in session.scalars(sa.select(BillingPeriod))}

    october = cur_table(
        [{"usage_day": "2026-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 10.0}]
    )
    write_cur(s3, "bills", "cur/", "costory", "2026-10", october)
    write_cur(s3, "bills", "cur/", "costory", "2026-11", guide_cur("2026-11"))
    assert run().changed_months == ["2026-10", "2026-11"]
    first = periods()
    with pg_sessions() as session:
        first_keys = costs.partition_keys(session, tenant_id)
    assert first_keys == [f"costs/{tenant_id}/bds_pgr/{m}.{partitions()[m]}.parquet" for m in ("2026-10", "2026-11")]
    november_path = tmp_path / first_keys[1]
    november_bytes = november_path.read_bytes()

    restated = cur_table(
        [{"usage_day": "2026-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 6.125}] * 2
    )
    write_cur(s3, "bills", "cur/", "costory", "2026-10", restated)
    summary = run()

    assert (summary.status, summary.changed_months, summary.months_unchanged) == ("SUCCEEDED", ["2026-10"], ["2026-11"])
    after = periods()
    assert after["2026-11"] == first["2026-11"]
    assert after["2026-10"][1:] == (2, "12.250000000000") and after["2026-10"][0] > max(i for i, _, _ in first.values())
    assert november_path.read_bytes() == november_bytes
    with pg_sessions() as session:
        assert costs.partition_keys(session, tenant_id) == [
            f"costs/{tenant_id}/bds_pgr/2026-10.{partitions()['2026-10']}.parquet",
            first_keys[1],
        ]
        table = costs.read(session, tenant_id, columns=["x_BillingPeriod", "BilledCost", "x_RowId"])
    assert not (tmp_path / first_keys[0]).exists()  # the replaced October went with the commit
    october_rows = table.filter(pc.equal(pc.field("x_BillingPeriod"), "2026-10")).to_pylist()
    assert [(r["BilledCost"], r["x_RowId"]) for r in october_rows] == [
        (Decimal("6.125000000000"), (after["2026-10"][0] << 32) + i) for i in range(2)
    ]
    with pg_sessions.begin() as session:
        assert sorted((f.billing_period, f.status, f.size > 0) for f in session.scalars(sa.select(BillingFile))) == [
            ("2026-10", "LOADED", True),
            ("2026-11", "LOADED", True),
        ]
