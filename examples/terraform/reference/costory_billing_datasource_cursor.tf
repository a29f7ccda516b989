variable "cursor_admin_api_key" {
  type      = string
  sensitive = true
}

resource "costory_billing_datasource_cursor" "cursor" {
  name          = "Cursor"
  admin_api_key = var.cursor_admin_api_key
}
