# Split shared API costs: Costory imports a daily "API Usage" metric (API calls per team and region)
# from Parquet files your export job writes to S3, and your AWS bill (a CUR 2.0 Data Export in Parquet),
# reading both through an IAM role that trusts only Costory's Google identity. The `team` virtual
# dimension then splits the shared API gateway's cost across teams in proportion to their API calls.
#
#   export COSTORY_TOKEN=cst_...          # printed by `costory-control-plane tenants create`
#   terraform init && terraform apply

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    costory = {
      source = "costory-io/costory"
    }
  }
}

provider "aws" {
  region = var.region
}

provider "costory" {}

variable "region" {
  type    = string
  default = "us-east-1"
}

data "aws_caller_identity" "current" {}

data "costory_service_account" "current" {}

# The bucket your export job writes one Parquet file a day to (columns: date, team, region, api_call_count).
resource "aws_s3_bucket" "usage_metrics" {
  bucket = "costory-usage-metrics-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_public_access_block" "usage_metrics" {
  bucket                  = aws_s3_bucket.usage_metrics.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Read-only access to the bucket and its objects.
resource "aws_iam_policy" "costory_read_usage_metrics" {
  name = "costory-read-usage-metrics"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:ListBucket", "s3:GetBucketLocation"]
        Resource = aws_s3_bucket.usage_metrics.arn
      },
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = "${aws_s3_bucket.usage_metrics.arn}/*"
      },
    ]
  })
}

# Only Costory's Google identity (its subject ids) may assume this role.
resource "aws_iam_role" "costory_usage_metrics" {
  name = "costory-usage-metrics"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Federated = "accounts.google.com" }
        Action    = "sts:AssumeRoleWithWebIdentity"
        Condition = {
          StringEquals = {
            "accounts.google.com:sub" = data.costory_service_account.current.sub_ids
          }
        }
      },
    ]
  })
}

resource "aws_iam_role_policy_attachment" "costory_usage_metrics" {
  role       = aws_iam_role.costory_usage_metrics.name
  policy_arn = aws_iam_policy.costory_read_usage_metrics.arn
}

resource "costory_metrics_datasource_s3_parquet" "api_usage" {
  name        = "API Usage"
  bucket_name = aws_s3_bucket.usage_metrics.bucket
  prefix      = "api-usage/"
  role_arn    = aws_iam_role.costory_usage_metrics.arn

  metrics_definition {
    metric_name  = "api_call_count"
    gap_filling  = "ZERO"
    aggregation  = "SUM"
    value_column = "api_call_count"
    date_column  = "date"
    dimensions   = ["region", "team"]
    unit         = "calls"
  }

  # The role must be able to read the bucket before Costory validates it.
  depends_on = [aws_iam_role_policy_attachment.costory_usage_metrics, aws_s3_bucket_public_access_block.usage_metrics]
}

# Your AWS Data Export (CUR 2.0, Parquet) delivered under cur/ in the same bucket.
resource "costory_billing_datasource_aws" "cur" {
  name        = "AWS bill"
  bucket_name = aws_s3_bucket.usage_metrics.bucket
  prefix      = "cur/"
  role_arn    = aws_iam_role.costory_usage_metrics.arn

  depends_on = [aws_iam_role_policy_attachment.costory_usage_metrics, aws_s3_bucket_public_access_block.usage_metrics]
}

# `team`: the API gateway's daily cost split by each team's API calls that day; resources tagged with a
# team go to it; anything else stays "Unallocated".
resource "costory_virtual_dimension" "team" {
  name = "team"
  rules = [
    {
      name       = "api-gateway-by-api-calls"
      conditions = [{ column = "ServiceName", operator = "EQUALS", values = ["Amazon API Gateway"] }]
      metric_split = {
        metrics_datasource_id = costory_metrics_datasource_s3_parquet.api_usage.id
        metric_name           = "api_call_count"
        dimension             = "team"
      }
    },
    {
      name        = "team-tag"
      conditions  = [{ column = "tag:team", operator = "EXISTS" }]
      from_column = { column = "tag:team" }
    },
  ]
}

output "bucket" {
  value = aws_s3_bucket.usage_metrics.bucket
}

output "role_arn" {
  value = aws_iam_role.costory_usage_metrics.arn
}

output "metrics_datasource_id" {
  value = costory_metrics_datasource_s3_parquet.api_usage.id
}

output "billing_datasource_id" {
  value = costory_billing_datasource_aws.cur.id
}

output "virtual_dimension_id" {
  value = costory_virtual_dimension.team.id
}
