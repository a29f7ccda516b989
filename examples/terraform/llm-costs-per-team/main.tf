# LLM costs per team: one `team` view of AI spend across every provider you pay.
#
# Each provider ties spend to a team its own way, so the `team` virtual dimension has one rule per source:
#   Anthropic API     a key per team                    -> the key's name (ResourceName): "team-<team>"
#   OpenAI API        a project per team                -> the project's name (SubAccountName)
#   Azure OpenAI      a deployment per team             -> the deployment (ResourceName): "<team>-<model>"
#   Amazon Bedrock    an IAM role per team              -> the calling principal (x_IamPrincipal): role/team-<team>
#   Vertex AI         a Google Cloud project per team   -> the project id (SubAccountId): "<team>-<purpose>"
# Tokens come next to dollars (ConsumedQuantity, ConsumedUnit = "Tokens"), and the model in x_Model.
#
#   export COSTORY_TOKEN=cst_...     # printed by `costory-control-plane tenants create`
#   terraform init && terraform apply -var-file=ai.tfvars

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
    costory = {
      source  = "costory-io/costory"
      version = "~> 0.2"
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

variable "start_date" {
  description = "First day of AI spend to import (YYYY-MM-DD)"
  type        = string
}

variable "anthropic_admin_api_key" {
  type      = string
  sensitive = true
}

variable "openai_admin_api_key" {
  type      = string
  sensitive = true
}

variable "azure_storage_account_name" {
  type = string
}

variable "azure_exports_sas_url" {
  description = "Container SAS URL (read + list) of the container holding the Cost Management exports"
  type        = string
  sensitive   = true
}

variable "gcp_billing_export" {
  description = "The Cloud Billing export table, project.dataset.table"
  type        = string
}

data "aws_caller_identity" "current" {}

data "costory_service_account" "current" {}

# --- Anthropic: one API key per team, named "team-<team>" ------------------------------------------------------
resource "costory_billing_datasource_anthropic" "claude" {
  name          = "Anthropic API"
  admin_api_key = var.anthropic_admin_api_key
  start_date    = var.start_date
}

# --- OpenAI: one project per team, named after the team ---------------------------------------------------------
resource "costory_billing_datasource_openai" "openai" {
  name          = "OpenAI API"
  admin_api_key = var.openai_admin_api_key
  start_date    = var.start_date
}

# --- Azure OpenAI: one deployment per team, "<team>-<model>", in the Cost Management exports -----------------------
resource "costory_billing_datasource_azure" "azure" {
  name                 = "Azure"
  storage_account_name = var.azure_storage_account_name
  container_name       = "exports"
  actuals_path         = "costs/actual"
  amortized_path       = "costs/amortized"
  sas_url              = var.azure_exports_sas_url
}

# --- Vertex AI: one Google Cloud project per team, in the BigQuery billing export --------------------------------
# Grant data.costory_service_account.current.service_account BigQuery Data Viewer on the export's dataset.
resource "costory_billing_datasource_gcp" "gcp" {
  name       = "Google Cloud"
  bq_uri     = var.gcp_billing_export
  start_date = var.start_date
}

# --- Amazon Bedrock: each team calls Bedrock through its own IAM role; CUR 2.0 records the principal -------------
# (enable "Include caller identity (IAM principal)" on the Data Export). Costory reads it through a role that
# trusts only its Google identity.
resource "aws_s3_bucket" "cur" {
  bucket = "costory-ai-cur-${data.aws_caller_identity.current.account_id}"
}

resource "aws_iam_role" "costory_cur" {
  name = "costory-ai-cur"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = "accounts.google.com" }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = { StringEquals = { "accounts.google.com:sub" = data.costory_service_account.current.sub_ids } }
    }]
  })
}

resource "aws_iam_role_policy" "costory_cur_read" {
  name = "read-cur"
  role = aws_iam_role.costory_cur.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:ListBucket", "s3:GetBucketLocation"], Resource = aws_s3_bucket.cur.arn },
      { Effect = "Allow", Action = ["s3:GetObject"], Resource = "${aws_s3_bucket.cur.arn}/*" },
    ]
  })
}

resource "costory_billing_datasource_aws" "bedrock" {
  name        = "AWS bill (Bedrock)"
  bucket_name = aws_s3_bucket.cur.bucket
  prefix      = "cur/"
  role_arn    = aws_iam_role.costory_cur.arn
  start_date  = var.start_date

  depends_on = [aws_iam_role_policy.costory_cur_read]
}

# --- One `team` dimension, one rule per source ---------------------------------------------------------------------
resource "costory_virtual_dimension" "team" {
  name = "team"
  rules = [
    {
      name        = "anthropic-key-per-team"
      conditions  = [{ column = "Provider", operator = "EQUALS", values = ["Anthropic"] }]
      from_column = { column = "ResourceName", mapping = { strategy = "REGEX", regex = "^team-(.+)$" } }
    },
    {
      name        = "openai-project-per-team"
      conditions  = [{ column = "Provider", operator = "EQUALS", values = ["OpenAI"] }]
      from_column = { column = "SubAccountName" }
    },
    {
      name = "azure-openai-deployment-per-team"
      conditions = [
        { column = "Provider", operator = "EQUALS", values = ["Microsoft Azure"] },
        { column = "ServiceName", operator = "EQUALS", values = ["Azure OpenAI"] },
      ]
      from_column = { column = "ResourceName", mapping = { strategy = "REGEX", regex = "^([a-z]+)-" } }
    },
    {
      name        = "bedrock-role-per-team"
      conditions  = [{ column = "x_IamPrincipal", operator = "MATCHES", values = ["role/team-"] }]
      from_column = { column = "x_IamPrincipal", mapping = { strategy = "REGEX", regex = "role/team-([a-z]+)" } }
    },
    {
      name        = "vertex-project-per-team"
      conditions  = [{ column = "Provider", operator = "EQUALS", values = ["Google Cloud"] }]
      from_column = { column = "SubAccountId", mapping = { strategy = "REGEX", regex = "^([a-z]+)-" } }
    },
  ]
}

output "cur_bucket" {
  value = aws_s3_bucket.cur.bucket
}

output "virtual_dimension_id" {
  value = costory_virtual_dimension.team.id
}

output "datasource_ids" {
  value = {
    anthropic = costory_billing_datasource_anthropic.claude.id
    openai    = costory_billing_datasource_openai.openai.id
    azure     = costory_billing_datasource_azure.azure.id
    gcp       = costory_billing_datasource_gcp.gcp.id
    bedrock   = costory_billing_datasource_aws.bedrock.id
  }
}
