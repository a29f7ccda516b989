"""Every billing source other than AWS CUR, in one table: its proto message, the attributes it keeps in
``BillingDatasource.config``, the one that is a credential (sealed in ``BillingDatasource.secret``), and how
to build its reader for an import. The service, the gRPC servicer and the importer read this table; nothing
else names a source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from costory_proto.costory.v1 import billing_source_pb2 as pb

if TYPE_CHECKING:
    from control_plane.billing.sources import SourceReader
    from control_plane.models import BillingDatasource
    from control_plane.services import Services

BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery",)
"""Query jobs need the full BigQuery scope; what the identity may read is limited by its IAM roles."""
ReaderFactory = Callable[["Services", "BillingDatasource", str], "SourceReader"]


@dataclass(frozen=True)
class SourceKind:
    kind: str
    """Stored in ``BillingDatasource.kind``."""
    message: type[Message]
    singular: str
    """The RPC suffix: Create<singular>, Get<singular>, …"""
    request_field: str
    settings: tuple[str, ...]
    """Configurable attributes kept in ``config`` (besides name, start_date and end_date)."""
    secret: str | None
    """The credential attribute, write-only."""
    reader: ReaderFactory
    source_type: str = ""
    """The constant `type` attribute of the public resource, when it has one."""

    @property
    def location(self) -> str:
        """How messages name where the import reads from."""
        return {
            "GCP": "the BigQuery billing export",
            "AZURE": "the Azure cost exports",
            "ANTHROPIC": "the Anthropic Admin API",
            "CURSOR": "the Cursor Admin API",
            "ELASTIC_CLOUD": "the Elastic Cloud billing API",
            "OPENAI": "the OpenAI Costs API",
        }[self.kind]


def _anthropic(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.anthropic import AnthropicReader

    return AnthropicReader(secret, services.settings.anthropic_api_url)


def _openai(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.openai import OpenAIReader

    return OpenAIReader(secret, services.settings.openai_api_url)


def _cursor(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.cursor import CursorReader

    return CursorReader(secret, services.settings.cursor_api_url)


def _elastic(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.elastic import ElasticCloudReader

    config = datasource.config or {}
    return ElasticCloudReader(
        config["organization_id"],
        secret,
        services.settings.elastic_api_url,
        ecu_usd=Decimal(services.settings.elastic_ecu_usd),
    )


def _azure(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.azure import AzureExportReader

    config = datasource.config or {}
    return AzureExportReader(
        config["storage_account_name"],
        config["container_name"],
        config["actuals_path"],
        config["amortized_path"],
        secret,
    )


def _gcp(services: Services, datasource: BillingDatasource, secret: str) -> SourceReader:
    from control_plane.billing.sources.bigquery import BigQueryBillingReader

    config = datasource.config or {}
    with services.sessions() as session:
        credentials = services.identity.access_credentials(session, datasource.tenant_id, BIGQUERY_SCOPES)
    return BigQueryBillingReader(
        config["bq_uri"],
        bool(config.get("is_detailed_billing")),
        credentials=credentials,
        api_endpoint=services.settings.bigquery_api_url,
    )


KINDS: tuple[SourceKind, ...] = (
    SourceKind(
        "GCP",
        pb.BillingDatasourceGcp,
        "BillingDatasourceGcp",
        "billing_datasource_gcp",
        ("bq_uri", "is_detailed_billing"),
        None,
        _gcp,
    ),
    SourceKind(
        "AZURE",
        pb.BillingDatasourceAzure,
        "BillingDatasourceAzure",
        "billing_datasource_azure",
        ("storage_account_name", "container_name", "actuals_path", "amortized_path"),
        "sas_url",
        _azure,
    ),
    SourceKind(
        "ANTHROPIC",
        pb.BillingDatasourceAnthropic,
        "BillingDatasourceAnthropic",
        "billing_datasource_anthropic",
        (),
        "admin_api_key",
        _anthropic,
        "Anthropic",
    ),
    SourceKind(
        "CURSOR",
        pb.BillingDatasourceCursor,
        "BillingDatasourceCursor",
        "billing_datasource_cursor",
        (),
        "admin_api_key",
        _cursor,
        "Cursor",
    ),
    SourceKind(
        "ELASTIC_CLOUD",
        pb.BillingDatasourceElasticCloud,
        "BillingDatasourceElasticCloud",
        "billing_datasource_elastic_cloud",
        ("organization_id",),
        "api_key",
        _elastic,
        "ElasticCloud",
    ),
    SourceKind(
        "OPENAI",
        pb.BillingDatasourceOpenai,
        "BillingDatasourceOpenai",
        "billing_datasource_openai",
        (),
        "admin_api_key",
        _openai,
        "OpenAI",
    ),
)
BY_KIND = {k.kind: k for k in KINDS}


def kind_of(kind: str) -> SourceKind:
    return BY_KIND[kind]


def first_day(value: str | None) -> date | None:
    """A `start_date`/`end_date` as a day (the rules checked its `YYYY-MM-DD` form)."""
    return date.fromisoformat(value[:10]) if value else None
