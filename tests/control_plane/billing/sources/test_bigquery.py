"""The GCP billing export reader against bqemulator (BigQuery's REST API on loopback), through the real
`google-cloud-bigquery` client, with the tenant's key exchanged for an access token at the control plane's
loopback token endpoint. Failures the emulator cannot produce (403, 5xx) come from a stand-in speaking
BigQuery's error format."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from google.auth import jwt
from google.auth.credentials import AnonymousCredentials

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.bigquery import (
    READONLY_SCOPE,
    BigQueryBillingReader,
    normalize,
    parse_bq_uri,
    tenant_credentials,
)
from control_plane.identity import generate_key
from control_plane.identity.token_endpoint import TokenEndpoint, TrustedKey, issuer_certs
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError
from devtools.bqemulator import BqEmulator, EmulatorUnavailable
from devtools.standins.server import LoopbackApi, Reply, Request

EMAIL = "costory-acme@costory-selfhosted.iam.gserviceaccount.com"
SUB = "112233445566778899001"
STANDARD = "gcp_billing_export_v1_0123AB_CDEF01_2345GH"
DETAILED = "gcp_billing_export_resource_v1_0123AB_CDEF01_2345GH"
NOV_1, NOV_2, NOV_3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def export_row(
    *,
    start: str,
    end: str,
    exported: str,
    cost: float,
    service: tuple[str, str] = ("6F81-5844-456A", "Compute Engine"),
    sku: str = "E2 Instance Core running in Belgium",
    project: tuple[str, str] = ("shop-prod", "Shop Prod"),
    project_labels: list[tuple[str, str]] | None = None,
    labels: list[tuple[str, str]] | None = None,
    system_labels: list[tuple[str, str]] | None = None,
    region: str | None = "europe-west1",
    usage: tuple[float, str | None] = (3600.0, "seconds"),
    credits: list[float] | None = None,
    invoice: str = "202611",
    cost_type: str = "regular",
    resource: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One export row as `tabledata.insertAll` takes it (the shape Google's export writes)."""

    def pairs(values: list[tuple[str, str]] | None) -> list[dict[str, str]]:
        return [{"key": k, "value": v} for k, v in values or []]

    row: dict[str, Any] = {
        "billing_account_id": "0123AB-CDEF01-2345GH",
        "service": {"id": service[0], "description": service[1]},
        "sku": {"id": "SKU-" + sku[:8], "description": sku},
        "usage_start_time": start,
        "usage_end_time": end,
        "project": {"id": project[0], "number": "4815162342", "name": project[1], "labels": pairs(project_labels)},
        "labels": pairs(labels),
        "system_labels": pairs(system_labels),
        "location": {"location": region, "country": None, "region": region, "zone": None},
        "export_time": exported,
        "cost": cost,
        "currency": "USD",
        "usage": {"amount": usage[0], "unit": usage[1]},
        "credits": [{"name": f"credit {i}", "amount": a, "type": "PROMOTION"} for i, a in enumerate(credits or [])],
        "invoice": {"month": invoice},
        "cost_type": cost_type,
    }
    if resource is not None:
        row["resource"] = {"name": resource[0], "global_name": resource[1]}
    return row


GEMINI_INPUT = "Gemini 2.5 Flash GA Text Input - Predictions"
GEMINI_OUTPUT = "Gemini 2.5 Flash GA Text Output - Predictions"
VERTEX = ("C7E2-9256-1C43", "Vertex AI")

