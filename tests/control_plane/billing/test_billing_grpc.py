"""BillingDatasourceService over gRPC against moto: lifecycle, input rules naming the attribute, the role guard
shared with metrics datasources, on-demand import with quarantine, deletion and tenant isolation."""

from __future__ import annotations

import json

import boto3
import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import field_mask_pb2

from control_plane.billing.store import CostStore
from control_plane.models import BillingFile, BillingPeriod
from control_plane.settings import Settings
from costory_proto.costory.v1 import billing_datasource_pb2 as pb
from costory_proto.costory.v1 import metrics_datasource_pb2 as metrics_pb
from costory_proto.costory.v1 import tenant_pb2
from devtools.sample_cur import guide_cur, write_cur
from tests.control_plane.metrics.test_metrics_grpc import field_violations

ROLE_ARN = "arn:aws:iam::123456789012:role/costory-billing"
BUCKET = "billing"
ROLE_TAKEN = (
    "`{arn}` is already registered by another Costory tenant. A role can serve one tenant only: create a role of "
    "your own whose trust policy pins `data.costory_service_account.current.sub_ids`."
)


@pytest.fixture
def settings(tmp_path, moto) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        aws_endpoint_url=moto.endpoint,
        trust_validation="skip",
        scheduler_enabled=False,
        data_dir=tmp_path / "data",
    )


