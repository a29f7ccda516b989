"""Google Cloud: the Cloud Billing export to BigQuery (standard or detailed table), read with the tenant's
Google identity.

Rows for a usage day keep arriving for days after it (each batch with a later ``export_time``), so
``versions`` asks BigQuery for each day's latest ``export_time`` and row count: a day whose version changed is
read again and replaced. ``read`` streams the rows of a window in bounded pages and normalizes each page with
pyarrow compute. Costs travel as text (the shortest decimal of the exported FLOAT64) so no binary rounding
reaches the cost table. See docs/sources/gcp.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any, TypeVar

import google.api_core.exceptions as api_exceptions
import google.auth.exceptions
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import requests
from google.auth.credentials import Credentials
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY
from google.oauth2 import service_account

from control_plane.billing.schema import MONEY, TIMESTAMP, source_table
from control_plane.billing.sources.common import NotAnAmount, day_start, money_column, normalized_in_order
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError

PROVIDER = "Google Cloud"
READONLY_SCOPE = "https://www.googleapis.com/auth/bigquery.readonly"
PAGE_ROWS = 50_000
"""Rows per page of query results: one page is normalized at a time."""
STANDARD_PREFIX = "gcp_billing_export_v1_"
DETAILED_PREFIX = "gcp_billing_export_resource_v1_"

_TABLE_URI = re.compile(
    r"^(?P<project>[a-z][a-z0-9.:-]{0,126}[a-z0-9])\.(?P<dataset>[A-Za-z0-9_]{1,1024})\.(?P<table>[A-Za-z0-9_-]{1,1024})$"
)
"""project.dataset.table; a project id may be domain-scoped (`example.com:project`). Nothing else is allowed,
since the name is written into the query between backticks."""

CHARGE_CATEGORIES = {"regular": "Usage", "tax": "Tax", "adjustment": "Adjustment", "rounding_error": "Adjustment"}
"""The export's `cost_type` -> ChargeCategory. A cost type not listed (or none) counts as Usage; the exported
value is kept in x_LineItemType either way."""
PROJECT_LABEL_PREFIX = "projectLabel/"
SYSTEM_LABEL_PREFIX = "systemLabel/"

_GEMINI_MODEL = r"^Gemini (?P<version>\d+(?:\.\d+)?) (?P<tier>Pro|Flash[ -]Lite|Flash|Ultra|Nano)\b"
"""How Vertex AI SKUs name a Gemini model: "Gemini 2.5 Flash GA Text Input - Predictions"."""
_TOKEN_SKUS = (
    ("Caching Storage", "cache_storage"),
    ("Caching", "cache_read"),
    (" Output", "output"),
    (" Input", "input"),
)
"""SKU description fragment -> x_TokenType, first match wins (a caching SKU also says "Input")."""
_TOKEN_UNITS = {"count": "Tokens", "requests": "Tokens", "tokens": "Tokens", "characters": "Characters"}
"""usage.unit of a Gemini input/output/cache-read SKU -> ConsumedUnit: Vertex AI exports token counts as a
count; the oldest models were billed per character, which stays a different unit."""

QUERY_COLUMNS = """
  billing_account_id,
  invoice.month AS invoice_month,
  cost_type,
  service.id AS service_id,
  service.description AS service_description,
  sku.description AS sku_description,
  usage_start_time,
  usage_end_time,
  project.id AS project_id,
  project.name AS project_name,
  project.labels AS project_labels,
  labels,
  system_labels,
  location.region AS region,
  CAST(cost AS STRING) AS cost,
  currency,
  usage.amount AS usage_amount,
  usage.unit AS usage_unit,
  ARRAY(SELECT CAST(c.amount AS STRING) FROM UNNEST(credits) AS c) AS credit_amounts"""
DETAILED_COLUMNS = """,
  resource.name AS resource_name,
  resource.global_name AS resource_global_name"""
WINDOW = "usage_start_time >= @start AND usage_start_time < @end"

T = TypeVar("T")


@dataclass(frozen=True)
class TableRef:
    project: str
    dataset: str
    table: str

    @property
    def sql_name(self) -> str:
        return f"`{self.project}.{self.dataset}.{self.table}`"


def parse_bq_uri(bq_uri: str, is_detailed_billing: bool) -> TableRef:
    """The table named by ``bq_uri``; TerminalImportError naming `bq_uri` when it is not `project.dataset.table`
    or names the other kind of export than ``is_detailed_billing`` says."""
    match = _TABLE_URI.match(bq_uri.strip()) if isinstance(bq_uri, str) else None
    if match is None:
        raise TerminalImportError(
            f"`bq_uri` {str(bq_uri)[:200]!r} is not a BigQuery table as `project.dataset.table` (letters, digits, "
            "`_` and `-`; e.g. `my-project.billing.gcp_billing_export_v1_0123AB_CDEF01_2345GH`): set `bq_uri` to "
            "the billing export table."
        )
    table = match["table"]
    if is_detailed_billing and table.startswith(STANDARD_PREFIX):
        raise TerminalImportError(
            f"`bq_uri` names the standard export table {table} but `is_detailed_billing` is true: set "
            f"`is_detailed_billing` to false, or `bq_uri` to the detailed table ({DETAILED_PREFIX}…)."
        )
    if not is_detailed_billing and table.startswith(DETAILED_PREFIX):
        raise TerminalImportError(
            f"`bq_uri` names the detailed export table {table} but `is_detailed_billing` is false: set "
            "`is_detailed_billing` to true."
        )
    return TableRef(match["project"], match["dataset"], table)


def tenant_credentials(key_json: str, token_uri: str | None = None) -> service_account.Credentials:
    """The tenant's service account with read-only BigQuery access. ``token_uri`` replaces the key's (the
    control plane's loopback token endpoint for an embedded key)."""
    try:
        info = json.loads(key_json)
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[READONLY_SCOPE])
    except (ValueError, TypeError, KeyError):
        raise TerminalImportError(
            "the tenant's Google key is not a service-account key file; set one with "
            "`costory-control-plane tenants set-google-key`"
        ) from None
    return credentials.with_token_uri(token_uri) if token_uri else credentials