ROWS = [
    # 1. Compute with labels, project labels, a system label and two credits: 1.234567 - 0.1 - 0.034567 = 1.1
    export_row(
        start="2026-11-01T10:00:00Z",
        end="2026-11-01T11:00:00Z",
        exported="2026-11-01T14:00:00Z",
        cost=1.234567,
        project_labels=[("team", "checkout")],
        labels=[("env", "prod"), ("app", "web")],
        system_labels=[("compute.googleapis.com/machine_spec", "e2-standard-4")],
        credits=[-0.1, -0.034567],
    ),
    # 2./3. Vertex AI Gemini tokens: 1250 input at $0.30/M = 0.000375, 400 output at $2.50/M = 0.001
    export_row(
        start="2026-11-02T00:00:00Z",
        end="2026-11-02T01:00:00Z",
        exported="2026-11-02T08:00:00Z",
        cost=0.000375,
        service=VERTEX,
        sku=GEMINI_INPUT,
        project=("ml-lab", "ML Lab"),
        labels=[("team", "search")],
        region="us-central1",
        usage=(1250.0, "count"),
    ),
    export_row(
        start="2026-11-02T00:00:00Z",
        end="2026-11-02T01:00:00Z",
        exported="2026-11-02T08:00:00Z",
        cost=0.001,
        service=VERTEX,
        sku=GEMINI_OUTPUT,
        project=("ml-lab", "ML Lab"),
        labels=[("team", "search")],
        region="us-central1",
        usage=(400.0, "count"),
    ),
    # 4. Tax, no usage
    export_row(
        start="2026-11-02T00:00:00Z",
        end="2026-11-03T00:00:00Z",
        exported="2026-11-03T02:00:00Z",
        cost=0.25,
        sku="Tax",
        region=None,
        usage=(0.0, None),
        cost_type="tax",
    ),
    # 5. A rounding error far below a cent, exported as 1e-07
    export_row(
        start="2026-11-02T00:00:00Z",
        end="2026-11-03T00:00:00Z",
        exported="2026-11-03T02:00:00Z",
        cost=1e-07,
        sku="Rounding",
        region=None,
        usage=(0.0, None),
        cost_type="rounding_error",
    ),
    # 6. October 31st usage on the November invoice, wholly covered by the free tier
    export_row(
        start="2026-10-31T23:00:00Z",
        end="2026-11-01T00:00:00Z",
        exported="2026-11-01T06:00:00Z",
        cost=2.5,
        service=("95FF-2EF5-5EA1", "Cloud Storage"),
        sku="Standard Storage Belgium",
        usage=(1.5, "gibibyte month"),
        credits=[-2.5],
        invoice="202611",
    ),
]

DETAILED_ROWS = [
    export_row(
        start="2026-11-01T10:00:00Z",
        end="2026-11-01T11:00:00Z",
        exported="2026-11-01T14:00:00Z",
        cost=0.5,
        labels=[("goog-k8s-cluster-name", "prod")],
        resource=(
            "gke-prod-pool-1-abcd",
            "//compute.googleapis.com/projects/shop-prod/zones/europe-west1-b/instances/1234567890",
        ),
    )
]


def expected(**columns: Any) -> dict[str, Any]:
    """A row's columns other than the ones every row here shares."""
    return columns


SHARED = {
    "Provider": "Google Cloud",
    "BillingCurrency": "USD",
    "BillingAccountId": "0123AB-CDEF01-2345GH",
    "BillingPeriodStart": at("2026-11-01T00:00:00"),
}


