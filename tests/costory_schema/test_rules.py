"""Input rules read from the proto: role ARNs of every AWS partition, and a secret never quoted back."""

from __future__ import annotations

import pytest

from costory_proto.costory.v1 import billing_datasource_pb2, billing_source_pb2, metrics_datasource_pb2
from costory_schema import rules

AWS = {"name": "bill", "bucket_name": "b", "prefix": "", "role_arn": ""}


@pytest.mark.parametrize(
    "role_arn",
    [
        "arn:aws:iam::123456789012:role/costory",
        "arn:aws-us-gov:iam::123456789012:role/costory",
        "arn:aws-cn:iam::123456789012:role/costory",
        "arn:aws-iso-b:iam::123456789012:role/costory",
    ],
)
def test_every_partition_is_a_role_arn(role_arn):
    for message in (billing_datasource_pb2.BillingDatasourceAws, metrics_datasource_pb2.MetricsDatasource):
        assert [
            p for p in rules.check(message.DESCRIPTOR, {**AWS, "role_arn": role_arn}) if p.path == ("role_arn",)
        ] == []


@pytest.mark.parametrize("role_arn", ["arn:aws:s3:::bucket", "costory-billing", "arn:gcp:iam::1:role/x"])
def test_what_is_not_a_role_arn_is_refused_naming_the_attribute(role_arn):
    problems = rules.check(billing_datasource_pb2.BillingDatasourceAws.DESCRIPTOR, {**AWS, "role_arn": role_arn})
    assert [(p.path, p.detail) for p in problems] == [
        (
            ("role_arn",),
            f"`role_arn` is `{role_arn}`; it must be an IAM role ARN, `arn:<partition>:iam::<account>:role/<name>`.",
        )
    ]


def test_a_malformed_secret_is_refused_without_being_quoted():
    secret = "sv=2024&sig=SeCrEt"
    data = {
        "name": "azure",
        "storage_account_name": "acct",
        "container_name": "c",
        "actuals_path": "a",
        "amortized_path": "b",
        "sas_url": secret,
    }
    problems = rules.check(billing_source_pb2.BillingDatasourceAzure.DESCRIPTOR, data)
    assert [(p.path, p.detail) for p in problems] == [
        (
            ("sas_url",),
            "`sas_url` (sensitive, not shown) must be a SAS URL such as "
            "`https://<account>.blob.core.windows.net/<container>?sv=…&sig=…`.",
        )
    ]