class BigQueryBillingReader:
    """Reads one billing export table. ``project`` is where query jobs run (and are billed): the table's
    project unless given."""

    provider = PROVIDER

    def __init__(
        self,
        bq_uri: str,
        is_detailed_billing: bool,
        *,
        credentials: Credentials,
        api_endpoint: str | None = None,
        project: str | None = None,
        page_rows: int = PAGE_ROWS,
        retry_seconds: float = 600.0,
    ):
        self.bq_uri = bq_uri
        self.table = parse_bq_uri(bq_uri, is_detailed_billing)
        self.is_detailed_billing = is_detailed_billing
        self.job_project = project or self.table.project
        self.page_rows = page_rows
        self._retry = DEFAULT_RETRY.with_timeout(retry_seconds)
        self._job_retry = DEFAULT_JOB_RETRY.with_timeout(retry_seconds)
        self._client = bigquery.Client(
            project=self.job_project,
            credentials=credentials,
            client_options={"api_endpoint": api_endpoint} if api_endpoint else None,
        )

    def versions(self, start: date, end: date) -> dict[date, str]:
        """Per usage day (UTC) in [start, end) holding rows: its latest ``export_time`` and row count."""
        sql = (
            "SELECT DATE(usage_start_time) AS usage_day, MAX(export_time) AS latest_export, COUNT(*) AS row_count\n"
            f"FROM {self.table.sql_name}\nWHERE {WINDOW}\nGROUP BY usage_day"
        )
        answer = self._guard(lambda: self._query(sql, start, end).to_arrow(create_bqstorage_client=False))
        days = answer.column("usage_day").to_pylist()
        latest = answer.column("latest_export").to_pylist()
        counts = answer.column("row_count").to_pylist()
        return {
            day: f"{when.astimezone(UTC).isoformat()}|{count}"
            for day, when, count in zip(days, latest, counts, strict=True)
        }

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        """The rows with ``usage_start_time`` in [start, end), one normalized table per page of results."""
        columns = QUERY_COLUMNS + (DETAILED_COLUMNS if self.is_detailed_billing else "")
        sql = f"SELECT{columns}\nFROM {self.table.sql_name}\nWHERE {WINDOW}"
        rows = self._guard(lambda: self._query(sql, start, end))
        pages = iter(self._guard(lambda: rows.to_arrow_iterable(bqstorage_client=None)))

        def fetched() -> Iterator[pa.RecordBatch]:
            while (page := self._guard(lambda: next(pages, None))) is not None:
                if page.num_rows:
                    yield page

        # The next page is fetched while the previous ones are normalised.
        yield from normalized_in_order(lambda page: normalize(page, self.is_detailed_billing), fetched())

    def close(self) -> None:
        self._client.close()

    def _query(self, sql: str, start: date, end: date) -> Any:
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter("start", "TIMESTAMP", day_start(start)),
                bigquery.ScalarQueryParameter("end", "TIMESTAMP", day_start(end)),
            ]
        )
        # job_retry=None here: the client would otherwise wrap jobs.insert in a retry of its own lasting 10 minutes
        # whatever ``retry`` says; a failed job is still retried within ``retry_seconds`` by result().
        job = self._client.query(sql, job_config=config, retry=self._retry, job_retry=None)
        return job.result(page_size=self.page_rows, retry=self._retry, job_retry=self._job_retry)

    def _guard(self, call: Callable[[], T]) -> T:
        """``call()``, with BigQuery's failures turned into import failures that say what to change."""
        try:
            return call()
        except api_exceptions.GoogleAPICallError as error:
            raise self._failure(error) from None
        except api_exceptions.RetryError:
            raise TransientImportError(
                f"BigQuery kept failing while reading `bq_uri` {self.bq_uri}; the import is retried automatically."
            ) from None
        except google.auth.exceptions.TransportError:
            raise TransientImportError(
                "Google's token endpoint could not be reached; the import is retried automatically."
            ) from None
        except google.auth.exceptions.RefreshError as error:
            raise TerminalImportError(
                f"Google refused the tenant's service-account key ({_refusal(error)}): the key may have been "
                "deleted or disabled; set a working one with `costory-control-plane tenants set-google-key`."
            ) from None
        except (requests.ConnectionError, requests.Timeout):
            raise TransientImportError("BigQuery could not be reached; the import is retried automatically.") from None

    def _failure(self, error: api_exceptions.GoogleAPICallError) -> TerminalImportError | TransientImportError:
        reasons = {str(e.get("reason")) for e in (error.errors or []) if isinstance(e, Mapping)}
        detail = _api_message(error)
        if isinstance(error, api_exceptions.Forbidden) and reasons & {"rateLimitExceeded", "quotaExceeded"}:
            return TransientImportError(
                f"BigQuery refused the query for a quota ({detail}); the import is retried automatically."
            )
        if isinstance(error, api_exceptions.Unauthorized):
            return TerminalImportError(
                f"BigQuery did not accept the tenant's Google credential (HTTP 401: {detail}); check the tenant's "
                "service-account key, or set a new one with `costory-control-plane tenants set-google-key`."
            )
        if isinstance(error, api_exceptions.Forbidden):
            return TerminalImportError(
                f"BigQuery denied access to `bq_uri` {self.bq_uri} (HTTP {error.code}: {detail}). Grant the tenant's "
                f"service account (data source `costory_service_account`) BigQuery Data Viewer "
                f"(roles/bigquery.dataViewer) on the dataset {self.table.project}.{self.table.dataset}, and BigQuery "
                f"Job User (roles/bigquery.jobUser) on the project {self.job_project}, where the queries run."
            )
        if isinstance(error, api_exceptions.NotFound):
            return TerminalImportError(
                f"BigQuery found no table `bq_uri` {self.bq_uri} (HTTP 404: {detail}). Check the project, dataset "
                "and table names (the export table is created by the first export after it is enabled), and that "
                "the service account can see the dataset."
            )
        if isinstance(error, api_exceptions.TooManyRequests | api_exceptions.ServerError):
            return TransientImportError(
                f"BigQuery answered HTTP {error.code} ({detail}); the import is retried automatically."
            )
        if isinstance(error, api_exceptions.BadRequest) and self.is_detailed_billing and "resource" in detail:
            return TerminalImportError(
                f"`bq_uri` {self.bq_uri} has no `resource` column ({detail}): it is not a detailed export table; "
                "set `is_detailed_billing` to false or `bq_uri` to the detailed table."
            )
        return TerminalImportError(
            f"BigQuery rejected the query on `bq_uri` {self.bq_uri} (HTTP {error.code}: {detail}); check that it is "
            "a Cloud Billing export table."
        )


