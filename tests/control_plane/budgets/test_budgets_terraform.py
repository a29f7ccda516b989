"""costory_budget, costory_alert and costory_report through the real terraform CLI, against a control plane on
loopback holding the hand-made March (support.py): the plan shows how often the alert would have fired, a second
plan is empty, import, and the Slack webhook URL never appears in plan or show output nor in the control plane's
log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from control_plane.db import create_engine, create_sessionmaker
from tests.acceptance.conftest import control_plane, tenant_token, terraform, warm_provider_dir  # noqa: F401
from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions
from tests.control_plane.budgets.support import seed_march

pytestmark = pytest.mark.acceptance

WEBHOOK = "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/tfS3cr3tW3bh00k"
BUDGET = "costory_budget.claude"
ALERT = "costory_alert.spike"
REPORT = "costory_report.weekly"


def config(dimension_id: str, amount: str = "5000") -> str:
    return (
        PROVIDER
        + f"""
variable "slack_webhook" {{
  type      = string
  sensitive = true
}}

resource "costory_team" "finops" {{
  name = "FinOps"
}}

resource "costory_budget" "claude" {{
  name    = "Claude API"
  amount  = "{amount}"
  filters = [{{ field = "ServiceName", operator = "EQUALS", values = ["Claude API"] }}]
  thresholds {{
    percent = 80
    of      = "ACTUAL"
  }}
  thresholds {{
    percent = 100
    of      = "FORECAST"
  }}
  emails            = ["finops@example.com"]
  team_ids          = [costory_team.finops.id]
  slack_webhook_url = var.slack_webhook
}}

resource "costory_alert" "spike" {{
  name              = "Daily spike"
  filters           = [{{ field = "dimension:{dimension_id}", operator = "IN", values = ["Claude API"] }}]
  condition         = "ABOVE_AMOUNT"
  amount            = "250"
  dedup_hours       = 72
  slack_webhook_url = var.slack_webhook
}}

resource "costory_report" "weekly" {{
  name         = "Weekly by service"
  dimension_id = "{dimension_id}"
  frequency    = "WEEKLY"
  emails       = ["finops@example.com"]
}}
"""
    )


@pytest.fixture
def dimension_id(control_plane, tenant_token) -> str:  # noqa: F811
    """The hand-made March seeded into the control plane's database and data directory (once per module)."""
    path = control_plane.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        [(tenant_id,)] = db.execute("SELECT id FROM tenants WHERE name = 'acceptance'").fetchall()
        found = db.execute("SELECT id FROM virtual_dimensions WHERE tenant_id = ?", (tenant_id,)).fetchall()
    if found:
        return found[0][0]
    engine = create_engine(control_plane.database_url)
    try:
        return seed_march(create_sessionmaker(engine), Path(control_plane.env["COSTORY_DATA_DIR"]), tenant_id)
    finally:
        engine.dispose()


def rows(control_plane, table: str) -> int:  # noqa: F811
    with sqlite3.connect(control_plane.database_url.removeprefix("sqlite:///")) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_lifecycle_with_the_firing_preview(terraform, control_plane, dimension_id):  # noqa: F811
    terraform.env["TF_VAR_slack_webhook"] = WEBHOOK
    terraform.write(config(dimension_id))
    terraform.init()

    # 1. The plan warns how often the alert would have fired: the `service` dimension's Claude API value above 250 on
    #    the 5th (300), 7th (260) and 10th (400); 72 h apart: the 5th, then the 10th.
    warnings = [d for d in terraform.plan_diagnostics() if d["severity"] == "warning"]
    assert [(d["summary"], d["detail"], d.get("address")) for d in warnings] == [
        (
            "Alert Preview (Last 90 Days)",
            "Over 2025-12-11 – 2026-03-10 this alert would have fired on 2 days; the last:\n"
            "  2026-03-10: $400.00 (above $250.00)\n"
            "  2026-03-05: $300.00 (above $250.00)",
            ALERT,
        )
    ]
    planned = terraform.run("plan", "-input=false")
    assert "slack_webhook_url = (sensitive value)" in " ".join(planned.stdout.split())

    # 2. Create; a second plan has no changes.
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    state = terraform.resources()
    budget, alert, report = state[BUDGET], state[ALERT], state[REPORT]
    assert budget["id"].startswith("bud_") and alert["id"].startswith("alr_") and report["id"].startswith("rep_")
    assert {k: budget[k] for k in ("amount", "period", "metric", "thresholds", "emails", "filters")} == {
        "amount": "5000",
        "period": "MONTH",
        "metric": "BILLED",
        "thresholds": [{"percent": 80, "of": "ACTUAL"}, {"percent": 100, "of": "FORECAST"}],
        "emails": ["finops@example.com"],
        "filters": [{"field": "ServiceName", "operator": "EQUALS", "values": ["Claude API"]}],
    }
    assert alert["filters"] == [{"field": f"dimension:{dimension_id}", "operator": "IN", "values": ["Claude API"]}]
    assert budget["team_ids"] == [state["costory_team.finops"]["id"]]
    assert (alert["dedup_hours"], alert["metric"], alert["trailing_days"], alert["percent"]) == (
        72,
        "BILLED",
        None,
        None,
    )
    assert (report["top_n"], report["frequency"]) == (10, "WEEKLY")

    # 3. In place: a new amount updates the budget, nothing else.
    terraform.write(config(dimension_id, amount="6000"))
    assert {a: c for a, c in resource_actions(terraform.plan_json()).items() if c != ["no-op"]} == {BUDGET: ["update"]}
    terraform.apply()
    assert terraform.resources()[BUDGET]["amount"] == "6000"

    # 4. Import: the control plane never returns the webhook URL, so the first plan sets it again, in place.
    for address, applied in ((BUDGET, terraform.resources()[BUDGET]), (ALERT, alert), (REPORT, report)):
        terraform.run("state", "rm", address)
        terraform.run("import", address, applied["id"])
        imported = terraform.resources()[address]
        if "slack_webhook_url" in applied and applied["slack_webhook_url"] is not None:
            assert imported == {**applied, "slack_webhook_url": None}
        else:
            assert imported == applied
    assert resource_actions(terraform.plan_json()) == {
        BUDGET: ["update"],
        ALERT: ["update"],
        REPORT: ["no-op"],
        "costory_team.finops": ["no-op"],
    }
    terraform.apply()
    assert terraform.plan_exit_code() == 0

    # 5. The URL never shows: not in plan or show output, not in the control plane's log.
    shown = terraform.run("show")
    assert WEBHOOK not in shown.stdout + shown.stderr
    assert WEBHOOK not in terraform.run("plan", "-input=false").stdout
    assert "tfS3cr3tW3bh00k" not in control_plane.log_path.read_text()

    # 6. Destroy leaves no row behind.
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert (rows(control_plane, "budgets"), rows(control_plane, "alerts"), rows(control_plane, "reports")) == (0, 0, 0)


def test_a_bad_alert_fails_the_plan_on_its_attribute(terraform, dimension_id):  # noqa: F811
    terraform.write(
        PROVIDER
        + """
resource "costory_alert" "bad" {
  name          = "Bad"
  condition     = "ABOVE_AMOUNT"
  amount        = "250"
  trailing_days = 7
}
"""
    )
    terraform.init()
    errors = [d for d in terraform.plan_diagnostics() if d["severity"] == "error"]
    assert [(e["summary"], e["detail"]) for e in errors] == [
        ("Conflicting Attributes", "`trailing_days` has no meaning for `ABOVE_AMOUNT`; remove it.")
    ]
    assert errors[0]["snippet"]["code"].strip() == "trailing_days = 7"
