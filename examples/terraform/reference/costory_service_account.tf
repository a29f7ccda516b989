data "costory_service_account" "current" {}

output "costory_sub_ids" {
  value = data.costory_service_account.current.sub_ids
}
