resource "costory_alert" "claude_spike" {
  name          = "Claude API spike"
  filters       = [{ field = "ServiceName", operator = "EQUALS", values = ["Claude API"] }]
  condition     = "ABOVE_TRAILING_AVERAGE" # or ABOVE_AMOUNT with `amount`
  trailing_days = 7
  percent       = 30  # a day 30% above the 7 days before it
  dedup_hours   = 168 # at most once a week (24 when unset)

  team_ids = [costory_team.platform.id]
}
