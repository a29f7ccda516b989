resource "costory_report" "weekly_by_team" {
  name         = "AI spend per team, weekly"
  dimension_id = costory_virtual_dimension.team.id
  frequency    = "WEEKLY" # sent after each ISO week; MONTHLY after each month
  filters      = [{ field = "Provider", operator = "IN", values = ["Anthropic", "OpenAI"] }]
  top_n        = 5 # the rest is summed into "Other" (10 when unset)

  emails = ["finops@example.com"]
}
