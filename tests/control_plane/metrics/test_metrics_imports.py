"""Imports over gRPC, end to end against moto: on-demand import, history, files (with quarantine),
status, gap-filled values, and tenant isolation of all of it."""

from __future__ import annotations

import json

import boto3
import grpc
import pytest

from control_plane.settings import Settings
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import tenant_pb2
from tests.control_plane.imports.support import usage


@pytest.fixture
def settings(tmp_path, moto) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        aws_endpoint_url=moto.endpoint,
        trust_validation="skip",
        scheduler_enabled=False,
    )


def aws(moto, service):
    return boto3.client(
        service, endpoint_url=moto.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


@pytest.fixture
def imported(moto, tenant_a):
    """Tenant A's datasource over a bucket with two good daily files and one broken file, imported once."""
    sub = tenant_a.tenants.GetServiceAccount(tenant_pb2.GetServiceAccountRequest()).sub_ids[0]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": "accounts.google.com"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {"accounts.google.com:sub": sub}},
            }
        ],
    }
    role = aws(moto, "iam").create_role(RoleName="usage-reader", AssumeRolePolicyDocument=json.dumps(trust))
    s3 = aws(moto, "s3")
    s3.create_bucket(Bucket="usage")
    s3.put_object(Bucket="usage", Key="daily/2026-01-01.parquet", Body=usage(["2026-01-01"] * 2, ["a", "b"], [10, 4]))
    s3.put_object(Bucket="usage", Key="daily/2026-01-03.parquet", Body=usage(["2026-01-03"], ["a"], [6]))
    s3.put_object(Bucket="usage", Key="daily/broken.parquet", Body=b"date,team\n2026-01-02,a\n")
    created = tenant_a.metrics.CreateMetricsDatasource(
        pb.CreateMetricsDatasourceRequest(
            metrics_datasource=pb.MetricsDatasource(
                name="usage",
                bucket_name="usage",
                prefix="daily/",
                role_arn=role["Role"]["Arn"],
                metrics_definition=[
                    pb.MetricDefinition(
                        metric_name="api_calls", gap_filling="FORWARD_FILL", aggregation="SUM",
                        value_column="api_call_count", date_column="date", dimensions=["team"],
                    )
                ],
            )
        )
    )  # fmt: skip
    result = tenant_a.metrics.ImportMetricsDatasource(pb.ImportMetricsDatasourceRequest(id=created.id))
    return created.id, result


def test_import_records_history_files_and_status(tenant_a, imported):
    datasource_id, result = imported
    assert (result.status, result.trigger, result.files_seen, result.files_imported, result.files_quarantined) == (
        "PARTIAL", "MANUAL", 3, 2, 1,
    )  # fmt: skip
    quarantined = tenant_a.metrics.ListMetricFiles(
        pb.ListMetricFilesRequest(datasource_id=datasource_id, status="QUARANTINED")
    ).files
    assert [f.key for f in quarantined] == ["daily/broken.parquet"]
    assert quarantined[0].reason.startswith("Not a Parquet file")
    state = tenant_a.metrics.GetMetricsDatasource(pb.GetMetricsDatasourceRequest(id=datasource_id))
    assert state.status == "WARNING"
    assert state.status_message.startswith("1 file quarantined")
    assert state.last_import_at.seconds > 0

    again = tenant_a.metrics.ImportMetricsDatasource(pb.ImportMetricsDatasourceRequest(id=datasource_id))
    assert (again.files_seen, again.files_imported, again.files_unchanged) == (3, 0, 3)
    history = tenant_a.metrics.ListMetricImports(pb.ListMetricImportsRequest(datasource_id=datasource_id)).imports
    assert [i.id for i in history] == [again.id, result.id]


def test_values_are_gap_filled_and_grouped(tenant_a, imported):
    datasource_id, _ = imported
    answer = tenant_a.metrics.QueryMetricValues(
        pb.QueryMetricValuesRequest(
            datasource_id=datasource_id, metric_name="api_calls", start_date="2026-01-01",
            end_date="2026-01-03", group_by=["team"],
        )
    )  # fmt: skip
    # FORWARD_FILL: the 2nd (no file) repeats the 1st; team b has no value after the 1st.
    assert [(r.day, dict(r.dimensions), r.value) for r in answer.rows] == [
        ("2026-01-01", {"team": "a"}, 10.0),
        ("2026-01-01", {"team": "b"}, 4.0),
        ("2026-01-02", {"team": "a"}, 10.0),
        ("2026-01-02", {"team": "b"}, 4.0),
        ("2026-01-03", {"team": "a"}, 6.0),
        ("2026-01-03", {"team": "b"}, 4.0),
    ]


def test_a_bad_date_names_the_field(tenant_a, imported):
    datasource_id, _ = imported
    with pytest.raises(grpc.RpcError) as raised:
        tenant_a.metrics.QueryMetricValues(
            pb.QueryMetricValuesRequest(
                datasource_id=datasource_id, metric_name="api_calls", start_date="Jan 1", end_date="2026-01-03"
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "start_date: `start_date` is `Jan 1`; use a UTC day as YYYY-MM-DD."


@pytest.mark.parametrize(
    "call",
    [
        lambda m, i: m.ImportMetricsDatasource(pb.ImportMetricsDatasourceRequest(id=i)),
        lambda m, i: m.ListMetricImports(pb.ListMetricImportsRequest(datasource_id=i)),
        lambda m, i: m.ListMetricFiles(pb.ListMetricFilesRequest(datasource_id=i)),
        lambda m, i: m.QueryMetricValues(
            pb.QueryMetricValuesRequest(
                datasource_id=i, metric_name="api_calls", start_date="2026-01-01", end_date="2026-01-02"
            )
        ),
    ],
    ids=["import", "history", "files", "values"],
)
def test_another_tenant_sees_nothing(tenant_b, imported, call):
    datasource_id, _ = imported
    with pytest.raises(grpc.RpcError) as raised:
        call(tenant_b.metrics, datasource_id)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


def test_the_daily_schedule_imports_each_missed_day_once(settings, imported):
    from datetime import UTC, timedelta

    import sqlalchemy as sa

    from control_plane.jobs import scheduler_for
    from control_plane.models import ImportRecord, ImportRun, MetricsDatasource
    from control_plane.services import build_services

    datasource_id, _ = imported
    services = build_services(settings)
    try:
        with services.sessions() as session:
            created = session.get(MetricsDatasource, datasource_id).created_at.replace(tzinfo=UTC)
        first_slot = created.replace(hour=6, minute=0, second=0, microsecond=0)
        if first_slot < created:
            first_slot += timedelta(days=1)
        later = first_slot + timedelta(days=1, hours=1)  # two slots are due
        assert scheduler_for(services, now=lambda: later).tick() == 2
        assert scheduler_for(services, now=lambda: later).tick() == 0
        with services.sessions() as session:
            runs = session.execute(sa.select(ImportRun.scheduled_for, ImportRun.status).order_by(ImportRun.id)).all()
            scheduled = session.scalars(
                sa.select(ImportRecord.run_id).where(ImportRecord.trigger == "SCHEDULED").order_by(ImportRecord.id)
            ).all()
        assert [(r.scheduled_for.replace(tzinfo=UTC), r.status) for r in runs] == [
            (first_slot, "SUCCEEDED"),
            (first_slot + timedelta(days=1), "SUCCEEDED"),
        ]
        assert len(scheduled) == 2 and None not in scheduled
    finally:
        services.close()
