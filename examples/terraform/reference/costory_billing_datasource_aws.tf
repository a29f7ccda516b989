resource "costory_billing_datasource_aws" "cur" {
  name        = "AWS bill"
  bucket_name = "my-cur-exports"
  prefix      = "cur/"
  role_arn    = "arn:aws:iam::123456789012:role/costory-billing-reader"

  # Optional: only the billing months overlapping this range are imported.
  start_date = "2025-01-01"
}
