"""Configurations written the way the public costory-io/costory provider documents them, pinned as users pin
it, validate and plan against our provider unchanged; the public defaults (`prefix = ""`, `unit = "count"`) are
planned, and an imported metrics datasource that relies on them plans no change."""

from __future__ import annotations

import json

import pytest

VERSIONS = (">= 0.1.0", "~> 0.2")

SECRETS = {
    "costory_token": None,  # the tenant token, set by the test
    "anthropic_admin_api_key": "sk-ant-admin01-public-example",
    "cursor_admin_api_key": "key_public_example_cursor",
    "openai_admin_api_key": "sk-admin-public-example",
    "elastic_cloud_api_key": "essu_public_example",
    "azure_sas_url": "https://costexports.blob.core.windows.net/exports?sv=2024-11-04&sp=rl&sig=publicexample",
}


def versions_tf(version: str) -> str:
    return f"""terraform {{
  required_providers {{
    costory = {{
      source  = "costory-io/costory"
      version = "{version}"
    }}
  }}
}}

variable "costory_token" {{
  type      = string
  sensitive = true
}}

provider "costory" {{
  token = var.costory_token
}}
"""


METRICS = """resource "costory_metrics_datasource_s3_parquet" "usage" {
  name        = "API usage"
  bucket_name = "my-usage-exports"
  role_arn    = "arn:aws:iam::123456789012:role/costory-metrics"

  metrics_definition = [
    {
      metric_name  = "api_calls"
      value_column = "calls"
      date_column  = "date"
      gap_filling  = "ZERO"
      aggregation  = "SUM"
      dimensions   = ["team"]
    },
    {
      metric_name  = "active_users"
      value_column = "users"
      date_column  = "date"
      gap_filling  = "FORWARD_FILL"
      aggregation  = "Average"
    },
  ]
}

output "usage_prefix" {
  value = "${costory_metrics_datasource_s3_parquet.usage.prefix}"
}
"""

EXAMPLES = {
    "service_account.tf": """data "costory_service_account" "this" {}

output "costory_service_account" {
  value = data.costory_service_account.this.service_account
}
""",
    "aws.tf": """resource "costory_billing_datasource_aws" "this" {
  name        = "AWS"
  bucket_name = "my-cur-bucket"
  prefix      = "cur"
  role_arn    = "arn:aws:iam::123456789012:role/costory-billing"
}
""",
    "gcp.tf": """resource "costory_billing_datasource_gcp" "this" {
  name                = "GCP"
  bq_uri              = "my-project.billing.gcp_billing_export_resource_v1_0123AB_CDEF01_2345GH"
  is_detailed_billing = true
}
""",
    "azure.tf": """variable "azure_sas_url" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_azure" "this" {
  name                 = "Azure"
  storage_account_name = "costexports"
  container_name       = "exports"
  actuals_path         = "actual"
  amortized_path       = "amortized"
  sas_url              = var.azure_sas_url
}
""",
    "ai.tf": """variable "anthropic_admin_api_key" {
  type      = string
  sensitive = true
}

variable "cursor_admin_api_key" {
  type      = string
  sensitive = true
}

variable "openai_admin_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_anthropic" "this" {
  name          = "Anthropic"
  admin_api_key = var.anthropic_admin_api_key
  start_date    = "2025-01-01"
}

resource "costory_billing_datasource_cursor" "this" {
  name          = "Cursor"
  admin_api_key = var.cursor_admin_api_key
}

resource "costory_billing_datasource_openai" "this" {
  name          = "OpenAI"
  admin_api_key = var.openai_admin_api_key
}
""",
    "elastic.tf": """variable "elastic_cloud_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_elastic_cloud" "this" {
  name            = "Elastic Cloud"
  organization_id = "1234567890"
  api_key         = var.elastic_cloud_api_key
}
""",
    "metrics.tf": METRICS,
    "teams.tf": """resource "costory_team" "platform" {
  name        = "Platform"
  description = "Runs the clusters"
}

resource "costory_team_member" "ada" {
  team_id = costory_team.platform.id
  email   = "ada@example.com"
}

resource "costory_team_member" "grace" {
  team_id = costory_team.platform.id
  user_id = "u-4821"
  role    = "OWNER"
}
""",
    "dimension.tf": """resource "costory_virtual_dimension" "team" {
  name           = "team"
  leftover_value = "Unallocated"

  rules = [
    {
      name       = "api-by-usage"
      conditions = [{ column = "ServiceName", operator = "EQUALS", values = ["Amazon API Gateway"] }]
      metric_split = {
        metrics_datasource_id = costory_metrics_datasource_s3_parquet.usage.id
        metric_name           = "api_calls"
        dimension             = "team"
      }
    },
    {
      name       = "platform-account"
      conditions = [{ column = "SubAccountId", operator = "EQUALS", values = ["123456789012"] }]
      value      = "platform"
    },
  ]
}
""",
}