def as_rows(tables: list[pa.Table], drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Every row's non-null columns, without the shared ones (checked to hold), ordered by start and SKU."""
    rows = []
    for table in tables:
        assert table.schema == SOURCE_SCHEMA
        for row in table.to_pylist():
            for name, value in SHARED.items():
                assert row.pop(name) == value, name
            rows.append({k: v for k, v in row.items() if v is not None and k not in drop})
    return sorted(rows, key=lambda r: (r["ChargePeriodStart"], r["x_UsageType"]))


@pytest.fixture(scope="module")
def emulator() -> Iterator[BqEmulator]:
    try:
        emulator = BqEmulator().start()
    except EmulatorUnavailable as error:
        pytest.fail(f"bqemulator is required for these tests: {error}", pytrace=False)
    try:
        emulator.create_export_table("billing", STANDARD, detailed=False)
        emulator.insert(f"{emulator.project}.billing.{STANDARD}", ROWS)
        emulator.create_export_table("billing", DETAILED, detailed=True)
        emulator.insert(f"{emulator.project}.billing.{DETAILED}", DETAILED_ROWS)
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def key():
    return generate_key(EMAIL, SUB)


@pytest.fixture(scope="module")
def token_endpoint(key) -> Iterator[TokenEndpoint]:
    """The control plane's loopback token endpoint, trusting the tenant's key."""
    trusted = {EMAIL: TrustedKey(EMAIL, SUB, key.private_key_id, key.public_key_pem())}
    endpoint = TokenEndpoint(trusted.get)
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture
def credentials(key, token_endpoint):
    return tenant_credentials(key.to_json(), token_endpoint.token_uri)


def reader(emulator: BqEmulator, credentials, table: str = STANDARD, detailed: bool = False, **options):
    return BigQueryBillingReader(
        f"{emulator.project}.billing.{table}",
        detailed,
        credentials=credentials,
        api_endpoint=emulator.url,
        retry_seconds=2.0,
        **options,
    )


class TestRead:
    def test_standard_rows_normalized(self, emulator, credentials):
        tables = list(reader(emulator, credentials).read(date(2026, 10, 31), NOV_3))

        compute = expected(
            ChargePeriodStart=at("2026-11-01T10:00:00"),
            ChargePeriodEnd=at("2026-11-01T11:00:00"),
            BilledCost=Decimal("1.234567000000"),
            EffectiveCost=Decimal("1.100000000000"),
            ServiceName="Compute Engine",
            ChargeCategory="Usage",
            SubAccountId="shop-prod",
            SubAccountName="Shop Prod",
            RegionId="europe-west1",
            ConsumedQuantity=3600.0,
            ConsumedUnit="seconds",
            Tags=[
                ("env", "prod"),
                ("app", "web"),
                ("projectLabel/team", "checkout"),
                ("systemLabel/compute.googleapis.com/machine_spec", "e2-standard-4"),
            ],
            x_ProductCode="6F81-5844-456A",
            x_UsageType="E2 Instance Core running in Belgium",
            x_LineItemType="regular",
        )
        gemini = dict(
            ChargePeriodStart=at("2026-11-02T00:00:00"),
            ChargePeriodEnd=at("2026-11-02T01:00:00"),
            ServiceName="Vertex AI",
            ChargeCategory="Usage",
            SubAccountId="ml-lab",
            SubAccountName="ML Lab",
            RegionId="us-central1",
            ConsumedUnit="Tokens",
            Tags=[("team", "search")],
            x_ProductCode="C7E2-9256-1C43",
            x_LineItemType="regular",
            x_Model="gemini-2.5-flash",
        )
        fee = dict(
            ChargePeriodStart=at("2026-11-02T00:00:00"),
            ChargePeriodEnd=at("2026-11-03T00:00:00"),
            ServiceName="Compute Engine",
            SubAccountId="shop-prod",
            SubAccountName="Shop Prod",
            ConsumedQuantity=0.0,
            Tags=[],
            x_ProductCode="6F81-5844-456A",
        )
        assert as_rows(tables) == [
            expected(
                ChargePeriodStart=at("2026-10-31T23:00:00"),
                ChargePeriodEnd=at("2026-11-01T00:00:00"),
                BilledCost=Decimal("2.500000000000"),
                EffectiveCost=Decimal("0E-12"),
                ServiceName="Cloud Storage",
                ChargeCategory="Usage",
                SubAccountId="shop-prod",
                SubAccountName="Shop Prod",
                RegionId="europe-west1",
                ConsumedQuantity=1.5,
                ConsumedUnit="gibibyte month",
                Tags=[],
                x_ProductCode="95FF-2EF5-5EA1",
                x_UsageType="Standard Storage Belgium",
                x_LineItemType="regular",
            ),
            compute,
            {
                **gemini,
                "BilledCost": Decimal("0.000375000000"),
                "EffectiveCost": Decimal("0.000375000000"),
                "ConsumedQuantity": 1250.0,
                "x_UsageType": GEMINI_INPUT,
                "x_TokenType": "input",
            },
            {
                **gemini,
                "BilledCost": Decimal("0.001000000000"),
                "EffectiveCost": Decimal("0.001000000000"),
                "ConsumedQuantity": 400.0,
                "x_UsageType": GEMINI_OUTPUT,
                "x_TokenType": "output",
            },
            {
                **fee,
                "BilledCost": Decimal("1E-7"),
                "EffectiveCost": Decimal("1E-7"),
                "ChargeCategory": "Adjustment",
                "x_UsageType": "Rounding",
                "x_LineItemType": "rounding_error",
            },
            {
                **fee,
                "BilledCost": Decimal("0.250000000000"),
                "EffectiveCost": Decimal("0.250000000000"),
                "ChargeCategory": "Tax",
                "x_UsageType": "Tax",
                "x_LineItemType": "tax",
            },
        ]

    def test_a_window_returns_exactly_its_rows(self, emulator, credentials):
        tables = list(reader(emulator, credentials).read(NOV_1, NOV_2))

        assert [(r["ChargePeriodStart"], r["BilledCost"]) for r in as_rows(tables)] == [
            (at("2026-11-01T10:00:00"), Decimal("1.234567000000"))
        ]

    def test_pages_are_bounded(self, emulator, credentials):
        tables = list(reader(emulator, credentials, page_rows=2).read(date(2026, 10, 31), NOV_3))

        assert [t.num_rows for t in tables] == [2, 2, 2]

    def test_detailed_rows_carry_the_resource(self, emulator, credentials):
        tables = list(reader(emulator, credentials, DETAILED, detailed=True).read(NOV_1, NOV_2))

        assert [{k: r[k] for k in ("ResourceId", "ResourceName", "BilledCost", "Tags")} for r in as_rows(tables)] == [
            {
                "ResourceId": "//compute.googleapis.com/projects/shop-prod/zones/europe-west1-b/instances/1234567890",
                "ResourceName": "gke-prod-pool-1-abcd",
                "BilledCost": Decimal("0.500000000000"),
                "Tags": [("goog-k8s-cluster-name", "prod")],
            }
        ]

    def test_the_access_token_comes_from_the_token_endpoint(self, emulator, credentials):
        list(reader(emulator, credentials).read(NOV_1, NOV_2))

        claims = jwt.decode(credentials.token, certs=issuer_certs())
        assert (claims["email"], claims["sub"], claims["scope"]) == (EMAIL, SUB, READONLY_SCOPE)


class TestVersions:
    def test_one_version_per_usage_day(self, emulator, credentials):
        versions = reader(emulator, credentials).versions(date(2026, 10, 31), NOV_3)

        assert versions == {
            date(2026, 10, 31): "2026-11-01T06:00:00+00:00|1",
            NOV_1: "2026-11-01T14:00:00+00:00|1",
            NOV_2: "2026-11-03T02:00:00+00:00|4",
        }

    def test_a_late_row_changes_only_its_day(self, emulator, credentials):
        table = "gcp_billing_export_v1_LATE00_LATE00_LATE00"
        uri = emulator.create_export_table("billing", table, detailed=False)
        emulator.insert(uri, ROWS[:2])
        source = reader(emulator, credentials, table)
        before = source.versions(NOV_1, NOV_3)

        emulator.insert(uri, [{**ROWS[1], "export_time": "2026-11-05T09:00:00Z", "cost": 0.02}])

        after = source.versions(NOV_1, NOV_3)
        assert before == {NOV_1: "2026-11-01T14:00:00+00:00|1", NOV_2: "2026-11-02T08:00:00+00:00|1"}
        assert after == {NOV_1: "2026-11-01T14:00:00+00:00|1", NOV_2: "2026-11-05T09:00:00+00:00|2"}
        assert sorted(r["BilledCost"] for r in as_rows(list(source.read(NOV_2, NOV_3)))) == [
            Decimal("0.000375000000"),
            Decimal("0.020000000000"),
        ]

    def test_no_rows_no_versions(self, emulator, credentials):
        assert reader(emulator, credentials).versions(date(2026, 12, 1), date(2027, 1, 1)) == {}


class TestBqUri:
    @pytest.mark.parametrize(
        "bq_uri",
        [
            pytest.param("billing.gcp_billing_export_v1_X", id="no-project"),
            pytest.param("my-project.billing.export`; DROP TABLE x; --", id="injection"),
            pytest.param("My_Project.billing.export", id="bad-project"),
            pytest.param("", id="empty"),
        ],
    )
    def test_not_a_table(self, bq_uri):
        with pytest.raises(TerminalImportError) as caught:
            parse_bq_uri(bq_uri, False)

        assert caught.value.message == (
            f"`bq_uri` {bq_uri!r} is not a BigQuery table as `project.dataset.table` (letters, digits, `_` and `-`; "
            "e.g. `my-project.billing.gcp_billing_export_v1_0123AB_CDEF01_2345GH`): set `bq_uri` to the billing "
            "export table."
        )

    def test_domain_scoped_project(self):
        table = parse_bq_uri("example.com:billing-prj.exports.gcp_billing_export_v1_X", False)

        assert (table.project, table.dataset, table.table) == (
            "example.com:billing-prj",
            "exports",
            "gcp_billing_export_v1_X",
        )
        assert table.sql_name == "`example.com:billing-prj.exports.gcp_billing_export_v1_X`"
        source = BigQueryBillingReader(
            "example.com:billing-prj.exports.gcp_billing_export_v1_X", False, credentials=AnonymousCredentials()
        )
        assert source.job_project == "example.com:billing-prj"

    def test_detailed_flag_against_a_standard_table(self):
        with pytest.raises(TerminalImportError) as caught:
            parse_bq_uri(f"p-123456.billing.{STANDARD}", True)

        assert caught.value.message == (
            f"`bq_uri` names the standard export table {STANDARD} but `is_detailed_billing` is true: set "
            "`is_detailed_billing` to false, or `bq_uri` to the detailed table (gcp_billing_export_resource_v1_…)."
        )

    def test_standard_flag_against_a_detailed_table(self):
        with pytest.raises(TerminalImportError) as caught:
            parse_bq_uri(f"p-123456.billing.{DETAILED}", False)

        assert caught.value.message == (
            f"`bq_uri` names the detailed export table {DETAILED} but `is_detailed_billing` is false: set "
            "`is_detailed_billing` to true."
        )


class TestFailures:
    def test_missing_table(self, emulator, credentials):
        source = reader(emulator, credentials, "gcp_billing_export_v1_NOPE00_NOPE00_NOPE00")

        for call in (lambda: source.versions(NOV_1, NOV_2), lambda: list(source.read(NOV_1, NOV_2))):
            with pytest.raises(TerminalImportError) as caught:
                call()
            uri = f"{emulator.project}.billing.gcp_billing_export_v1_NOPE00_NOPE00_NOPE00"
            assert caught.value.message.startswith(
                f"BigQuery found no table `bq_uri` {uri} (HTTP 404: Not found: Table"
            )
            assert caught.value.message.endswith(
                "Check the project, dataset and table names (the export table is created by the first export after "
                "it is enabled), and that the service account can see the dataset."
            )

    def test_detailed_flag_on_a_table_without_resource(self, emulator, credentials):
        uri = emulator.create_export_table("billing", "export_copy", detailed=False)
        source = reader(emulator, credentials, "export_copy", detailed=True)

        with pytest.raises(TerminalImportError) as caught:
            list(source.read(NOV_1, NOV_2))

        assert caught.value.message.startswith(f"`bq_uri` {uri} has no `resource` column (")
        assert caught.value.message.endswith(
            "): it is not a detailed export table; set `is_detailed_billing` to false or `bq_uri` to the detailed "
            "table."
        )

    def test_access_denied(self, credentials, denying_api):
        source = BigQueryBillingReader(
            "shop-billing.billing.gcp_billing_export_v1_X",
            False,
            credentials=credentials,
            api_endpoint=denying_api.url,
            project="costory-jobs",
            retry_seconds=2.0,
        )

        with pytest.raises(TerminalImportError) as caught:
            source.versions(NOV_1, NOV_2)

        assert caught.value.message == (
            "BigQuery denied access to `bq_uri` shop-billing.billing.gcp_billing_export_v1_X (HTTP 403: "
            f"{ACCESS_DENIED}). Grant the tenant's service account (data source `costory_service_account`) BigQuery "
            "Data Viewer (roles/bigquery.dataViewer) on the dataset shop-billing.billing, and BigQuery Job User "
            "(roles/bigquery.jobUser) on the project costory-jobs, where the queries run."
        )
        (request,) = denying_api.requests
        assert (request.method, request.path) == ("POST", "/bigquery/v2/projects/costory-jobs/jobs")

    def test_a_refused_access_token(self, credentials):
        with LoopbackApi({}, bearer) as api:
            api.revoke()
            source = BigQueryBillingReader(
                f"p-123456.billing.{STANDARD}", False, credentials=credentials, api_endpoint=api.url, retry_seconds=2.0
            )
            with pytest.raises(TerminalImportError) as caught:
                source.versions(NOV_1, NOV_2)

        assert caught.value.message.startswith("BigQuery did not accept the tenant's Google credential (HTTP 401: ")
        assert caught.value.message.endswith(
            "); check the tenant's service-account key, or set a new one with `costory-control-plane tenants "
            "set-google-key`."
        )

    def test_server_errors_are_transient(self, credentials):
        with LoopbackApi({("POST", "/bigquery/v2/projects/*"): lambda r: Reply(503, BACKEND_ERROR)}, bearer) as api:
            source = BigQueryBillingReader(
                f"p-123456.billing.{STANDARD}", False, credentials=credentials, api_endpoint=api.url, retry_seconds=1.5
            )
            with pytest.raises(TransientImportError) as caught:
                source.versions(NOV_1, NOV_2)

        assert caught.value.message == (
            f"BigQuery kept failing while reading `bq_uri` p-123456.billing.{STANDARD}; the import is retried "
            "automatically."
        )
        assert len(api.requests) >= 2

    def test_unreachable_is_transient(self, credentials):
        with LoopbackApi({}, bearer) as api:
            url = api.url
        source = BigQueryBillingReader(
            f"p-123456.billing.{STANDARD}", False, credentials=credentials, api_endpoint=url, retry_seconds=1.5
        )

        with pytest.raises(TransientImportError):
            list(source.read(NOV_1, NOV_2))

    def test_refused_key(self, emulator):
        stranger = generate_key("someone@elsewhere.iam.gserviceaccount.com", SUB)
        endpoint = TokenEndpoint(lambda email: None)
        endpoint.start()
        try:
            source = reader(emulator, tenant_credentials(stranger.to_json(), endpoint.token_uri))
            with pytest.raises(TerminalImportError) as caught:
                source.versions(NOV_1, NOV_2)
        finally:
            endpoint.stop()

        assert caught.value.message == (
            "Google refused the tenant's service-account key (invalid_grant: Invalid grant: account not found): the "
            "key may have been deleted or disabled; set a working one with `costory-control-plane tenants "
            "set-google-key`."
        )

    def test_not_a_key(self):
        with pytest.raises(TerminalImportError) as caught:
            tenant_credentials('{"type": "authorized_user"}')

        assert caught.value.message == (
            "the tenant's Google key is not a service-account key file; set one with "
            "`costory-control-plane tenants set-google-key`"
        )

    def test_no_secret_in_logs_or_errors(self, emulator, key, credentials, denying_api, caplog):
        caplog.set_level(logging.DEBUG)
        messages = []

        list(reader(emulator, credentials).read(NOV_1, NOV_3))
        reader(emulator, credentials).versions(NOV_1, NOV_3)
        for source in (
            reader(emulator, credentials, "gcp_billing_export_v1_NOPE00_NOPE00_NOPE00"),
            BigQueryBillingReader(
                "shop-billing.billing.gcp_billing_export_v1_X",
                False,
                credentials=credentials,
                api_endpoint=denying_api.url,
                retry_seconds=2.0,
            ),
        ):
            with pytest.raises(TerminalImportError) as caught:
                source.versions(NOV_1, NOV_2)
            messages.append(caught.value.message)

        secrets = [credentials.token, *(line for line in key.info["private_key"].splitlines() if "-----" not in line)]
        assert credentials.token
        for secret in secrets:
            assert secret not in caplog.text
            assert all(secret not in message for message in messages)


ACCESS_DENIED = (
    "Access Denied: Table shop-billing:billing.gcp_billing_export_v1_X: User does not have permission to query "
    "table shop-billing:billing.gcp_billing_export_v1_X, or perhaps it does not exist."
)
BACKEND_ERROR = {
    "error": {
        "code": 503,
        "message": "Error encountered during execution. Retrying may solve the problem.",
        "errors": [{"message": "Error encountered during execution.", "domain": "global", "reason": "backendError"}],
        "status": "UNAVAILABLE",
    }
}


def bearer(request: Request) -> bool:
    """Only an access token our token endpoint signed for BigQuery's read-only scope is accepted."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Bearer "):
        return False
    try:
        claims = jwt.decode(header.removeprefix("Bearer "), certs=issuer_certs())
    except ValueError:
        return False
    return claims.get("scope") == READONLY_SCOPE


@pytest.fixture
def denying_api() -> Iterator[LoopbackApi]:
    """BigQuery answering every job with the 403 it gives a caller who may not read the table."""
    body = {
        "error": {
            "code": 403,
            "message": ACCESS_DENIED,
            "errors": [{"message": ACCESS_DENIED, "domain": "global", "reason": "accessDenied"}],
            "status": "PERMISSION_DENIED",
        }
    }
    with LoopbackApi({("POST", "/bigquery/v2/projects/*"): lambda r: Reply(403, body)}, bearer) as api:
        yield api


class TestNormalize:
    """The normalize step alone, on pages shaped as the client returns them (also the benchmark's seam)."""

    def page(self, **overrides: Any) -> pa.Table:
        kv = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
        columns: dict[str, Any] = {
            "billing_account_id": pa.array(["A", "A"]),
            "invoice_month": pa.array(["202611", None]),
            "cost_type": pa.array(["regular", "something_new"]),
            "service_id": pa.array(["S", "S"]),
            "service_description": pa.array(["Vertex AI", "Vertex AI"]),
            "sku_description": pa.array(
                ["Gemini 2.0 Flash Lite Text Input Caching Storage", "Gemini 1.5 Pro Text Input Caching"]
            ),
            "usage_start_time": pa.array(
                [at("2026-11-02T00:00:00"), at("2026-12-31T23:00:00")], pa.timestamp("us", "UTC")
            ),
            "usage_end_time": pa.array(
                [at("2026-11-02T01:00:00"), at("2027-01-01T00:00:00")], pa.timestamp("us", "UTC")
            ),
            "project_id": pa.array(["p", "p"]),
            "project_name": pa.array(["P", "P"]),
            "project_labels": pa.array([None, [{"key": "team", "value": "x"}]], kv),
            "labels": pa.array([[{"key": "a", "value": "1"}], None], kv),
            "system_labels": pa.array([[], []], kv),
            "region": pa.array([None, None], pa.string()),
            "cost": pa.array(["0.30000000000000004", "1.2345678901234567e-05"]),
            "currency": pa.array(["USD", "USD"]),
            "usage_amount": pa.array([2.0, 10.0]),
            "usage_unit": pa.array(["hour", "characters"]),
            "credit_amounts": pa.array([["-0.1", "-0.2"], []], pa.list_(pa.string())),
        }
        columns.update(overrides)
        return pa.table(columns)

    def test_exact_costs_units_and_fallbacks(self):
        table = normalize(self.page(), False)

        assert table.schema == SOURCE_SCHEMA
        picked = ["BilledCost", "EffectiveCost", "ChargeCategory", "BillingPeriodStart", "x_Model", "x_TokenType"]
        assert table.select([*picked, "ConsumedUnit", "Tags"]).to_pylist() == [
            {
                "BilledCost": Decimal("0.300000000000"),
                "EffectiveCost": Decimal("0E-12"),
                "ChargeCategory": "Usage",
                "BillingPeriodStart": at("2026-11-01T00:00:00"),
                "x_Model": "gemini-2.0-flash-lite",
                "x_TokenType": "cache_storage",
                "ConsumedUnit": "hour",
                "Tags": [("a", "1")],
            },
            {
                "BilledCost": Decimal("0.000012345679"),
                "EffectiveCost": Decimal("0.000012345679"),
                "ChargeCategory": "Usage",
                "BillingPeriodStart": at("2026-12-01T00:00:00"),
                "x_Model": "gemini-1.5-pro",
                "x_TokenType": "cache_read",
                "ConsumedUnit": "Characters",
                "Tags": [("projectLabel/team", "x")],
            },
        ]
        assert table.column("x_LineItemType").to_pylist() == ["regular", "something_new"]

    def test_a_cost_no_bill_holds_is_quarantined(self):
        with pytest.raises(Quarantine) as caught:
            normalize(self.page(cost=pa.array(["1e+17", "1"])), False)

        assert caught.value.reason == (
            "a value in `cost` that is not an amount below 10^16 with at most 38 decimals: check the export table"
        )
