"""The billing datasources other than AWS (gcp, azure, anthropic, cursor, elastic_cloud, openai) through the real
terraform CLI: create with the secret from a sensitive variable, no-change plan, import (the write-only secret is
set again in place, never a re-create), out-of-band delete, replacement on a new name, destroy; and invalid values
refused at plan time on the attribute, without echoing a secret."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import pytest

from costory_proto.costory.v1 import billing_source_pb2 as pb
from costory_proto.costory.v1 import billing_source_pb2_grpc as pb_grpc
from tests.acceptance.test_metrics_datasource import PROVIDER, resource_actions

SECRET_VARIABLE = "source_secret"


@dataclass(frozen=True)
class Source:
    suffix: str
    """The resource type after `costory_billing_datasource_`."""
    singular: str
    """The gRPC method suffix (`DeleteBillingDatasource<singular>`)."""
    attributes: dict[str, str]
    """Configured attributes other than the secret, as HCL literals."""
    state: dict[str, object]
    """The state's values apart from `id`, `bq_table_uri` and the secret."""
    secret: str | None = None
    secret_value: str = ""
    invalid: tuple[str, str] = ("start_date", '"2025/01/01"')
    """An attribute and an HCL literal for it that can never work."""
    expected_detail: str = "`start_date` is `2025/01/01`; it must be a day as `YYYY-MM-DD`."

    @property
    def address(self) -> str:
        return f"costory_billing_datasource_{self.suffix}.this"

    def config(self, **changes: str) -> str:
        attributes = {**self.attributes, **changes}
        body = "".join(f"  {name} = {value}\n" for name, value in attributes.items())
        variable = ""
        if self.secret:
            body += f"  {self.secret} = var.{SECRET_VARIABLE}\n"
            variable = f'\nvariable "{SECRET_VARIABLE}" {{\n  type      = string\n  sensitive = true\n}}\n'
        return PROVIDER + variable + f'\nresource "costory_billing_datasource_{self.suffix}" "this" {{\n{body}}}\n'


SOURCES = [
    Source(
        "gcp",
        "Gcp",
        {
            "name": '"GCP bill"',
            "bq_uri": '"my-billing-project.billing_export.gcp_billing_export_resource_v1_0123AB_CDEF01_2345GH"',
            "is_detailed_billing": "true",
            "start_date": '"2025-01-01"',
        },
        {
            "name": "GCP bill",
            "bq_uri": "my-billing-project.billing_export.gcp_billing_export_resource_v1_0123AB_CDEF01_2345GH",
            "is_detailed_billing": True,
            "start_date": "2025-01-01",
            "end_date": None,
            "status": "PENDING",
        },
        invalid=("bq_uri", '"just-a-table"'),
        expected_detail="`bq_uri` is `just-a-table`; it must be a BigQuery table as `project.dataset.table`.",
    ),
    Source(
        "azure",
        "Azure",
        {
            "name": '"Azure bill"',
            "storage_account_name": '"costexports"',
            "container_name": '"exports"',
            "actuals_path": '"costs/actual"',
            "amortized_path": '"costs/amortized"',
        },
        {
            "name": "Azure bill",
            "storage_account_name": "costexports",
            "container_name": "exports",
            "actuals_path": "costs/actual",
            "amortized_path": "costs/amortized",
            "status": "PENDING",
        },
        secret="sas_url",
        secret_value="https://costexports.blob.core.windows.net/exports?sv=2024-11-04&sp=rl&sig=SIGacceptance7f3a9c",
        # The invalid value goes through the sensitive variable, as a user's SAS URL would.
        invalid=("sas_url", "var.source_secret"),
        expected_detail="`sas_url` (sensitive, not shown) must be a SAS URL such as "
        "`https://<account>.blob.core.windows.net/<container>?sv=…&sig=…`.",
    ),
    Source(
        "anthropic",
        "Anthropic",
        {"name": '"Anthropic API"', "start_date": '"2025-01-01"', "end_date": '"2025-12-31"'},
        {
            "name": "Anthropic API",
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
            "type": "Anthropic",
            "status": "PENDING",
        },
        secret="admin_api_key",
        secret_value="sk-ant-admin01-acceptance-anthropic-5e1d0b",
    ),
    Source(
        "cursor",
        "Cursor",
        {"name": '"Cursor"'},
        {"name": "Cursor", "start_date": None, "end_date": None, "type": "Cursor", "status": "PENDING"},
        secret="admin_api_key",
        secret_value="key_acceptance_cursor_93c2aa",
    ),
    Source(
        "elastic_cloud",
        "ElasticCloud",
        {"name": '"Elastic Cloud"', "organization_id": '"1234567890"', "start_date": '"2025-03-01"'},
        {
            "name": "Elastic Cloud",
            "organization_id": "1234567890",
            "start_date": "2025-03-01",
            "type": "ElasticCloud",
            "status": "PENDING",
        },
        secret="api_key",
        secret_value="essu_acceptance_elastic_4b7f21",
    ),
    Source(
        "openai",
        "Openai",
        {"name": '"OpenAI API"', "start_date": '"2025-01-01"'},
        {"name": "OpenAI API", "start_date": "2025-01-01", "type": "OpenAI", "status": "PENDING"},
        secret="admin_api_key",
        secret_value="sk-admin-acceptance-openai-a81c55",
    ),
]


