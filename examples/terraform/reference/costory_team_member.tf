resource "costory_team_member" "ada" {
  team_id = costory_team.platform.id
  email   = "ada@example.com"
  role    = "OWNER" # MEMBER when unset
}

resource "costory_team_member" "grace" {
  team_id = costory_team.platform.id
  user_id = "u-4821" # exactly one of user_id and email
}