PLANNED_CREATES = {
    "costory_billing_datasource_aws.this",
    "costory_billing_datasource_gcp.this",
    "costory_billing_datasource_azure.this",
    "costory_billing_datasource_anthropic.this",
    "costory_billing_datasource_cursor.this",
    "costory_billing_datasource_openai.this",
    "costory_billing_datasource_elastic_cloud.this",
    "costory_metrics_datasource_s3_parquet.usage",
    "costory_team.platform",
    "costory_team_member.ada",
    "costory_team_member.grace",
    "costory_virtual_dimension.team",
}

METRICS_ADDRESS = "costory_metrics_datasource_s3_parquet.usage"


def set_variables(terraform, tenant_token: str) -> None:
    """Values as users give them: `TF_VAR_…` in the environment."""
    for name, value in {**SECRETS, "costory_token": tenant_token}.items():
        terraform.env[f"TF_VAR_{name}"] = value


@pytest.mark.parametrize("version", VERSIONS)
def test_examples_validate_and_plan(terraform, tenant_token, version):
    terraform.write(versions_tf(version), "versions.tf")
    for name, text in EXAMPLES.items():
        terraform.write(text, name)
    terraform.init()

    validated = json.loads(terraform.run("validate", "-json").stdout)
    assert (validated["valid"], validated["error_count"], validated["warning_count"]) == (True, 0, 0)

    set_variables(terraform, tenant_token)
    plan = terraform.plan_json()
    changes = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"] if c["mode"] == "managed"}
    assert changes == {address: ["create"] for address in PLANNED_CREATES}


def test_public_defaults_are_planned_and_survive_import(terraform, tenant_token):
    terraform.write(versions_tf("~> 0.2"), "versions.tf")
    terraform.write(METRICS, "metrics.tf")
    terraform.init()
    set_variables(terraform, tenant_token)

    # 1. omitted `prefix` and `unit` are planned with the public defaults, and the output knows its value
    plan = terraform.plan_json()
    [planned] = [r for r in plan["planned_values"]["root_module"]["resources"] if r["address"] == METRICS_ADDRESS]
    assert planned["values"]["prefix"] == ""
    assert [(d["metric_name"], d["unit"]) for d in planned["values"]["metrics_definition"]] == [
        ("api_calls", "count"),
        ("active_users", "count"),
    ]
    assert plan["output_changes"]["usage_prefix"]["after"] == ""

    # 2. apply, then the state holds the defaults and a second plan is empty
    terraform.apply()
    state = terraform.resources()[METRICS_ADDRESS]
    assert (state["prefix"], [d["unit"] for d in state["metrics_definition"]]) == ("", ["count", "count"])
    assert terraform.plan_exit_code() == 0

    # 3. import (the old bug: `prefix = null # forces replacement`): the state comes back equal, no change planned
    terraform.run("state", "rm", METRICS_ADDRESS)
    terraform.run("import", METRICS_ADDRESS, state["id"])
    assert terraform.resources()[METRICS_ADDRESS] == state
    assert terraform.plan_exit_code() == 0

    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
