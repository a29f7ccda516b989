"""A billing import, then a virtual dimension computed and summarised, on a real PostgreSQL (loopback)."""

from __future__ import annotations

import boto3
import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.dimensions import service as dimensions
from control_plane.storage import AwsCredentials, S3ObjectStore
from control_plane.models import BillingDatasource, BillingPeriod, Dimension
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur, write_cur


@pytest.fixture
def pg_sessions(postgres_url):
    engine = create_engine(postgres_url)
    yield create_sessionmaker(engine)
    engine.dispose()


def test_import_and_allocate_on_postgres(pg_sessions, moto, tmp_path):
    s3 = boto3.client(
        "s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    s3.create_bucket(Bucket="bills")
    write_cur(s3, "bills", "cur/", "costory", "2026-01", guide_cur())
    store = S3ObjectStore("bills", "cur/", credentials=AwsCredentials("t", "t"), region="us-east-1", endpoint_url=moto.endpoint)
    with pg_sessions.begin() as session:
        tenant, _token = create_tenant(session, "pg")
        datasource = BillingDatasource(
            id="bds_pg", tenant_id=tenant.id, name="bill", bucket_name="bills", prefix="cur/", role_arn="arn:aws:iam::1:role/r"
        )
        session.add(datasource)
        session.flush()
        summary = import_billing(session, datasource, store, CostStore(tmp_path))
        assert summary.months_replaced == ["2026-01"]
        row, warnings = dimensions.create_dimension(
            session,
            tenant,
            {
                "name": "team",
                "rules": [
                    {"name": "tagged", "conditions": [{"column": "tag:team", "operator": "EXISTS"}], "from_column": {"column": "tag:team"}},
                    {"name": "gateway", "conditions": [{"column": "x_ProductCode", "operator": "EQUALS", "values": ["AmazonApiGateway"]}], "split_percent": {"Team_A": 75.0, "Team_B": 25.0}},
                ],
            },
            tmp_path,
        )
        assert warnings == []
        tenant_id, dimension_id = tenant.id, row.id
    with pg_sessions.begin() as session:
        assert session.scalar(sa.select(BillingPeriod.billed_cost)) == "1171.000000000000"
        assert session.scalar(sa.select(Dimension.status)) == "COMPUTED"
        tenant = session.get(type(tenant), tenant_id)
        state = dimensions.allocation_state(session, tenant, dimension_id, tmp_path)
    # Gateway + its tax line: $1,080 split 75/25 row by row; the half cents of the $260.98 and $287.06 days
    # (26,098 and 28,706 cents) tie and go to the smaller value, Team_A. EC2 by tag; S3 unmatched.
    assert {k: f"{v:.2f}" for k, v in state.summary.by_value.items()} == {
        "Team_A": "860.01",
        "Team_B": "298.99",
        "Unallocated": "12.00",
    }
