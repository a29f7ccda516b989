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
