variable "elastic_cloud_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_elastic_cloud" "elastic" {
  name            = "Elastic Cloud"
  organization_id = "1234567890"
  api_key         = var.elastic_cloud_api_key
}
