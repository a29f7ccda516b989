"""The guide end to end: real terraform + hashicorp/aws (local mirror) + moto + our provider, with the
control plane enforcing trust validation against the emulator."""

from __future__ import annotations

import json
import shutil

import boto3
import httpx
import pytest

from devtools.local import REPO, Terraform, aws_emulator_override, start_control_plane
from devtools.sample_cur import guide_cur, write_cur
from devtools.sample_usage import upload

EXAMPLE = REPO / "examples" / "terraform" / "split-shared-api-costs"
DATASOURCE = "costory_metrics_datasource_s3_parquet.api_usage"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, moto_server):
    control_plane = start_control_plane(
        tmp_path_factory.mktemp("guide"),
        {
            "COSTORY_AWS_ENDPOINT_URL": moto_server.endpoint,
            "COSTORY_STS_RETRY_BASE_SECONDS": "0.05",
            "COSTORY_SCHEDULER_ENABLED": "false",
        },
    )
    yield control_plane, moto_server
    control_plane.stop()


def aws(moto, service):
    return boto3.client(
        service,
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def workdir(tmp_path, moto, control_plane, token, name="guide") -> Terraform:
    path = tmp_path / name
    shutil.copytree(EXAMPLE, path)
    (path / "aws_emulator_override.tf").write_text(aws_emulator_override(moto.endpoint))
    terraform = Terraform(path, {"COSTORY_TOKEN": token, "COSTORY_BASE_URL": control_plane.address})
    terraform.init()
    return terraform


def test_guide_applies_imports_and_destroys(tmp_path, stack):
    control_plane, moto = stack
    moto.reset()
    token = control_plane.create_tenant("guide")
    terraform = workdir(tmp_path, moto, control_plane, token)

    applied = terraform.apply()
    assert "Warning: No Parquet Files Yet" in applied.stdout
    assert terraform.plan_exit_code() == 0
    outputs = {k: v["value"] for k, v in json.loads(terraform.run("output", "-json").stdout).items()}
    assert outputs["bucket"] == "costory-usage-metrics-123456789012"

    # The customer's export job drops one file a day; an on-demand import reads them.
    upload(aws(moto, "s3"), outputs["bucket"], "api-usage/")
    rest = httpx.Client(
        base_url=f"http://{control_plane.http_address}", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    datasource_id = outputs["metrics_datasource_id"]
    imported = rest.post(f"/v1/metrics-datasources/{datasource_id}/import").json()
    assert {k: imported.get(k) for k in ("status", "files_seen", "files_imported")} == {
        **({} if "status" in imported else {"response": imported}),
        "status": "SUCCEEDED",
        "files_seen": 4,
        "files_imported": 4,
    }
    values = rest.get(
        f"/v1/metrics-datasources/{datasource_id}/metrics/api_call_count/values",
        params={"start": "2026-01-01", "end": "2026-01-04", "group_by": "team"},
    ).json()
    totals: dict[str, float] = {}
    for row in values["rows"]:
        totals[row["dimensions"]["team"]] = totals.get(row["dimensions"]["team"], 0) + row["value"]
    assert totals == {"Team_A": 4117, "Team_B": 983}
    assert rest.get(f"/v1/metrics-datasources/{datasource_id}").json()["status"] == "OK"

    # AWS delivers January's CUR 2.0 export under cur/; importing it computes the `team` dimension.
    write_cur(aws(moto, "s3"), outputs["bucket"], "cur/", "costory", "2026-01", guide_cur())
    billing = rest.post(f"/v1/billing-datasources/{outputs['billing_datasource_id']}/import").json()
    assert (billing["status"], billing["months_replaced"], billing["dimensions_recomputed"]) == (
        "SUCCEEDED",
        ["2026-01"],
        1,
    )
    state = rest.get(f"/v1/virtual-dimensions/{outputs['virtual_dimension_id']}/allocation").json()
    assert {v["value"]: v["cost"] for v in state["values"]} == {
        "Team_A": "857.25",  # $807.25 of the gateway by API calls + $50.00 of EC2 tagged team=Team_A
        "Team_B": "221.75",
        "Unallocated": "92.00",
    }
    assert [(r.get("rule", ""), r["cost"]) for r in state["rules"]] == [
        ("api-gateway-by-api-calls", "1000.00"),
        ("team-tag", "79.00"),
        ("", "92.00"),
    ]
    preview = rest.post(
        "/v1/costs:preview-split",
        json={
            "start_date": "2026-01-01",
            "end_date": "2026-01-04",
            "metric": {"metrics_datasource_id": datasource_id, "metric_name": "api_call_count", "dimension": "team"},
            "cost_filter": [{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
        },
    ).json()
    assert [(r["value"], r["cost"]) for r in preview["rows"]] == [("Team_A", "807.25"), ("Team_B", "192.75")]
    assert terraform.plan_exit_code() == 0

    # Dropping the tag rule: the plan shows the money it moves before anything is applied.
    main_tf = terraform.workdir / "main.tf"
    original = main_tf.read_text()
    tag_rule = original[original.index("    {\n      name        = \"team-tag\"") :]
    tag_rule = tag_rule[: tag_rule.index("    },\n") + len("    },\n")]
    main_tf.write_text(original.replace(tag_rule, ""))
    planned = terraform.run("plan", "-input=false")
    text = " ".join(planned.stdout.split())
    assert "Warning: Allocation Impact (Last 30 Days)" in text
    assert (
        "Over 2025-12-06 – 2026-01-04 ($1,171.00 of cost) this change moves $79.00: Unallocated: +$79.00 "
        "Team_A: -$50.00 Team_B: -$29.00 Leftover (Unallocated): 14.60% of the cost after the change (was 7.86%)."
    ) in text
    main_tf.write_text(original)

    # Destroy removes the bucket's contents first: the export job's files are not Terraform's.
    s3 = aws(moto, "s3")
    for item in s3.list_objects_v2(Bucket=outputs["bucket"]).get("Contents", []):
        s3.delete_object(Bucket=outputs["bucket"], Key=item["Key"])
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert s3.list_buckets()["Buckets"] == []
    assert aws(moto, "iam").list_roles()["Roles"] == []
    assert rest.get("/v1/metrics-datasources").json() == {}
    assert rest.get("/v1/billing-datasources").json() == {}
    assert rest.get("/v1/virtual-dimensions").json() == {}


def test_a_role_that_does_not_pin_the_tenant_fails_on_role_arn(tmp_path, stack):
    control_plane, moto = stack
    moto.reset()
    token = control_plane.create_tenant("wrong-sub")
    terraform = workdir(tmp_path, moto, control_plane, token)
    main_tf = (terraform.workdir / "main.tf").read_text()
    (terraform.workdir / "main.tf").write_text(
        main_tf.replace("data.costory_service_account.current.sub_ids", '["100000000000000000001"]')
    )
    result = terraform.run("apply", "-auto-approve", "-input=false", "-json", check=False)
    assert result.returncode == 1
    errors = [
        json.loads(line)["diagnostic"]
        for line in result.stdout.splitlines()
        if json.loads(line).get("type") == "diagnostic" and json.loads(line)["diagnostic"]["severity"] == "error"
    ]
    # One error per datasource reading through the role, each on its role_arn line.
    assert sorted(e["address"] for e in errors) == ["costory_billing_datasource_aws.cur", DATASOURCE]
    for e in errors:
        assert e["snippet"]["code"].strip() == "role_arn    = aws_iam_role.costory_usage_metrics.arn"
        assert 'pins accounts.google.com:sub to "100000000000000000001"' in e["detail"]


def test_another_tenant_cannot_register_the_same_role(tmp_path, stack):
    control_plane, moto = stack
    moto.reset()
    token_a = control_plane.create_tenant("owner-a")
    token_b = control_plane.create_tenant("intruder-b")
    terraform_a = workdir(tmp_path, moto, control_plane, token_a, "a")
    terraform_a.apply()
    role_arn = json.loads(terraform_a.run("output", "-json").stdout)["role_arn"]["value"]

    terraform_b = Terraform(tmp_path / "b", {"COSTORY_TOKEN": token_b, "COSTORY_BASE_URL": control_plane.address})
    (tmp_path / "b").mkdir()
    terraform_b.write(
        f"""
terraform {{
  required_providers {{
    costory = {{ source = "costory-io/costory" }}
  }}
}}

resource "costory_metrics_datasource_s3_parquet" "stolen" {{
  name        = "Someone else's usage"
  bucket_name = "costory-usage-metrics-123456789012"
  prefix      = "api-usage/"
  role_arn    = "{role_arn}"
  metrics_definition {{
    metric_name  = "api_call_count"
    gap_filling  = "ZERO"
    aggregation  = "SUM"
    value_column = "api_call_count"
    date_column  = "date"
  }}
}}
"""
    )
    terraform_b.init()
    result = terraform_b.run("apply", "-auto-approve", "-input=false", check=False)
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())  # terraform wraps long lines
    assert stderr.count("Error: Invalid Attribute Value") == 1
    assert f"`{role_arn}` is already registered by another Costory tenant." in stderr
    assert f'role_arn = "{role_arn}"' in stderr
    terraform_a.run("destroy", "-auto-approve", "-input=false")
