# Grant the identity of `data.costory_service_account` BigQuery Data Viewer on the export's dataset first.
resource "costory_billing_datasource_gcp" "billing" {
  name                = "GCP bill"
  bq_uri              = "my-billing-project.billing_export.gcp_billing_export_resource_v1_0123AB_CDEF01_2345GH"
  is_detailed_billing = true

  # Optional: the first day to import.
  start_date = "2025-01-01"
}
