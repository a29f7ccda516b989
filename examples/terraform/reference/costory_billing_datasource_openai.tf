variable "openai_admin_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_openai" "openai" {
  name          = "OpenAI API"
  admin_api_key = var.openai_admin_api_key
}