def aws(moto, service):
    return boto3.client(
        service, endpoint_url=moto.endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def message(**fields) -> pb.BillingDatasourceAws:
    return pb.BillingDatasourceAws(
        **{"name": "AWS bill", "bucket_name": BUCKET, "prefix": "cur/", "role_arn": ROLE_ARN, **fields}
    )


def create(client, **fields) -> pb.BillingDatasourceAws:
    return client.billing.CreateBillingDatasourceAws(
        pb.CreateBillingDatasourceAwsRequest(billing_datasource_aws=message(**fields))
    )


def update(client, datasource: pb.BillingDatasourceAws, *paths: str) -> pb.BillingDatasourceAws:
    return client.billing.UpdateBillingDatasourceAws(
        pb.UpdateBillingDatasourceAwsRequest(
            billing_datasource_aws=datasource, update_mask=field_mask_pb2.FieldMask(paths=list(paths))
        )
    )


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


@pytest.fixture
def role_arn(moto, tenant_a) -> str:
    """A role in moto trusting only tenant A's Google identity."""
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
    role = aws(moto, "iam").create_role(RoleName="costory-billing", AssumeRolePolicyDocument=json.dumps(trust))
    aws(moto, "s3").create_bucket(Bucket=BUCKET)
    return role["Role"]["Arn"]


class TestLifecycle:
    def test_create_get_update_list_delete(self, tenant_a):
        created = create(tenant_a, start_date="2026-01-01")
        assert created.id.startswith("bds_")
        assert (created.status, created.start_date, created.HasField("end_date"), created.HasField("eks_split")) == (
            "PENDING", "2026-01-01", False, False,
        )  # fmt: skip
        got = tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))
        assert got == created

        changed = pb.BillingDatasourceAws()
        changed.CopyFrom(created)
        changed.end_date, changed.eks_split = "2026-12-31", False
        updated = update(tenant_a, changed, "end_date", "eks_split")
        assert (updated.id, updated.start_date, updated.end_date, updated.HasField("eks_split"), updated.eks_split) == (
            created.id, "2026-01-01", "2026-12-31", True, False,
        )  # fmt: skip
        assert not updated.HasField("eks_split_data_enabled")

        listed = tenant_a.billing.ListBillingDatasourceAws(pb.ListBillingDatasourceAwsRequest())
        assert [d.id for d in listed.billing_datasources] == [created.id]
        tenant_a.billing.DeleteBillingDatasourceAws(pb.DeleteBillingDatasourceAwsRequest(id=created.id))
        error = rpc_error(
            lambda: tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND

    @pytest.mark.parametrize(
        ("fields", "violations"),
        [
            (
                {"start_date": "2026/01/01"},
                [("start_date", "`start_date` is `2026/01/01`; it must be a day as `YYYY-MM-DD`.")],
            ),
            (
                {"role_arn": "costory-billing"},
                [
                    (
                        "role_arn",
                        "`role_arn` is `costory-billing`; "
                        "it must be an IAM role ARN, `arn:<partition>:iam::<account>:role/<name>`.",
                    )
                ],
            ),
            ({"name": ""}, [("name", "`name` must not be empty.")]),
            (
                {"start_date": "2026-02-01", "end_date": "2026-01-31"},
                [("end_date", "`end_date` (2026-01-31) is before `start_date` (2026-02-01).")],
            ),
        ],
    )
    def test_invalid_input_names_the_attribute(self, tenant_a, fields, violations):
        error = rpc_error(lambda: create(tenant_a, **fields))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [(f, d) for f, d in field_violations(error)] == violations
        assert "Traceback" not in (error.details() or "")

    def test_immutable_fields_cannot_change_in_place(self, tenant_a):
        created = create(tenant_a)
        changed = pb.BillingDatasourceAws()
        changed.CopyFrom(created)
        changed.bucket_name = "elsewhere"
        error = rpc_error(lambda: update(tenant_a, changed, "bucket_name"))
        assert field_violations(error) == [
            (
                "bucket_name",
                "`bucket_name` cannot be changed after creation; create a new billing datasource to change it.",
            )
        ]


class TestRoleGuardAcrossDatasourceKinds:
    def test_a_role_of_a_metrics_datasource_is_refused_to_another_tenants_billing_datasource(self, tenant_a, tenant_b):
        tenant_a.metrics.CreateMetricsDatasource(
            metrics_pb.CreateMetricsDatasourceRequest(
                metrics_datasource=metrics_pb.MetricsDatasource(
                    name="usage", bucket_name="usage", prefix="daily/", role_arn=ROLE_ARN,
                    metrics_definition=[
                        metrics_pb.MetricDefinition(
                            metric_name="calls", gap_filling="ZERO", aggregation="SUM",
                            value_column="v", date_column="d",
                        )
                    ],
                )
            )
        )  # fmt: skip
        error = rpc_error(lambda: create(tenant_b))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == [("role_arn", ROLE_TAKEN.format(arn=ROLE_ARN))]
        create(tenant_a)  # the tenant that holds the role may use it for its bill too

    def test_a_role_of_a_billing_datasource_is_refused_to_another_tenants_metrics_datasource(self, tenant_a, tenant_b):
        create(tenant_a)
        request = metrics_pb.CreateMetricsDatasourceRequest(
            metrics_datasource=metrics_pb.MetricsDatasource(
                name="usage", bucket_name="usage", role_arn=ROLE_ARN,
                metrics_definition=[
                    metrics_pb.MetricDefinition(
                        metric_name="calls", gap_filling="ZERO", aggregation="SUM", value_column="v", date_column="d"
                    )
                ],
            )
        )  # fmt: skip
        error = rpc_error(lambda: tenant_b.metrics.CreateMetricsDatasource(request))
        assert field_violations(error) == [("role_arn", ROLE_TAKEN.format(arn=ROLE_ARN))]
        # Validation says the same without saving anything.
        findings = tenant_b.billing.ValidateBillingDatasourceAws(
            pb.ValidateBillingDatasourceAwsRequest(billing_datasource_aws=message())
        ).findings
        assert [(f.field, f.detail) for f in findings] == [("role_arn", ROLE_TAKEN.format(arn=ROLE_ARN))]


class TestImport:
    def test_import_periods_files_status_and_delete(self, settings, moto, sessions, tenant_a, role_arn):
        s3 = aws(moto, "s3")
        write_cur(s3, BUCKET, "cur/", "costory", "2026-11", guide_cur("2026-11"))
        broken_key = "cur/costory/data/BILLING_PERIOD=2026-10/costory-00001.snappy.parquet"
        s3.put_object(Bucket=BUCKET, Key=broken_key, Body=b"PAR1 but not really")
        created = create(tenant_a, role_arn=role_arn)

        result = tenant_a.billing.ImportBillingDatasourceAws(pb.ImportBillingDatasourceAwsRequest(id=created.id))

        assert (result.status, result.files_seen, list(result.months_replaced), list(result.months_unchanged)) == (
            "PARTIAL", 2, ["2026-11"], ["2026-10"],
        )  # fmt: skip
        assert [q.key for q in result.quarantined] == [broken_key]
        assert result.quarantined[0].reason.startswith("Truncated or damaged Parquet file (")
        got = tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))
        assert got.status == "WARNING"
        assert got.status_message.startswith(
            "1 file quarantined: its rows are not imported. Fix each file and upload it again (the same key is "
            f"fine).\n- {broken_key}: Truncated or damaged Parquet file"
        )
        assert got.HasField("last_import_at")

        periods = tenant_a.billing.ListBillingPeriods(
            pb.ListBillingPeriodsRequest(datasource_id=created.id)
        ).billing_periods
        assert [(p.billing_period, p.rows, p.billed_cost, list(p.source_keys)) for p in periods] == [
            (
                "2026-11",
                17,
                "1171.000000000000",
                ["cur/costory/data/BILLING_PERIOD=2026-11/costory-00001.snappy.parquet"],
            )
        ]
        quarantined = tenant_a.billing.ListBillingFiles(
            pb.ListBillingFilesRequest(datasource_id=created.id, status="QUARANTINED")
        ).files
        assert [(f.key, f.billing_period, f.status, f.size) for f in quarantined] == [
            (broken_key, "2026-10", "QUARANTINED", 19)
        ]
        every = tenant_a.billing.ListBillingFiles(pb.ListBillingFilesRequest(datasource_id=created.id)).files
        assert [(f.billing_period, f.status, f.reason) for f in every] == [
            ("2026-10", "QUARANTINED", quarantined[0].reason),
            ("2026-11", "LOADED", ""),
        ]
        error = rpc_error(
            lambda: tenant_a.billing.ListBillingFiles(
                pb.ListBillingFilesRequest(datasource_id=created.id, status="IMPORTED")
            )
        )
        assert field_violations(error) == [("status", "`status` must be one of LOADED, QUARANTINED or empty.")]

        costs = CostStore(settings.data_dir)
        with sessions() as session:
            assert costs.read(session, tenant_a.tenant_id).num_rows == 17
        folder = settings.data_dir / "costs" / tenant_a.tenant_id / created.id
        with sessions() as session:
            partition_id = session.scalar(sa.select(BillingPeriod.partition_id))
        assert [p.name for p in folder.iterdir()] == [f"2026-11.{partition_id}.parquet"]
        tenant_a.billing.DeleteBillingDatasourceAws(pb.DeleteBillingDatasourceAwsRequest(id=created.id))
        assert not folder.exists()
        with sessions.begin() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(BillingPeriod)) == 0
            assert session.scalar(sa.select(sa.func.count()).select_from(BillingFile)) == 0

    def test_an_unreadable_bucket_fails_the_import_with_what_to_fix(self, moto, tenant_a, role_arn):
        created = create(tenant_a, role_arn=role_arn, bucket_name="no-such-bucket")
        result = tenant_a.billing.ImportBillingDatasourceAws(pb.ImportBillingDatasourceAwsRequest(id=created.id))
        assert result.status == "FAILED"
        assert "no-such-bucket" in result.message
        got = tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))
        assert (got.status, got.status_message) == ("ERROR", f"Import failed: {result.message}")


