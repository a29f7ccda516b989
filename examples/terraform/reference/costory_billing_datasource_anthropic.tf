variable "anthropic_admin_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_anthropic" "claude" {
  name          = "Anthropic API"
  admin_api_key = var.anthropic_admin_api_key
  start_date    = "2025-01-01"
}
