"""BillingSourceService over gRPC against a control plane on loopback: every source kind's lifecycle, the
credential sealed and never answered, and an Anthropic datasource imported from the Admin API stand-in (status
OK, then ERROR naming `admin_api_key` once the key is revoked). A grep over every database column, every
response and the logs finds the key nowhere."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.json_format import MessageToJson

from control_plane.billing.store import CostStore
from control_plane.logs import redacting
from control_plane.models import BillingDatasource
from control_plane.settings import Settings
from costory_proto.costory.v1 import billing_datasource_pb2, billing_source_pb2, billing_source_pb2_grpc
from devtools.standins.anthropic import AnthropicStandIn, Dataset

SECRET = "sk-ant-admin01-Zq7vXw9TeSt-SeCrEt-0042"
TODAY = date.today()


@pytest.fixture
def standin():
    day = date.fromordinal(TODAY.toordinal() - 1)
    dataset = Dataset.from_usage(
        [
            (day, "apikey_a", "team-a", None, "claude-sonnet-4-20250514", "uncached_input_tokens", 1_000_000),
            (day, "apikey_b", "team-b", None, "claude-sonnet-4-20250514", "uncached_input_tokens", 3_000_000),
        ]
    )
    with AnthropicStandIn(dataset, admin_key=SECRET) as api:
        yield api


@pytest.fixture
def settings(tmp_path, standin) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        trust_validation="skip",
        data_dir=tmp_path / "data",
        anthropic_api_url=standin.url,
    )


@pytest.fixture
def sources(tenant_a):
    return billing_source_pb2_grpc.BillingSourceServiceStub(tenant_a.channel)


def anthropic(**fields) -> billing_source_pb2.CreateBillingDatasourceAnthropicRequest:
    return billing_source_pb2.CreateBillingDatasourceAnthropicRequest(
        billing_datasource_anthropic=billing_source_pb2.BillingDatasourceAnthropic(
            name="Claude", admin_api_key=SECRET, **fields
        )
    )


def every_text_in_the_database(sessions) -> str:
    with sessions() as session:
        bind = session.get_bind()
        chunks = []
        for table in sa.inspect(bind).get_table_names():
            for row in session.execute(sa.text(f'SELECT * FROM "{table}"')):
                chunks.extend(str(value) for value in row)
    return "\n".join(chunks)


KINDS = [
    ("Gcp", "billing_datasource_gcp", {"bq_uri": "proj.billing.gcp_billing_export_v1_X", "is_detailed_billing": True}),
    (
        "Azure",
        "billing_datasource_azure",
        {
            "storage_account_name": "acct",
            "container_name": "exports",
            "actuals_path": "actual",
            "amortized_path": "amortized",
            "sas_url": "https://acct.blob.core.windows.net/exports?sv=2024&sig=" + SECRET,
        },
    ),
    ("Anthropic", "billing_datasource_anthropic", {"admin_api_key": SECRET, "start_date": "2026-01-01"}),
    ("Cursor", "billing_datasource_cursor", {"admin_api_key": SECRET}),
    ("ElasticCloud", "billing_datasource_elastic_cloud", {"organization_id": "org-1", "api_key": SECRET}),
    ("Openai", "billing_datasource_openai", {"admin_api_key": SECRET}),
]


@pytest.mark.parametrize(("suffix", "field", "values"), KINDS, ids=[k[0] for k in KINDS])
def test_lifecycle_of_every_kind_never_answers_the_credential(
    sources, tenant_a, tenant_b, sessions, suffix, field, values
):
    message_class = getattr(billing_source_pb2, f"BillingDatasource{suffix}")
    create = getattr(billing_source_pb2, f"CreateBillingDatasource{suffix}Request")
    created = getattr(sources, f"CreateBillingDatasource{suffix}")(
        create(**{field: message_class(name="source", **values)})
    )
    secret_name = next((n for n in ("admin_api_key", "api_key", "sas_url") if n in values), None)
    expected = {k: v for k, v in values.items() if k != secret_name}
    assert {k: getattr(created, k) for k in expected} == expected
    assert created.id.startswith("bds_") and created.status == "PENDING"
    if "type" in message_class.DESCRIPTOR.fields_by_name:
        assert created.type == {"ElasticCloud": "ElasticCloud", "Openai": "OpenAI"}.get(suffix, suffix)
        assert created.bq_table_uri == f"costory://costs/{created.id}"

    got = getattr(sources, f"GetBillingDatasource{suffix}")(
        getattr(billing_source_pb2, f"GetBillingDatasource{suffix}Request")(id=created.id)
    )
    listed = getattr(sources, f"ListBillingDatasource{suffix}")(
        getattr(billing_source_pb2, f"ListBillingDatasource{suffix}Request")()
    )
    assert got == created and list(listed.billing_datasources) == [created]
    for answer in (created, got, listed):
        assert SECRET not in MessageToJson(answer)
    assert SECRET not in every_text_in_the_database(sessions)
    if secret_name is not None:
        with sessions() as session:
            stored = session.get(BillingDatasource, created.id)
            assert stored.secret and stored.secret.startswith("gAAAA")  # a Fernet token

    # Another tenant, or another kind, does not see it.
    other = billing_source_pb2_grpc.BillingSourceServiceStub(tenant_b.channel)
    with pytest.raises(grpc.RpcError) as other_tenant:
        getattr(other, f"GetBillingDatasource{suffix}")(
            getattr(billing_source_pb2, f"GetBillingDatasource{suffix}Request")(id=created.id)
        )
    assert other_tenant.value.code() == grpc.StatusCode.NOT_FOUND
    wrong_kind = "Cursor" if suffix != "Cursor" else "Openai"
    with pytest.raises(grpc.RpcError) as other_kind:
        getattr(sources, f"GetBillingDatasource{wrong_kind}")(
            getattr(billing_source_pb2, f"GetBillingDatasource{wrong_kind}Request")(id=created.id)
        )
    assert other_kind.value.code() == grpc.StatusCode.NOT_FOUND

    getattr(sources, f"DeleteBillingDatasource{suffix}")(
        getattr(billing_source_pb2, f"DeleteBillingDatasource{suffix}Request")(id=created.id)
    )
    with sessions() as session:
        assert session.get(BillingDatasource, created.id) is None


def test_invalid_input_names_the_attribute_and_never_quotes_a_secret(sources):
    request = billing_source_pb2.CreateBillingDatasourceAzureRequest(
        billing_datasource_azure=billing_source_pb2.BillingDatasourceAzure(
            name="azure",
            storage_account_name="acct",
            container_name="exports",
            actuals_path="a",
            amortized_path="b",
            sas_url="not-a-url-" + SECRET,
        )
    )
    with pytest.raises(grpc.RpcError) as refused:
        sources.CreateBillingDatasourceAzure(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert SECRET not in refused.value.details()
    assert "`sas_url` (sensitive, not shown) must be a SAS URL" in refused.value.details()

    with pytest.raises(grpc.RpcError) as dates:
        sources.CreateBillingDatasourceAnthropic(anthropic(start_date="2026-02-01", end_date="2026-01-01"))
    assert dates.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "`end_date` (2026-01-01) is before `start_date` (2026-02-01)." in dates.value.details()


def test_only_the_credential_can_be_set_again(sources, sessions):
    created = sources.CreateBillingDatasourceAnthropic(anthropic())
    with sessions() as session:
        sealed = session.get(BillingDatasource, created.id).secret
    again = billing_source_pb2.BillingDatasourceAnthropic(id=created.id, name="Claude", admin_api_key=SECRET + "2")
    sources.UpdateBillingDatasourceAnthropic(
        billing_source_pb2.UpdateBillingDatasourceAnthropicRequest(
            billing_datasource_anthropic=again, update_mask=FieldMask(paths=["admin_api_key"])
        )
    )
    with sessions() as session:
        assert session.get(BillingDatasource, created.id).secret != sealed
    renamed = billing_source_pb2.BillingDatasourceAnthropic(id=created.id, name="Other")
    with pytest.raises(grpc.RpcError) as refused:
        sources.UpdateBillingDatasourceAnthropic(
            billing_source_pb2.UpdateBillingDatasourceAnthropicRequest(
                billing_datasource_anthropic=renamed, update_mask=FieldMask(paths=["name"])
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "`name` cannot be changed after creation" in refused.value.details()


def test_an_anthropic_import_then_a_revoked_key(sources, tenant_a, sessions, settings, standin, caplog):
    caplog.set_level(logging.DEBUG)
    start = date.fromordinal(TODAY.toordinal() - 3).isoformat()
    created = sources.CreateBillingDatasourceAnthropic(anthropic(start_date=start))
    with redacting():
        summary = sources.ImportBillingDatasource(billing_source_pb2.ImportBillingDatasourceRequest(id=created.id))
    months = sorted({start[:7], TODAY.isoformat()[:7]})
    assert (summary.status, list(summary.months_replaced), summary.message) == (
        "SUCCEEDED",
        months,
        f"{len(months)} month(s) updated from the Anthropic Admin API (the days from {start}), 0 unchanged.",
    )
    with sessions() as session:
        table = CostStore(settings.data_dir).read(
            session, tenant_a.tenant_id, columns=["SubAccountId", "ResourceName", "BilledCost"]
        )
    by_key = {r["ResourceName"]: r["BilledCost"] for r in table.to_pylist()}
    # 1M and 3M input tokens at $3 per million.
    assert by_key == {"team-a": Decimal("3.000000000000"), "team-b": Decimal("9.000000000000")}
    got = sources.GetBillingDatasourceAnthropic(billing_source_pb2.GetBillingDatasourceAnthropicRequest(id=created.id))
    assert got.status == "OK"
    periods = tenant_a.billing.ListBillingPeriods(
        billing_datasource_pb2.ListBillingPeriodsRequest(datasource_id=created.id)
    )
    assert [(p.billing_period, p.billed_cost) for p in periods.billing_periods][0][1] == "12.000000000000"

    standin.revoke()
    with redacting():
        failed = sources.ImportBillingDatasource(billing_source_pb2.ImportBillingDatasourceRequest(id=created.id))
    assert failed.status == "FAILED"
    assert "refused the `admin_api_key` (HTTP 401" in failed.message
    got = sources.GetBillingDatasourceAnthropic(billing_source_pb2.GetBillingDatasourceAnthropicRequest(id=created.id))
    assert got.status == "ERROR" and "`admin_api_key`" in got.status_message
    # The data imported before the key was revoked is kept.
    with sessions() as session:
        assert CostStore(settings.data_dir).read(session, tenant_a.tenant_id).num_rows == 2

    everything = "\n".join(
        [every_text_in_the_database(sessions), caplog.text, MessageToJson(summary), MessageToJson(failed)]
    )
    assert SECRET not in everything


def test_the_daily_run_imports_a_source_like_any_billing_datasource(sources, sessions, settings):
    """The scheduler plans runs for every billing datasource; its job dispatches on the kind."""
    from control_plane.jobs import import_billing
    from control_plane.models import ImportRecord
    from control_plane.scheduler.service import plan_due_runs
    from control_plane.services import build_services

    created = sources.CreateBillingDatasourceAnthropic(
        anthropic(start_date=date.fromordinal(TODAY.toordinal() - 3).isoformat())
    )
    with sessions.begin() as session:
        assert plan_due_runs(session, datetime.now(UTC) + timedelta(days=1), settings) == 1
    services = build_services(settings)
    try:
        summary = import_billing(services, created.id, trigger="SCHEDULED")
    finally:
        services.close()
    assert (summary.status.value, summary.dimensions_recomputed) == ("SUCCEEDED", 0)
    with sessions() as session:
        record = session.scalars(sa.select(ImportRecord).where(ImportRecord.billing_datasource_id == created.id)).one()
        assert (record.trigger, record.status) == ("SCHEDULED", "SUCCEEDED")


def test_a_credential_sealed_under_another_key_fails_the_import_naming_it(sources, sessions):
    """The key changed (or replicas use different keys): the import fails before any call, ERROR with what to do."""
    from control_plane.secrets import SecretBox, new_key

    created = sources.CreateBillingDatasourceAnthropic(anthropic())
    with sessions.begin() as session:
        session.get(BillingDatasource, created.id).secret = SecretBox(new_key()).seal(SECRET)
    failed = sources.ImportBillingDatasource(billing_source_pb2.ImportBillingDatasourceRequest(id=created.id))
    expected = (
        "The stored `admin_api_key` cannot be decrypted with this control plane's COSTORY_SECRET_KEY (the key "
        "changed, or replicas use different keys). Restore the key, or re-create the datasource with its "
        "`admin_api_key`."
    )
    assert (failed.status, failed.message) == ("FAILED", expected)
    got = sources.GetBillingDatasourceAnthropic(billing_source_pb2.GetBillingDatasourceAnthropicRequest(id=created.id))
    assert (got.status, got.status_message) == ("ERROR", f"Import failed: {expected}")


def test_setting_the_credential_again_refuses_an_empty_one(sources):
    created = sources.CreateBillingDatasourceAnthropic(anthropic())
    with pytest.raises(grpc.RpcError) as refused:
        sources.UpdateBillingDatasourceAnthropic(
            billing_source_pb2.UpdateBillingDatasourceAnthropicRequest(
                billing_datasource_anthropic=billing_source_pb2.BillingDatasourceAnthropic(
                    id=created.id, name="Claude"
                ),
                update_mask=FieldMask(paths=["admin_api_key"]),
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "`admin_api_key` must not be empty." in refused.value.details()