class TestTenantIsolation:
    @pytest.mark.parametrize(
        "call",
        [
            pytest.param(
                lambda c, ds: c.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=ds.id)), id="get"
            ),
            pytest.param(lambda c, ds: update(c, ds, "end_date"), id="update"),
            pytest.param(
                lambda c, ds: c.billing.DeleteBillingDatasourceAws(pb.DeleteBillingDatasourceAwsRequest(id=ds.id)),
                id="delete",
            ),
            pytest.param(
                lambda c, ds: c.billing.ImportBillingDatasourceAws(pb.ImportBillingDatasourceAwsRequest(id=ds.id)),
                id="import",
            ),
            pytest.param(
                lambda c, ds: c.billing.ListBillingPeriods(pb.ListBillingPeriodsRequest(datasource_id=ds.id)),
                id="periods",
            ),
            pytest.param(
                lambda c, ds: c.billing.ListBillingFiles(pb.ListBillingFilesRequest(datasource_id=ds.id)), id="files"
            ),
        ],
    )
    def test_another_tenants_datasource_is_not_found(
        self, settings, sessions, moto, tenant_a, tenant_b, role_arn, call
    ):
        write_cur(aws(moto, "s3"), BUCKET, "cur/", "costory", "2026-11", guide_cur("2026-11"))
        created = create(tenant_a, role_arn=role_arn)
        tenant_a.billing.ImportBillingDatasourceAws(pb.ImportBillingDatasourceAwsRequest(id=created.id))
        before = tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id))

        error = rpc_error(lambda: call(tenant_b, created))

        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert tenant_a.billing.GetBillingDatasourceAws(pb.GetBillingDatasourceAwsRequest(id=created.id)) == before
        costs = CostStore(settings.data_dir)
        with sessions() as session:
            held = (costs.read(session, tenant_a.tenant_id).num_rows, costs.read(session, tenant_b.tenant_id).num_rows)
        assert held == (17, 0)
        listed = tenant_b.billing.ListBillingDatasourceAws(pb.ListBillingDatasourceAwsRequest())
        assert list(listed.billing_datasources) == []
