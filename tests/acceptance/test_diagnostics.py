"""Errors a Terraform user sees: plan-time validation on the right attribute, authentication and
connection failures, and no secret or traceback anywhere."""

from __future__ import annotations

import json

import pytest

from devtools.local import free_port
from tests.acceptance.test_metrics_datasource import ADDRESS, PROVIDER, blocks_config

GOOD = {
    "metric_name": "api_call_count",
    "gap_filling": "ZERO",
    "aggregation": "SUM",
    "value_column": "api_call_count",
    "date_column": "date",
}


def config(role_arn="arn:aws:iam::123456789012:role/costory-reader", metrics=(GOOD,)):
    blocks = ""
    for metric in metrics:
        body = "".join(f'    {k} = "{v}"\n' for k, v in metric.items())
        blocks += f"  metrics_definition {{\n{body}  }}\n"
    return (
        PROVIDER
        + f"""
resource "costory_metrics_datasource_s3_parquet" "api_usage" {{
  name        = "API Usage"
  bucket_name = "usage-exports"
  role_arn    = "{role_arn}"
{blocks}}}
"""
    )


CASES = {
    "bad-role-arn": (
        config(role_arn="arn:aws:s3:::usage-exports"),
        "Invalid Value",
        "`role_arn` is `arn:aws:s3:::usage-exports`; "
        "it must be an IAM role ARN, `arn:<partition>:iam::<account>:role/<name>`.",
        'role_arn    = "arn:aws:s3:::usage-exports"',
    ),
    "unknown-gap-filling": (
        config(metrics=({**GOOD, "gap_filling": "ZEROS"},)),
        "Invalid Value",
        "`gap_filling` is `ZEROS`; it must be one of `ZERO`, `FORWARD_FILL`, `LINEAR_INTERPOLATION`, `SPREAD` "
        "(case-sensitive).",
        'gap_filling = "ZEROS"',
    ),
    "unknown-aggregation": (
        config(metrics=({**GOOD, "aggregation": "MEAN"},)),
        "Invalid Value",
        "`aggregation` is `MEAN`; it must be one of `SUM`, `Average` (case-sensitive).",
        'aggregation = "MEAN"',
    ),
    "empty-metric-name": (
        config(metrics=({**GOOD, "metric_name": ""},)),
        "Empty Value",
        "`metric_name` must not be empty.",
        'metric_name = ""',
    ),
    "duplicate-metric-names": (
        config(metrics=(GOOD, {**GOOD, "value_column": "errors"})),
        "Duplicate Value",
        "`metric_name` `api_call_count` is already used by metrics_definition[0]; each `metric_name` must be unique.",
        'metric_name = "api_call_count"',
    ),
    "value-column-is-date-column": (
        config(metrics=({**GOOD, "value_column": "date"},)),
        "Conflicting Columns",
        "`value_column` and `date_column` are both `date`; they must name different columns.",
        'value_column = "date"',
    ),
}


@pytest.fixture(scope="module")
def initialised(tmp_path_factory, control_plane, tenant_token):
    from devtools.local import Terraform

    terraform = Terraform(
        tmp_path_factory.mktemp("diagnostics"),
        {"COSTORY_TOKEN": tenant_token, "COSTORY_BASE_URL": f"grpc://{control_plane.address}"},
    )
    terraform.write(config())
    terraform.init()
    return terraform


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_rejected_at_plan_on_the_attribute(initialised, case):
    main_tf, summary, detail, code = CASES[case]
    initialised.write(main_tf)
    errors = [d for d in initialised.plan_diagnostics() if d["severity"] == "error"]
    assert [(d["summary"], d["detail"], d["address"]) for d in errors] == [(summary, detail, ADDRESS)]
    assert errors[0]["snippet"]["code"].strip() == code


def test_wrong_token_gives_one_authentication_error(terraform):
    terraform.write(blocks_config())
    terraform.init()
    result = terraform.run("plan", "-input=false", check=False, env={"COSTORY_TOKEN": "cst_not-a-real-token"})
    assert result.returncode == 1
    assert result.stderr.count("Error: Authentication Failed") == 1
    assert "rejected the API token" in result.stderr
    assert "cst_not-a-real-token" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_unreachable_control_plane_names_the_address(terraform):
    terraform.write(blocks_config())
    terraform.init()
    address = f"127.0.0.1:{free_port()}"
    result = terraform.run("plan", "-input=false", check=False, env={"COSTORY_BASE_URL": address})
    assert result.returncode == 1
    assert result.stderr.count("Error: Control Plane Unreachable") == 1
    assert f"Could not reach the Costory control plane at {address}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["environment", "provider-block"])
def test_token_never_reaches_state_plan_or_logs(terraform, tenant_token, source):
    log_path = terraform.workdir / "trace.log"
    main_tf = blocks_config()
    trace = {"TF_LOG": "TRACE", "TF_LOG_PATH": str(log_path)}
    if source == "provider-block":
        main_tf = main_tf.replace('provider "costory" {}', f'provider "costory" {{\n  token = "{tenant_token}"\n}}')
        trace["COSTORY_TOKEN"] = ""
    terraform.write(main_tf)
    terraform.run("init", "-input=false", env=trace)
    plan = terraform.run("plan", "-input=false", "-out=tfplan", env=trace)
    apply = terraform.run("apply", "-input=false", "tfplan", env=trace)
    state = (terraform.workdir / "terraform.tfstate").read_text()
    assert json.loads(state)["resources"][0]["type"] == "costory_metrics_datasource_s3_parquet"
    log = log_path.read_text()
    assert "ConfigureProvider" in log  # the trace log really covers the provider calls
    for text in (plan.stdout, plan.stderr, apply.stdout, apply.stderr, state, log):
        assert tenant_token not in text
    # Not asserted: `terraform show -json tfplan` echoes literal HCL constants of the configuration
    # (Terraform's rendering of the user's own file), which is why the README recommends COSTORY_TOKEN.
    terraform.run("destroy", "-auto-approve", "-input=false", env=trace)
