resource "costory_virtual_dimension" "team" {
  name           = "team"
  leftover_value = "Unallocated"

  rules = [
    {
      # The shared API gateway: each day's cost split by that day's API calls per team.
      name       = "api-gateway-by-usage"
      conditions = [{ column = "ServiceName", operator = "EQUALS", values = ["Amazon API Gateway"] }]
      metric_split = {
        metrics_datasource_id = costory_metrics_datasource_s3_parquet.api_usage.id
        metric_name           = "api_call_count"
        dimension             = "team"
      }
    },
    {
      # Resources tagged `team=payments-svc` go to `payments`.
      name       = "team-tag"
      conditions = [{ column = "tag:team", operator = "EXISTS" }]
      from_column = {
        column  = "tag:team"
        mapping = { strategy = "REGEX", regex = "^([a-z]+)" }
      }
    },
    {
      name          = "shared-database"
      conditions    = [{ column = "ResourceId", operator = "MATCHES", values = ["^arn:aws:rds:.*:db:shared-"] }]
      split_percent = { payments = 60, search = 40 }
    },
    {
      name       = "support-plan"
      conditions = [{ column = "ServiceName", operator = "IN", values = ["AWS Support (Business)", "AWS Support (Enterprise)"] }]
      split_even = ["payments", "search", "platform"]
    },
    {
      name       = "everything-else-in-the-platform-account"
      conditions = [{ column = "SubAccountId", operator = "EQUALS", values = ["123456789012"] }]
      value      = "platform"
    },
  ]
}
