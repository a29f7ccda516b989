resource "costory_dashboard" "ai_spend" {
  name        = "AI spend"
  description = "Who spends what on which model, across every provider"

  widgets {
    title = "By team and model, weekly"
    kind  = "STACKED_BAR"
    query = {
      group_by    = ["dimension:${costory_virtual_dimension.team.id}", "x_Model"]
      filters     = [{ field = "Provider", operator = "IN", values = ["Anthropic", "OpenAI"] }]
      granularity = "WEEK"
      preset      = "LAST_90_DAYS"
      top_n       = 8 # the rest is summed into "Other"
    }
  }

  widgets {
    title = "Month to date vs the same days last month"
    kind  = "NUMBER"
    query = {
      preset      = "MONTH_TO_DATE"
      granularity = "TOTAL"
      compare     = true
    }
  }
}
