"""costory_billing_datasource_aws through the real terraform CLI: apply, no-change plan, in-place update
of the date range, replacement on a new bucket, import, destroy."""

from __future__ import annotations

from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions, rows

ADDRESS = "costory_billing_datasource_aws.cur"


def config(bucket="billing-exports", extra=""):
    return (
        PROVIDER
        + f"""
resource "costory_billing_datasource_aws" "cur" {{
  name        = "AWS bill"
  bucket_name = "{bucket}"
  prefix      = "cur/"
  role_arn    = "arn:aws:iam::123456789012:role/costory-billing"
{extra}}}
"""
    )


def test_lifecycle(terraform, control_plane):
    terraform.write(config())
    terraform.init()
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    created = terraform.resources()[ADDRESS]
    assert created["id"].startswith("bds_")
    assert {k: v for k, v in created.items() if k != "id"} == {
        "name": "AWS bill",
        "bucket_name": "billing-exports",
        "prefix": "cur/",
        "role_arn": "arn:aws:iam::123456789012:role/costory-billing",
        "eks_split": None,
        "eks_split_data_enabled": None,
        "start_date": None,
        "end_date": None,
        "status": "PENDING",
    }

    dated = '  start_date = "2025-01-01"\n  end_date   = "2025-12-31"\n  eks_split  = false\n'
    terraform.write(config(extra=dated))
    assert resource_actions(terraform.plan_json()) == {ADDRESS: ["update"]}
    terraform.apply()
    assert terraform.plan_exit_code() == 0
    updated = terraform.resources()[ADDRESS]
    assert (updated["id"], updated["start_date"], updated["end_date"], updated["eks_split"]) == (
        created["id"],
        "2025-01-01",
        "2025-12-31",
        False,
    )

    plan = terraform.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["no-op"]
    terraform.write(config(bucket="other", extra=dated))
    plan = terraform.plan_json()
    assert resource_actions(plan) == {ADDRESS: ["delete", "create"]}
    assert plan["resource_changes"][0]["change"]["replace_paths"] == [["bucket_name"]]
    terraform.write(config(extra=dated))

    terraform.run("state", "rm", ADDRESS)
    terraform.run("import", ADDRESS, created["id"])
    assert terraform.resources()[ADDRESS] == updated
    assert terraform.plan_exit_code() == 0

    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert rows(control_plane, "billing_datasources") == 0


def test_bad_dates_fail_at_plan_on_the_attribute(terraform):
    terraform.write(config(extra='  start_date = "2025/01/01"\n'))
    terraform.init()
    errors = [d for d in terraform.plan_diagnostics() if d["severity"] == "error"]
    assert [(d["summary"], d["address"], d["snippet"]["code"].strip()) for d in errors] == [
        ("Invalid Value", ADDRESS, 'start_date = "2025/01/01"')
    ]
