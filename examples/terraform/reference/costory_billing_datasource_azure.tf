variable "azure_exports_sas_url" {
  description = "Container SAS URL (read + list) of the storage container holding the cost exports"
  type        = string
  sensitive   = true
}

resource "costory_billing_datasource_azure" "billing" {
  name                 = "Azure bill"
  storage_account_name = "costexports"
  container_name       = "exports"
  actuals_path         = "costs/actual"
  amortized_path       = "costs/amortized"
  sas_url              = var.azure_exports_sas_url
}
