variable "finops_slack_webhook" {
  type      = string
  sensitive = true # an incoming webhook URL is a secret: stored encrypted, never shown
}

resource "costory_budget" "platform_ai" {
  name   = "Platform team, AI"
  period = "MONTH" # MONTH when unset; QUARTER, YEAR
  amount = "5000"
  filters = [
    { field = "dimension:${costory_virtual_dimension.team.id}", operator = "EQUALS", values = ["Platform"] },
    { field = "Provider", operator = "IN", values = ["Anthropic", "OpenAI"] },
  ]

  thresholds {
    percent = 80
    of      = "ACTUAL" # the cost so far this month
  }
  thresholds {
    percent = 100
    of      = "FORECAST" # the forecast of the month-end cost
  }

  team_ids          = [costory_team.platform.id]
  emails            = ["finops@example.com"]
  slack_webhook_url = var.finops_slack_webhook
}
