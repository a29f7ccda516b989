resource "costory_team" "platform" {
  name        = "Platform"
  description = "Runs the Kubernetes clusters"
  visibility  = "PUBLIC" # PRIVATE when unset
}
