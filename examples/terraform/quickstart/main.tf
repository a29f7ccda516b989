# The smallest useful configuration: Costory's identity for your trust policy, and one metrics datasource.
# Credentials come from the environment: COSTORY_TOKEN (and COSTORY_BASE_URL when the control plane is
# not on 127.0.0.1:50051).

terraform {
  required_providers {
    costory = {
      source = "costory-io/costory"
    }
  }
}

provider "costory" {}

data "costory_service_account" "current" {}

resource "costory_metrics_datasource_s3_parquet" "api_usage" {
  name        = "API Usage"
  bucket_name = "my-usage-exports"
  prefix      = "api-usage/"
  role_arn    = "arn:aws:iam::123456789012:role/costory-metrics-reader"

  metrics_definition {
    metric_name  = "api_call_count"
    gap_filling  = "ZERO"
    aggregation  = "SUM"
    value_column = "api_call_count"
    date_column  = "date"
    dimensions   = ["region", "team"]
    unit         = "calls"
  }
}

output "costory_service_account" {
  value = data.costory_service_account.current.service_account
}

output "costory_sub_ids" {
  value = data.costory_service_account.current.sub_ids
}

output "metrics_datasource_id" {
  value = costory_metrics_datasource_s3_parquet.api_usage.id
}

output "metrics_datasource_status" {
  value = costory_metrics_datasource_s3_parquet.api_usage.status
}
