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
from costory_schema.options import request_field

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
    settings: tuple[str, ...]
    """Configurable attributes kept in ``config`` (besides name, start_date and end_date)."""
    secret: str | None
    """The credential attribute, write-only."""
    reader: ReaderFactory
    location: str
    """How messages name where the import reads from."""
    source_type: str = ""
    """The constant `type` attribute of the public resource, when it has one."""

    @property
    def singular(self) -> str:
        """The RPC suffix, the message's name: Create<singular>, Get<singular>, …"""
        return self.message.DESCRIPTOR.name

    @property
    def request_field(self) -> str:
        return request_field(self.singular)


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
        "GCP", pb.BillingDatasourceGcp, ("bq_uri", "is_detailed_billing"), None, _gcp, "the BigQuery billing export"
    ),
    SourceKind(
        "AZURE",
        pb.BillingDatasourceAzure,
        ("storage_account_name", "container_name", "actuals_path", "amortized_path"),
        "sas_url",
        _azure,
        "the Azure cost exports",
    ),
    SourceKind(
        "ANTHROPIC",
        pb.BillingDatasourceAnthropic,
        (),
        "admin_api_key",
        _anthropic,
        "the Anthropic Admin API",
        "Anthropic",
    ),
    SourceKind("CURSOR", pb.BillingDatasourceCursor, (), "admin_api_key", _cursor, "the Cursor Admin API", "Cursor"),
    SourceKind(
        "ELASTIC_CLOUD",
        pb.BillingDatasourceElasticCloud,
        ("organization_id",),
        "api_key",
        _elastic,
        "the Elastic Cloud billing API",
        "ElasticCloud",
    ),
    SourceKind("OPENAI", pb.BillingDatasourceOpenai, (), "admin_api_key", _openai, "the OpenAI Costs API", "OpenAI"),
)
BY_KIND = {k.kind: k for k in KINDS}


def kind_of(kind: str) -> SourceKind:
    return BY_KIND[kind]


def first_day(value: str | None) -> date | None:
    """A `start_date`/`end_date` as a day (the rules checked its `YYYY-MM-DD` form)."""
    return date.fromisoformat(value[:10]) if value else None