def source_id(source: Source) -> str:
    return source.suffix


def rows(control_plane, source: Source) -> int:
    """Rows of this source's kind in `billing_datasources` (other sources' tests share the control plane)."""
    path = control_plane.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        query = "SELECT count(*) FROM billing_datasources WHERE kind = ?"
        return db.execute(query, (source.suffix.upper(),)).fetchone()[0]


def expected_state(source: Source, datasource_id: str) -> dict[str, object]:
    state: dict[str, object] = {"id": datasource_id, **source.state}
    if "type" in source.state:
        state["bq_table_uri"] = f"costory://costs/{datasource_id}"
    if source.secret:
        state[source.secret] = source.secret_value
    return state


def delete_out_of_band(control_plane, tenant_token: str, source: Source, datasource_id: str) -> None:
    stub = pb_grpc.BillingSourceServiceStub(control_plane.channel())
    request = getattr(pb, f"DeleteBillingDatasource{source.singular}Request")(id=datasource_id)
    getattr(stub, f"DeleteBillingDatasource{source.singular}")(
        request, metadata=(("authorization", f"Bearer {tenant_token}"),)
    )


@pytest.mark.parametrize("source", SOURCES, ids=source_id)
def test_lifecycle(terraform, control_plane, tenant_token, source: Source):
    address = source.address
    if source.secret:
        terraform.env[f"TF_VAR_{SECRET_VARIABLE}"] = source.secret_value
    terraform.write(source.config())
    terraform.init()

    # 1. the plan shows the secret as sensitive, never its value
    planned = terraform.run("plan", "-input=false")
    if source.secret:
        assert f"{source.secret} = (sensitive value)" in " ".join(planned.stdout.split())
        assert source.secret_value not in planned.stdout + planned.stderr

    # 2. create: the state holds exactly the configuration, the computed values and the secret Terraform holds
    terraform.apply()
    created = terraform.resources()[address]
    assert created["id"].startswith("bds_")
    assert created == expected_state(source, created["id"])
    assert terraform.plan_exit_code() == 0

    # 3. a new name replaces the datasource (plan only)
    terraform.write(source.config(name='"Renamed"'))
    plan = terraform.plan_json()
    assert resource_actions(plan) == {address: ["delete", "create"]}
    assert plan["resource_changes"][0]["change"]["replace_paths"] == [["name"]]
    terraform.write(source.config())

    # 4. import: the control plane never returns the secret, so the first plan sets it again in place
    terraform.run("state", "rm", address)
    terraform.run("import", address, created["id"])
    imported = terraform.resources()[address]
    if source.secret:
        assert imported == {**created, source.secret: None}
        plan = terraform.plan_json()
        assert resource_actions(plan) == {address: ["update"]}
        change = plan["resource_changes"][0]["change"]
        assert not change.get("replace_paths")
        before, after = change["before"], change["after"]
        assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {source.secret, "status"}
        # `status` is computed by imports, so any update shows it as `(known after apply)`; no other value moves.
        assert (after[source.secret], change["after_unknown"]) == (source.secret_value, {"status": True})
        shown = terraform.run("plan", "-input=false")
        assert source.secret_value not in shown.stdout + shown.stderr
        terraform.apply()
    else:
        assert imported == created
    assert terraform.plan_exit_code() == 0
    assert terraform.resources()[address] == created

    # 5. deleted outside Terraform: the next plan creates it again
    delete_out_of_band(control_plane, tenant_token, source, created["id"])
    assert resource_actions(terraform.plan_json()) == {address: ["create"]}
    terraform.apply()
    recreated = terraform.resources()[address]
    assert recreated["id"] != created["id"]
    assert recreated == expected_state(source, recreated["id"])
    assert terraform.plan_exit_code() == 0

    # 6. destroy leaves no row behind
    terraform.run("destroy", "-auto-approve", "-input=false")
    assert terraform.resources() == {}
    assert rows(control_plane, source) == 0


@pytest.mark.parametrize("source", SOURCES, ids=source_id)
def test_value_that_can_never_work_fails_at_plan_on_the_attribute(terraform, source: Source):
    attribute, literal = source.invalid
    bad_value = "not a url"
    if source.secret:
        # The secret itself is valid here unless the invalid attribute is the secret.
        terraform.env[f"TF_VAR_{SECRET_VARIABLE}"] = bad_value if attribute == source.secret else source.secret_value
    terraform.write(source.config(**({} if attribute == source.secret else {attribute: literal})))
    terraform.init()
    diagnostics = terraform.plan_diagnostics()
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert [(d["summary"], d["address"], d["snippet"]["code"].strip()) for d in errors] == [
        ("Invalid Value", source.address, f"{attribute} = {literal}")
    ]
    if attribute == source.secret:
        result = terraform.run("plan", "-input=false", check=False)
        assert result.returncode == 1
        assert bad_value not in repr(diagnostics) + result.stdout + result.stderr
    assert errors[0]["detail"] == source.expected_detail