def normalize(page: pa.RecordBatch | pa.Table, is_detailed_billing: bool) -> pa.Table:
    """One page of query results as SOURCE_SCHEMA rows.

    1. Costs: the exported text parsed as decimals; EffectiveCost adds the row's credits (negative), summed
       exactly.
    2. Low-cardinality text (cost type, invoice month, SKU) is computed once per distinct value through its
       dictionary.
    3. Tags: resource labels, then project labels (`projectLabel/<key>`), then system labels
       (`systemLabel/<key>`), one map per row built from the flattened lists by offset arithmetic.
    """
    if isinstance(page, pa.Table):
        page = pa.RecordBatch.from_arrays([column.combine_chunks() for column in page.columns], schema=page.schema)
    rows = page.num_rows
    try:
        cost = _money(page.column("cost"), "cost")
        credits = _credit_sums(page.column("credit_amounts"))
        effective = money_column(pc.add_checked(cost, pc.fill_null(credits, pa.scalar(0, MONEY))), "cost + credits")
    except NotAnAmount as error:
        raise Quarantine(f"{error}: check the export table") from None

    cost_type = page.column("cost_type")
    charge_category = _per_distinct(cost_type, _charge_categories)
    billing_period = _per_distinct(page.column("invoice_month"), _month_starts)
    if billing_period.null_count:  # no invoice month: the usage month
        usage_month = pc.floor_temporal(pc.cast(page.column("usage_start_time"), TIMESTAMP), unit="month")
        billing_period = pc.coalesce(billing_period, usage_month)
    sku = page.column("sku_description")
    skus = _distinct(sku)  # model and token type both come from the SKU: encoded once
    model = pc.take(_gemini_models(skus.dictionary), skus.indices)
    token_type = pc.take(_token_types(skus.dictionary), skus.indices)
    unit = page.column("usage_unit")
    token_unit = _per_distinct(unit, lambda units: _token_units(pc.utf8_lower(units)))
    is_tokens = pc.fill_null(pc.is_in(token_type, pa.array(["input", "output", "cache_read"])), False)
    consumed_unit = pc.if_else(pc.and_(is_tokens, pc.is_valid(token_unit)), token_unit, unit)

    columns: dict[str, Any] = {
        "ChargePeriodStart": page.column("usage_start_time"),
        "ChargePeriodEnd": page.column("usage_end_time"),
        "BillingPeriodStart": billing_period,
        "BilledCost": cost,
        "EffectiveCost": effective,
        "BillingCurrency": page.column("currency"),
        "Provider": pa.repeat(PROVIDER, rows),
        "ServiceName": page.column("service_description"),
        "ChargeCategory": charge_category,
        "SubAccountId": page.column("project_id"),
        "SubAccountName": page.column("project_name"),
        "BillingAccountId": page.column("billing_account_id"),
        "RegionId": page.column("region"),
        "ConsumedQuantity": page.column("usage_amount"),
        "ConsumedUnit": consumed_unit,
        "Tags": _tags(
            [
                ("", page.column("labels")),
                (PROJECT_LABEL_PREFIX, page.column("project_labels")),
                (SYSTEM_LABEL_PREFIX, page.column("system_labels")),
            ],
            rows,
        ),
        "x_ProductCode": page.column("service_id"),
        "x_UsageType": sku,
        "x_LineItemType": cost_type,
        "x_Model": model,
        "x_TokenType": token_type,
    }
    if is_detailed_billing:
        columns["ResourceId"] = page.column("resource_global_name")
        columns["ResourceName"] = page.column("resource_name")
    return source_table(columns, rows)


