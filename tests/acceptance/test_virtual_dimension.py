"""costory_virtual_dimension driven through the real terraform CLI: apply, no-change plan, in-place update,
reorder, import, plan-time rule errors on the rule's path, destroy."""

from __future__ import annotations

from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions, rows

ADDRESS = "costory_virtual_dimension.team"

METRICS = """
resource "costory_metrics_datasource_s3_parquet" "api_usage" {
  name        = "API Usage"
  bucket_name = "usage-exports"
  prefix      = "metrics/"
  role_arn    = "arn:aws:iam::123456789012:role/costory-reader"
  metrics_definition = [{
    metric_name  = "api_call_count"
    gap_filling  = "ZERO"
    aggregation  = "SUM"
    value_column = "api_call_count"
    date_column  = "date"
    dimensions   = ["team"]
  }]
}
"""

GATEWAY = """    {
      name       = "api-gateway"
      conditions = [{ column = "ServiceName", operator = "EQUALS", values = ["Amazon API Gateway"] }]
      metric_split = {
        metrics_datasource_id = costory_metrics_datasource_s3_parquet.api_usage.id
        metric_name           = "api_call_count"
        dimension             = "team"
      }
    },
"""
TAGGED = """    {
      name        = "team-tag"
      conditions  = [{ column = "tag:team", operator = "EXISTS" }]
      from_column = { column = "tag:team", mapping = { strategy = "REGEX", regex = "^([A-Za-z_]+)" } }
    },
"""
DATABASE = """    {
      name          = "shared-db"
      conditions    = [{ column = "ResourceId", operator = "MATCHES", values = ["^db-shared"] }]
      split_percent = { Team_A = 62.5, Team_B = 37.5 }
    },
"""
SUPPORT = """    {
      name       = "support"
      conditions = [{ column = "ServiceName", operator = "IN", values = ["AWS Support (Business)"] }]
      split_even = ["Team_A", "Team_B"]
    },
"""


def config(*rules: str, leftover: str | None = None, extra: str = "") -> str:
    leftover_line = f'  leftover_value = "{leftover}"\n' if leftover else ""
    return (
        PROVIDER
        + METRICS
        + f"""
resource "costory_virtual_dimension" "team" {{
  name = "team"
{leftover_line}  rules = [
{''.join(rules)}  ]
}}
{extra}"""
    )


def actions(plan: dict) -> dict[str, list[str]]:
    return {address: action for address, action in resource_actions(plan).items() if action != ["no-op"]}


def rule_names(state: dict) -> list[str]:
    return [rule["name"] for rule in state["rules"]]


def test_lifecycle(terraform, control_plane):
    terraform.write(config(GATEWAY, TAGGED, DATABASE))
    terraform.init()
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    created = terraform.resources()[ADDRESS]
    assert created["id"].startswith("vd_")
    assert created["leftover_value"] == "Unallocated"
    assert created["status"] == "NO_COST_DATA"
    assert rule_names(created) == ["api-gateway", "team-tag", "shared-db"]
    assert created["rules"][2]["split_percent"] == {"Team_A": 62.5, "Team_B": 37.5}
    assert created["rules"][1]["from_column"] == {
        "column": "tag:team",
        "mapping": {"strategy": "REGEX", "regex": "^([A-Za-z_]+)", "table": None},
    }
    assert created["rules"][0]["value"] is None and created["rules"][0]["split_even"] is None

    # In place: a new rule and a leftover value.
    terraform.write(config(GATEWAY, TAGGED, DATABASE, SUPPORT, leftover="Shared"))
    assert actions(terraform.plan_json()) == {ADDRESS: ["update"]}
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    updated = terraform.resources()[ADDRESS]
    assert updated["id"] == created["id"]
    assert updated["leftover_value"] == "Shared"
    assert rule_names(updated) == ["api-gateway", "team-tag", "shared-db", "support"]

    # Order is meaning (first match wins): swapping two rules is a change, applied as written.
    terraform.write(config(GATEWAY, DATABASE, TAGGED, SUPPORT, leftover="Shared"))
    assert actions(terraform.plan_json()) == {ADDRESS: ["update"]}
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    assert rule_names(terraform.resources()[ADDRESS]) == ["api-gateway", "shared-db", "team-tag", "support"]

    # Import reproduces the state apply produced.
    applied = terraform.resources()[ADDRESS]
    terraform.run("state", "rm", ADDRESS)
    terraform.run("import", ADDRESS, created["id"])
    assert terraform.resources()[ADDRESS] == applied
    assert terraform.plan_exit_code() == 0

    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert rows(control_plane, "virtual_dimensions") == 0


def test_invalid_rules_fail_at_plan_on_the_rule_path(terraform):
    bad_regex = """    {
      name       = "bad-regex"
      conditions = [{ column = "ResourceId", operator = "MATCHES", values = ["(unclosed"] }]
      value      = "Team_A"
    },
"""
    unknown_column = """    {
      name       = "bad-column"
      conditions = [{ column = "Team", operator = "EQUALS", values = ["a"] }]
      value      = "Team_A"
    },
"""
    bad_split = """    {
      name          = "bad-split"
      split_percent = { Team_A = 60, Team_B = 30 }
    },
"""
    terraform.write(config(GATEWAY, bad_regex, unknown_column, bad_split))
    terraform.init()
    terraform.apply("-target=costory_metrics_datasource_s3_parquet.api_usage")
    diagnostics = terraform.plan_diagnostics()
    errors = [
        (d["summary"], d.get("snippet", {}).get("code", "").strip(), d["address"])
        for d in diagnostics
        if d["severity"] == "error"
    ]
    assert [(summary, address) for summary, _code, address in errors] == [
        ("Invalid Regular Expression", ADDRESS),
        ("Unknown Column", ADDRESS),
        ("Percentages Must Sum To 100", ADDRESS),
    ]
    by_summary = {d["summary"]: d for d in diagnostics}
    # Terraform underlines the resource; the detail names the rule's path.
    assert by_summary["Invalid Regular Expression"]["detail"].startswith(
        "At `rules[1].conditions[0].values[0]`: `(unclosed` is not a valid RE2 regular expression (missing ): "
        "(unclosed). RE2 syntax"
    )
    assert by_summary["Unknown Column"]["detail"].startswith(
        "At `rules[2].conditions[0].column`: `Team` is not a cost column. Use one of `ServiceName`"
    )
    assert by_summary["Percentages Must Sum To 100"]["detail"] == (
        "At `rules[3].split_percent`: The percentages sum to 90; make them sum to exactly 100."
    )
    terraform.write(PROVIDER + METRICS)
    terraform.run("destroy", "-auto-approve", "-input=false")
