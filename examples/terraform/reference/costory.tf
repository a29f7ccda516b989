provider "costory" {
  # token    = "cst_..."           # or COSTORY_TOKEN
  # base_url = "127.0.0.1:50051"   # or COSTORY_BASE_URL
}