def _money(text: pa.Array, column: str) -> pa.Array:
    """``money_column``, with the common case cast directly: text of at most 12 decimals below 10^16 is exactly
    what the cast reads (anything else fails it and goes the careful way). Four times faster on export costs."""
    try:
        return pc.cast(text, MONEY)
    except pa.ArrowInvalid:
        return money_column(text, column)


def _credit_sums(amounts: pa.Array) -> pa.Array:
    """Each row's credits added up exactly (null where it has none)."""
    rows = len(amounts)
    flat = pc.list_flatten(amounts)
    if len(flat) == 0:
        return pa.nulls(rows, MONEY)
    parents = pc.list_parent_indices(amounts)
    sums = (
        pa.table({"row": parents, "amount": _money(flat, "credits.amount").cast(pa.decimal128(38, 12))})
        .group_by("row")
        .aggregate([("amount", "sum")])
    )
    where = np.full(rows, -1, dtype=np.int64)
    where[sums.column("row").to_numpy()] = np.arange(sums.num_rows)
    picked = pc.take(sums.column("amount_sum"), pa.array(where, mask=where < 0))
    return money_column(picked, "credits.amount")


def _distinct(values: pa.Array) -> pa.DictionaryArray:
    return values if pa.types.is_dictionary(values.type) else pc.dictionary_encode(values)


