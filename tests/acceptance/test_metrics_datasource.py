"""costory_metrics_datasource_s3_parquet driven through the real terraform CLI, step by step."""

from __future__ import annotations

import json
import sqlite3

from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_proto.costory.v1 import metrics_datasource_pb2_grpc as pb_grpc

ADDRESS = "costory_metrics_datasource_s3_parquet.api_usage"

PROVIDER = """
terraform {
  required_providers {
    costory = {
      source = "costory-io/costory"
    }
  }
}

provider "costory" {}
"""


def blocks_config(bucket="usage-exports", metrics=("api_call_count",), extra=""):
    blocks = "".join(
        f"""
  metrics_definition {{
    metric_name  = "{m}"
    gap_filling  = "ZERO"
    aggregation  = "SUM"
    value_column = "{m}"
    date_column  = "date"
    dimensions   = ["region", "team"]
    unit         = "calls"
  }}
"""
        for m in metrics
    )
    return (
        PROVIDER
        + f"""
resource "costory_metrics_datasource_s3_parquet" "api_usage" {{
  name        = "API Usage"
  bucket_name = "{bucket}"
  prefix      = "metrics/"
  role_arn    = "arn:aws:iam::123456789012:role/costory-reader"
{blocks}}}
{extra}"""
    )


def expected_definition(metric):
    return {
        "metric_name": metric,
        "gap_filling": "ZERO",
        "aggregation": "SUM",
        "value_column": metric,
        "date_column": "date",
        "dimensions": ["region", "team"],
        "unit": "calls",
    }


def resource_actions(plan: dict) -> dict[str, list[str]]:
    return {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}


def grpc_stub(control_plane):
    return pb_grpc.MetricsDatasourceServiceStub(control_plane.channel())


def rows(control_plane, table: str) -> int:
    path = control_plane.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_lifecycle(terraform, control_plane, tenant_token):
    # 1. create, then a second plan is empty
    terraform.write(blocks_config())
    terraform.init()
    assert terraform.plan_exit_code() == 2
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    created = terraform.resources()[ADDRESS]
    assert created["id"].startswith("mds_")
    assert {k: v for k, v in created.items() if k != "id"} == {
        "name": "API Usage",
        "bucket_name": "usage-exports",
        "prefix": "metrics/",
        "role_arn": "arn:aws:iam::123456789012:role/costory-reader",
        "metrics_definition": [expected_definition("api_call_count")],
        "status": "PENDING",
        "type": "AwsS3V2",
    }

    # 2. metrics_definition changes in place
    terraform.write(blocks_config(metrics=("api_call_count", "errors")))
    assert resource_actions(terraform.plan_json()) == {ADDRESS: ["update"]}
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    updated = terraform.resources()[ADDRESS]
    assert updated["id"] == created["id"]
    assert updated["metrics_definition"] == [expected_definition("api_call_count"), expected_definition("errors")]
    metadata = (("authorization", f"Bearer {tenant_token}"),)
    remote = grpc_stub(control_plane).GetMetricsDatasource(
        pb.GetMetricsDatasourceRequest(id=created["id"]), metadata=metadata
    )
    assert [m.metric_name for m in remote.metrics_definition] == ["api_call_count", "errors"]

    # 3. a new bucket forces replacement
    terraform.write(blocks_config(bucket="other-bucket", metrics=("api_call_count", "errors")))
    plan = terraform.plan_json()
    assert resource_actions(plan) == {ADDRESS: ["delete", "create"]}
    replace_paths = plan["resource_changes"][0]["change"]["replace_paths"]
    assert replace_paths == [["bucket_name"]]
    terraform.write(blocks_config(metrics=("api_call_count", "errors")))

    # 4. `terraform import` reproduces the state apply produced
    applied = terraform.resources()[ADDRESS]
    terraform.run("state", "rm", ADDRESS)
    terraform.run("import", ADDRESS, created["id"])
    assert terraform.resources()[ADDRESS] == applied
    assert terraform.plan_exit_code() == 0

    # 5. so does an import {} block
    terraform.run("state", "rm", ADDRESS)
    terraform.write(
        blocks_config(
            metrics=("api_call_count", "errors"), extra=f'\nimport {{\n  to = {ADDRESS}\n  id = "{created["id"]}"\n}}\n'
        )
    )
    assert resource_actions(terraform.plan_json()) == {ADDRESS: ["no-op"]}
    terraform.apply()
    assert terraform.resources()[ADDRESS] == applied
    assert terraform.plan_exit_code() == 0
    terraform.write(blocks_config(metrics=("api_call_count", "errors")))

    # 6. deleted outside Terraform: refresh drops it, the next plan creates it
    grpc_stub(control_plane).DeleteMetricsDatasource(
        pb.DeleteMetricsDatasourceRequest(id=created["id"]), metadata=metadata
    )
    assert resource_actions(terraform.plan_json()) == {ADDRESS: ["create"]}
    terraform.apply()
    assert terraform.resources()[ADDRESS]["id"] != created["id"]
    assert terraform.plan_exit_code() == 0

    # 7. destroy leaves no rows behind
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert rows(control_plane, "metrics_datasources") == 0
    assert rows(control_plane, "metric_definitions") == 0


def test_attribute_list_syntax(terraform):
    terraform.write(
        PROVIDER
        + """
resource "costory_metrics_datasource_s3_parquet" "api_usage" {
  name        = "API Usage"
  bucket_name = "usage-exports"
  role_arn    = "arn:aws:iam::123456789012:role/costory-reader"
  metrics_definition = [
    {
      metric_name  = "api_call_count"
      gap_filling  = "FORWARD_FILL"
      aggregation  = "Average"
      value_column = "api_call_count"
      date_column  = "date"
    },
  ]
}
"""
    )
    terraform.init()
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    state = terraform.resources()[ADDRESS]
    assert state["prefix"] == ""  # the public provider's defaults when omitted
    assert state["metrics_definition"] == [
        {
            "metric_name": "api_call_count",
            "gap_filling": "FORWARD_FILL",
            "aggregation": "Average",
            "value_column": "api_call_count",
            "date_column": "date",
            "dimensions": None,
            "unit": "count",
        }
    ]
    terraform.run("destroy", "-auto-approve", "-input=false")


def test_service_account_data_source(terraform, control_plane, tenant_token):
    from costory_proto.costory.v1 import tenant_pb2, tenant_pb2_grpc

    terraform.write(
        PROVIDER
        + """
data "costory_service_account" "current" {}

output "sub_ids" {
  value = data.costory_service_account.current.sub_ids
}

output "service_account" {
  value = data.costory_service_account.current.service_account
}
"""
    )
    terraform.init()
    terraform.apply()
    outputs = {k: v["value"] for k, v in json.loads(terraform.run("output", "-json").stdout).items()}
    remote = tenant_pb2_grpc.TenantServiceStub(control_plane.channel()).GetServiceAccount(
        tenant_pb2.GetServiceAccountRequest(), metadata=(("authorization", f"Bearer {tenant_token}"),)
    )
    assert outputs == {"sub_ids": list(remote.sub_ids), "service_account": remote.service_account}
    assert len(remote.sub_ids) == 1 and len(remote.sub_ids[0]) == 21
    assert remote.service_account == "costory-acceptance@costory-selfhosted.iam.gserviceaccount.com"