def _per_distinct(values: pa.Array, compute: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """``compute`` applied to the distinct values only, spread back over the rows."""
    encoded = _distinct(values)
    return pc.take(compute(encoded.dictionary), encoded.indices)


def _charge_categories(cost_types: pa.Array) -> pa.Array:
    known = pa.array(list(CHARGE_CATEGORIES))
    found = pc.index_in(cost_types, value_set=known)
    return pc.fill_null(pc.take(pa.array(list(CHARGE_CATEGORIES.values())), found), "Usage")


def _month_starts(months: pa.Array) -> pa.Array:
    """`YYYYMM` -> the month's first instant (UTC); null when the text is not a month."""
    valid = pc.match_substring_regex(months, r"^\d{6}$")
    texts = pc.if_else(valid, pc.binary_join_element_wise(months, "01", ""), pa.scalar(None, pa.string()))
    return pc.cast(pc.strptime(texts, format="%Y%m%d", unit="us", error_is_null=True), TIMESTAMP)


def _gemini_models(skus: pa.Array) -> pa.Array:
    """ "Gemini 2.5 Flash Lite …" -> "gemini-2.5-flash-lite" (the model id as the Gemini APIs spell it)."""
    parts = pc.extract_regex(skus, _GEMINI_MODEL)
    tier = pc.replace_substring(pc.utf8_lower(pc.struct_field(parts, "tier")), " ", "-")
    return pc.binary_join_element_wise("gemini", pc.struct_field(parts, "version"), tier, "-")


def _token_types(skus: pa.Array) -> pa.Array:
    is_gemini = pc.match_substring_regex(skus, _GEMINI_MODEL)
    kind = pa.nulls(len(skus), pa.string())
    for fragment, token_type in reversed(_TOKEN_SKUS):
        kind = pc.if_else(pc.match_substring(skus, fragment), token_type, kind)
    return pc.if_else(is_gemini, kind, pa.scalar(None, pa.string()))


def _token_units(units: pa.Array) -> pa.Array:
    found = pc.index_in(units, value_set=pa.array(list(_TOKEN_UNITS)))
    return pc.take(pa.array(list(_TOKEN_UNITS.values())), found)


def _tags(sources: list[tuple[str, pa.Array]], rows: int) -> pa.Array:
    """The rows' key/value lists (each key with its prefix) merged into one map per row, in the given order.

    1. Each flattened entry's place in the merged map is its row's merged offset, plus the lengths of the
       earlier sources' lists in that row, plus its index within its own list.
    2. Keys are few: prefixed once per distinct key (through a dictionary), and spread to their places as
       integers before the text is copied once. Values are taken to their places from the sources as they are.
    """
    lengths = [pc.fill_null(pc.list_value_length(values), 0).to_numpy().astype(np.int64) for _, values in sources]
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.sum(lengths, axis=0), out=offsets[1:])
    total = int(offsets[-1])
    order = np.empty(total, dtype=np.int64)
    key_indices: list[np.ndarray] = []
    dictionaries: list[pa.Array] = []
    items: list[pa.Array] = []
    before = np.zeros(rows, dtype=np.int64)
    taken = known_keys = 0
    for (prefix, values), length in zip(sources, lengths, strict=True):
        flat = pc.list_flatten(values)
        count = len(flat)
        if count:
            parents = pc.list_parent_indices(values).to_numpy().astype(np.int64)
            starts = np.cumsum(length) - length
            order[offsets[parents] + before[parents] + (np.arange(count) - starts[parents])] = taken + np.arange(count)
            encoded = pc.dictionary_encode(pc.struct_field(flat, "key"))
            dictionary = encoded.dictionary.cast(pa.string())
            dictionaries.append(pc.binary_join_element_wise(prefix, dictionary, "") if prefix else dictionary)
            key_indices.append(encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64) + known_keys)
            items.append(pc.struct_field(flat, "value").cast(pa.string()))
            taken += count
            known_keys += len(dictionary)
        before += length
    map_offsets = pa.array(offsets, pa.int32())
    if total == 0:
        return pa.MapArray.from_arrays(map_offsets, pa.array([], pa.string()), pa.array([], pa.string()))
    keys = pc.take(pa.concat_arrays(dictionaries), pa.array(np.concatenate(key_indices)[order]))
    values = items[0] if len(items) == 1 else pa.chunked_array(items)
    placed = pc.take(values, pa.array(order))
    return pa.MapArray.from_arrays(
        map_offsets, keys, placed.combine_chunks() if isinstance(placed, pa.ChunkedArray) else placed
    )


def _api_message(error: api_exceptions.GoogleAPICallError) -> str:
    """What BigQuery said, on one line and cut short (it never holds the credential)."""
    first = next((e.get("message") for e in (error.errors or []) if isinstance(e, Mapping)), None)
    message = str(first or error.message or type(error).__name__)
    return " ".join(message.split())[:300]


def _refusal(error: google.auth.exceptions.RefreshError) -> str:
    first = str(error.args[0]) if error.args else type(error).__name__
    return re.sub(
        r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*", "<redacted>", first.splitlines()[0] if first else ""
    )[:200]
