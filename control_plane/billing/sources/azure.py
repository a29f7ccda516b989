"""Azure Cost Management exports -> the cost table: the actual-cost and the amortized-cost export a customer
delivers to a blob container, read through a container SAS URL (read + list).

1. Runs are found through their ``manifest.json`` (never through folder names: Microsoft's two descriptions of
   the folder layout disagree). Each manifest names its run (``runInfo``: runId, startDate, endDate,
   submittedTime) and its data blobs (``blobs[].blobName``).
2. Month-to-date exports overwrite: for each day, the run submitted last among those covering it wins, per
   export (actual, amortized).
3. Winning blobs are downloaded to a temporary file one at a time and read in bounded batches (Parquet row
   groups through ``imports.guards``; gzipped CSV through ``pyarrow.csv.open_csv``), keeping the rows of the
   days the run won.
4. Columns are resolved case-insensitively (EA PascalCase, MCA camelCase) and mapped column by column with
   pyarrow compute; text needing parsing (dates, tags, meters, units) is parsed once per distinct value.

Actual rows carry ``BilledCost`` = cost and ``EffectiveCost`` = 0; amortized rows ``BilledCost`` = 0 and
``EffectiveCost`` = cost, so over any grouping sum(BilledCost) is the invoice and sum(EffectiveCost) the
amortized cost.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import gzip
import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContainerClient

from control_plane.billing.schema import MONEY, TIMESTAMP, source_table
from control_plane.billing.sources.common import (
    NotAnAmount,
    blank_to_null,
    each_day,
    money_column,
    normalized_in_order,
)
from control_plane.imports import guards
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError

log = logging.getLogger(__name__)

PROVIDER = "Microsoft Azure"
MANIFEST = "manifest.json"
CSV_BLOCK_BYTES = 8 << 20
"""Decoded CSV text per batch (about 30,000 export rows)."""
AI_METER_CATEGORIES = ("azure openai", "cognitive services", "foundry models")


class CostKind(enum.Enum):
    ACTUAL = "actual"
    AMORTIZED = "amortized"


# Canonical column -> the names it goes by (lowercase): EA PascalCase and MCA camelCase compare equal once
# lowercased; older and MCA-only spellings are listed after.
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "usagedatetime"),
    "cost": ("costinbillingcurrency", "cost", "pretaxcost"),
    "currency": ("billingcurrencycode", "billingcurrency", "currency"),
    "meter_category": ("metercategory",),
    "meter_subcategory": ("metersubcategory",),
    "meter_name": ("metername",),
    "resource_id": ("resourceid", "instanceid", "instancename"),
    "tags": ("tags",),
    "subscription_id": ("subscriptionid", "subscriptionguid"),
    "subscription_name": ("subscriptionname",),
    "location": ("resourcelocation", "location"),
    "charge_type": ("chargetype",),
    "quantity": ("quantity", "usagequantity"),
    "unit": ("unitofmeasure",),
    "consumed_service": ("consumedservice",),
    "billing_account_id": ("billingaccountid",),
    "billing_period_start": ("billingperiodstartdate",),
}
REQUIRED = ("date", "cost")

# Azure ChargeType -> FOCUS ChargeCategory; a missing ChargeType is usage (usage-only exports have none),
# any other type an Adjustment.
CHARGE_CATEGORIES = {
    "usage": "Usage",
    "purchase": "Purchase",
    "refund": "Credit",
    "tax": "Tax",
    "adjustment": "Adjustment",
    "unusedreservation": "Adjustment",
    "unusedsavingsplan": "Adjustment",
    "roundingadjustment": "Adjustment",
}

# "gpt 4o 0513 Input global Tokens", "gpt-4o-mini-0718-Inp-glbl", "o1 cached Input regional Tokens": the model
# is what precedes the first token-kind word.
MODEL_PATTERN = r"(?i)^\s*(?P<model>.*?\S)[\s_-]+(?:cached|cchd|cache|input|inp|output|outp|opt)(?:\b|[\s_-]|$)"
CACHED_PATTERN = r"(?i)(?:^|[\s_-])(?:cached|cchd|cache)(?:[\s_-]|$)"
OUTPUT_PATTERN = r"(?i)(?:^|[\s_-])(?:output|outp|opt)(?:[\s_-]|$)"
INPUT_PATTERN = r"(?i)(?:^|[\s_-])(?:input|inp)(?:[\s_-]|$)"
UNIT_PATTERN = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)?\s*(k|m|thousand|million)?\b", re.IGNORECASE)
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}


@dataclass(frozen=True)
class ExportRun:
    """One run of one export, as its manifest describes it."""

    kind: CostKind
    manifest: str
    run_id: str
    submitted: datetime
    first_day: date
    last_day: date
    """Inclusive: the run covers first_day..last_day."""
    blobs: tuple[str, ...]
    """The data blobs' names in the container, in manifest order."""
    fingerprint: str
    """The manifest's and the data blobs' ETags, hashed: changes when any of them is rewritten."""


class AzureExportReader:
    """The ``SourceReader`` of a customer's two Cost Management exports (actual and amortized cost)."""

    provider = PROVIDER

    def __init__(
        self,
        storage_account_name: str,
        container_name: str,
        actuals_path: str,
        amortized_path: str,
        sas_url: str,
        *,
        retry_total: int = 3,
        work_dir: str | Path | None = None,
    ):
        self.storage_account_name = storage_account_name
        self.container_name = container_name
        self.paths = {CostKind.ACTUAL: _folder(actuals_path), CostKind.AMORTIZED: _folder(amortized_path)}
        self._endpoint = _check_sas_url(sas_url, storage_account_name, container_name)
        _check_paths(self.paths)
        self._container = ContainerClient.from_container_url(sas_url, retry_total=retry_total)
        self._work_dir = work_dir
        self._listing: dict[str, str] = {}
        """The last listing of the two paths: blob name -> ETag."""
        self._manifests: dict[tuple[str, str], dict[str, Any]] = {}
        """Parsed manifests by (blob name, ETag): a manifest is downloaded again only when rewritten."""

    def versions(self, start: date, end: date) -> dict[date, str]:
        winners = self._winners(start, end)
        result: dict[date, str] = {}
        for day in each_day(start, end):
            actual, amortized = winners[CostKind.ACTUAL].get(day), winners[CostKind.AMORTIZED].get(day)
            if actual is None and amortized is None:
                continue
            digest = hashlib.sha256(
                f"{actual.fingerprint if actual else '-'}|{amortized.fingerprint if amortized else '-'}".encode()
            ).hexdigest()[:12]
            result[day] = f"{actual.run_id if actual else '-'}|{amortized.run_id if amortized else '-'}|{digest}"
        return result

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        winners = self._winners(start, end)
        for kind in CostKind:
            by_run: dict[ExportRun, list[date]] = {}
            for day, run in sorted(winners[kind].items()):
                by_run.setdefault(run, []).append(day)
            for run, days in by_run.items():
                for blob in run.blobs:
                    yield from self._read_blob(run, blob, days)

    def _read_blob(self, run: ExportRun, blob: str, days: list[date]) -> Iterator[pa.Table]:
        with tempfile.TemporaryDirectory(dir=self._work_dir, prefix="azure-export-") as folder:
            local = Path(folder) / "blob"
            self._download(blob, local)
            yield from read_export_file(local, run.kind, days, key=blob)

    def _download(self, blob: str, local: Path) -> None:
        """The blob's bytes into ``local``, streamed in chunks; a blob rewritten since it was listed is a
        transient failure (the next import reads the new run)."""
        etag = self._listing.get(blob)
        with self._storage_errors(f"downloading {blob}"), local.open("wb") as out:
            stream = self._container.download_blob(
                blob, etag=etag, match_condition=MatchConditions.IfNotModified if etag else None
            )
            stream.readinto(out)

    def _winners(self, start: date, end: date) -> dict[CostKind, dict[date, ExportRun]]:
        """For each export and each day in [start, end) some run covers, the run submitted last."""
        self._listing = self._list()
        winners: dict[CostKind, dict[date, ExportRun]] = {kind: {} for kind in CostKind}
        for kind in CostKind:
            runs = sorted(self._runs(kind), key=lambda run: (run.submitted, run.run_id))
            for run in runs:  # later runs overwrite earlier ones
                for day in each_day(max(start, run.first_day), min(end, run.last_day + timedelta(days=1))):
                    winners[kind][day] = run
        return winners

    def _list(self) -> dict[str, str]:
        """Every blob under the two paths: name -> ETag."""
        listing: dict[str, str] = {}
        for path in self.paths.values():
            with self._storage_errors(f"listing {path or 'the container'}"):
                for item in self._container.list_blobs(name_starts_with=path or None):
                    listing[item.name] = item.etag
        return listing

    def _runs(self, kind: CostKind) -> list[ExportRun]:
        listing = self._listing
        prefix = self.paths[kind]
        runs = []
        for name, etag in listing.items():
            if not name.startswith(prefix) or name.rsplit("/", 1)[-1].lower() != MANIFEST:
                continue
            manifest = self._manifest(name, etag)
            runs.append(self._run(kind, name, etag, manifest, listing))
        return runs

    def _manifest(self, name: str, etag: str) -> dict[str, Any]:
        cached = self._manifests.get((name, etag))
        if cached is not None:
            return cached
        with self._storage_errors(f"downloading {name}"):
            text = self._container.download_blob(name).readall()
        try:
            manifest = json.loads(text)
        except ValueError:
            raise Quarantine(
                "The manifest is not JSON. Run the export again so that Cost Management rewrites it.", key=name
            ) from None
        if not isinstance(manifest, dict):
            raise Quarantine("The manifest is not a JSON object. Run the export again.", key=name)
        self._manifests[(name, etag)] = manifest
        return manifest

    def _run(
        self, kind: CostKind, name: str, etag: str, manifest: dict[str, Any], listing: dict[str, str]
    ) -> ExportRun:
        """The run a manifest describes, checked: the export type matches the path it was found under, and every
        data blob it lists is in the container."""
        config = manifest.get("exportConfig")
        config = config if isinstance(config, dict) else {}
        run_info = manifest.get("runInfo")
        blobs = manifest.get("blobs")
        if not isinstance(run_info, dict) or not isinstance(blobs, list):
            raise Quarantine(
                "The manifest has no `runInfo` or no `blobs`: not a Cost Management export manifest.", key=name
            )
        _check_export_type(kind, str(config.get("type") or ""), name)
        try:
            run_id = str(run_info["runId"])
            submitted = _instant(run_info["submittedTime"])
            first_day = _instant(run_info["startDate"]).date()
            last_day = _instant(run_info["endDate"]).date()
        except (KeyError, TypeError, ValueError):
            raise Quarantine(
                "The manifest's `runInfo` lacks a readable runId, submittedTime, startDate or endDate. Run the export "
                "again.",
                key=name,
            ) from None
        if last_day < first_day:
            raise Quarantine(f"The manifest's run ends ({last_day}) before it starts ({first_day}).", key=name)
        folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        names = []
        for entry in blobs:
            blob_name = entry.get("blobName") if isinstance(entry, dict) else None
            if not isinstance(blob_name, str) or not blob_name:
                raise Quarantine("A `blobs` entry of the manifest has no `blobName`.", key=name)
            # blobName is container-relative; accept one relative to the manifest's folder too.
            found = next((n for n in (blob_name.lstrip("/"), folder + blob_name) if n in listing), None)
            if found is None:
                raise Quarantine(
                    f"The manifest lists {blob_name}, which is not in the container. Run the export again.", key=name
                )
            names.append(found)
        fingerprint = hashlib.sha256("|".join([etag, *(listing[n] for n in names)]).encode()).hexdigest()[:16]
        return ExportRun(kind, name, run_id, submitted, first_day, last_day, tuple(names), fingerprint)

    @contextlib.contextmanager
    def _storage_errors(self, doing: str) -> Iterator[None]:
        """Storage failures as import failures. Messages are written here, never taken from the SDK (its text
        may quote the request), and name `sas_url` without its query, which is the secret."""
        where = f"container `{self.container_name}` of storage account `{self.storage_account_name}`"
        try:
            yield
        except ClientAuthenticationError as error:
            raise self._refused(where, _error_code(error) or None) from None
        except ResourceModifiedError:
            raise TransientImportError(
                f"A blob of the Azure export in {where} was rewritten while it was read ({doing}); the import is "
                "retried automatically."
            ) from None
        except ResourceNotFoundError as error:
            if _error_code(error) == "ContainerNotFound":
                raise TerminalImportError(
                    f"Azure Storage has no {where}. Check `storage_account_name` and `container_name`, and that "
                    "`sas_url` is a SAS of that container."
                ) from None
            raise TransientImportError(
                f"A blob of the Azure export in {where} disappeared while it was read ({doing}): an export run is "
                "probably overwriting it; the import is retried automatically."
            ) from None
        except HttpResponseError as error:
            status = error.status_code or 0
            if status in (401, 403):
                raise self._refused(where, _error_code(error) or None) from None
            if status == 429 or status >= 500:
                raise TransientImportError(
                    f"Azure Storage answered HTTP {status} while {doing} in {where}; the import is retried "
                    "automatically."
                ) from None
            code = f" {_error_code(error)}" if _error_code(error) else ""
            raise TerminalImportError(f"Azure Storage rejected {doing} in {where} (HTTP {status}{code}).") from None
        except (ServiceRequestError, ServiceResponseError, AzureError) as error:
            raise TransientImportError(
                f"Azure Storage could not be reached at {self._endpoint} ({type(error).__name__}) while {doing}; "
                "the import is retried automatically."
            ) from None

    def _refused(self, where: str, code: str | None) -> TerminalImportError:
        detail = f" ({code})" if code else ""
        return TerminalImportError(
            f"Azure Storage refused the `sas_url` for {where}{detail}. The SAS may have expired or been revoked, or "
            "lack the read and list permissions: create a new container SAS with read and list permissions and a "
            "later expiry, and set `sas_url`."
        )


def read_export_file(path: str | Path, kind: CostKind, days: Iterable[date], *, key: str) -> Iterator[pa.Table]:
    """A downloaded export blob's rows of ``days`` as SOURCE_SCHEMA tables, in bounded batches. Parquet, gzipped
    CSV or plain CSV (told apart by their first bytes). ``key`` names the blob in quarantine reasons."""
    wanted = pa.array(sorted(set(days)), pa.date32())
    with open(path, "rb") as probe:
        head = probe.read(4)
    if head == b"PAR1":
        batches = _parquet_batches(Path(path), key)
    elif head[:2] == b"\x1f\x8b" or key.lower().endswith((".csv", ".csv.gz")):
        batches = _csv_batches(Path(path), gzipped=head[:2] == b"\x1f\x8b", key=key)
    else:
        raise Quarantine(
            "The blob is neither Parquet nor (gzipped) CSV. Export as Parquet (snappy) or CSV (gzip).", key=key
        )
    yield from normalized_in_order(lambda columns: normalize(columns, kind, wanted, key=key), batches)


def _parquet_batches(path: Path, key: str) -> Iterator[dict[str, pa.Array]]:
    try:
        file = guards.open_parquet(guards.as_input(str(path)))
        names = _resolve(file.schema_arrow.names, key)
        for batch in guards.batches(file, file_size=path.stat().st_size, columns=list(names.values())):
            yield {canonical: batch.column(name) for canonical, name in names.items()}
    except Quarantine as quarantine:
        raise Quarantine(quarantine.reason, key=key) from None


def _csv_batches(path: Path, *, gzipped: bool, key: str) -> Iterator[dict[str, pa.Array]]:
    """Every column read as text (costs are parsed as decimals from their text, never through a float)."""
    try:
        opener = gzip.open if gzipped else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
            header = next(csv.reader([text.readline()]), [])
    except (OSError, UnicodeDecodeError, EOFError, csv.Error):
        raise Quarantine("The blob is not readable (gzipped) CSV text. Run the export again.", key=key) from None
    names = _resolve(header, key)
    options = pa_csv.ConvertOptions(
        include_columns=list(names.values()),
        column_types={name: pa.string() for name in names.values()},
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        stream = pa.input_stream(str(path), compression="gzip" if gzipped else None)
        reader = pa_csv.open_csv(
            stream, read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES), convert_options=options
        )
        for batch in reader:
            yield {canonical: batch.column(name) for canonical, name in names.items()}
    except (pa.ArrowInvalid, OSError) as error:
        raise Quarantine(f"The CSV is damaged ({guards._detail(error)}). Run the export again.", key=key) from None


def _resolve(names: list[str], key: str) -> dict[str, str]:
    """Canonical column -> the file's column name, for the columns the file has."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(name.strip().lstrip("\ufeff").lower(), name)
    resolved = {}
    for canonical, aliases in ALIASES.items():
        found = next((by_lower[alias] for alias in aliases if alias in by_lower), None)
        if found is not None:
            resolved[canonical] = found
    missing = [ALIASES[c][0] for c in REQUIRED if c not in resolved]
    if missing:
        raise Quarantine(
            f"Not a Cost Management cost export: no column {' or '.join(missing)} (in any casing). Export "
            "'Cost and usage details (actual)' or '(amortized)'.",
            key=key,
        )
    return resolved


def normalize(columns: dict[str, pa.Array], kind: CostKind, days: pa.Array, *, key: str) -> pa.Table:
    """One batch of export columns (canonical names, as read: text possibly dictionary-encoded) as SOURCE_SCHEMA
    rows, keeping the rows whose date is in ``days``."""
    # 1. Dates, and the rows of the wanted days.
    day = _dates(columns["date"], "Date", key)
    keep = pc.fill_null(pc.is_in(day, value_set=days), False)
    if not pc.all(keep).as_py():
        day = day.filter(keep)
        columns = {name: values.filter(keep) for name, values in columns.items()}
    rows = len(day)
    if not rows:
        return SOURCE_SCHEMA_EMPTY

    def text(name: str) -> pa.Array:
        values = columns.get(name)
        if values is None:
            return pa.nulls(rows, pa.string())
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        if pa.types.is_dictionary(values.type):  # blanks nulled once per distinct value, then decoded
            return pc.take(blank_to_null(values.dictionary.cast(pa.string())), values.indices)
        return blank_to_null(values.cast(pa.string()))

    # 2. Amounts: the cost lands in BilledCost (actual) or EffectiveCost (amortized); the other is 0.
    try:
        cost = money_column(columns["cost"], "CostInBillingCurrency")
    except NotAnAmount as error:
        raise Quarantine(f"{error}. Run the export again.", key=key) from None
    zero = pa.repeat(pa.scalar(Decimal(0), MONEY), rows)

    # 3. Periods, once per distinct day (a month has at most 31).
    distinct_days = pc.dictionary_encode(day)
    first_instants = distinct_days.dictionary.cast(TIMESTAMP)
    start = pc.take(first_instants, distinct_days.indices)
    end = pc.take(pc.add(first_instants, pa.scalar(timedelta(days=1), pa.duration("us"))), distinct_days.indices)
    period = pc.take(pc.floor_temporal(first_instants, unit="month"), distinct_days.indices)
    if "billing_period_start" in columns:
        stated = _dates(columns["billing_period_start"], "BillingPeriodStartDate", key)
        period = pc.coalesce(stated.cast(TIMESTAMP), period)

    # 4. Meters: Azure OpenAI token meters name the model and the token type; their unit (1K, 1M) says how
    #    many tokens a quantity of 1 is.
    subcategory, meter = text("meter_subcategory"), text("meter_name")
    quantity = _quantity(columns.get("quantity"), rows)
    unit = text("unit")
    model, token_type = _ai_meter(columns, rows)
    tokens = pc.and_(pc.is_valid(model), pc.is_valid(token_type))
    if pc.any(tokens).as_py():
        factor = _per_distinct(columns.get("unit"), _unit_factors, pa.float64(), rows)
        quantity = pc.if_else(tokens, pc.multiply(quantity, pc.coalesce(factor, 1.0)), quantity)
        unit = pc.if_else(tokens, pa.scalar("Tokens"), unit)
        none = pa.scalar(None, pa.string())
        model, token_type = pc.if_else(tokens, model, none), pc.if_else(tokens, token_type, none)
    charge_category = _per_distinct(columns.get("charge_type"), _charge_category, pa.string(), rows)

    table = source_table(
        {
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "BillingPeriodStart": period,
            "BilledCost": cost if kind is CostKind.ACTUAL else zero,
            "EffectiveCost": zero if kind is CostKind.ACTUAL else cost,
            "BillingCurrency": text("currency"),
            "Provider": pa.repeat(pa.scalar(PROVIDER), rows),
            "ServiceName": text("meter_category"),
            "ServiceCategory": text("consumed_service"),
            "ChargeCategory": pc.fill_null(charge_category, "Usage"),
            "SubAccountId": text("subscription_id"),
            "SubAccountName": text("subscription_name"),
            "BillingAccountId": text("billing_account_id"),
            "ResourceId": text("resource_id"),
            "ResourceName": _per_distinct(columns.get("resource_id"), _last_segment, pa.string(), rows),
            "RegionId": text("location"),
            "ConsumedQuantity": quantity,
            "ConsumedUnit": unit,
            "Tags": _per_distinct(columns.get("tags"), parse_tags, TAGS, rows),
            "x_UsageType": pc.coalesce(pc.binary_join_element_wise(subcategory, meter, " / "), subcategory, meter),
            "x_LineItemType": text("charge_type"),
            "x_Model": model,
            "x_TokenType": token_type,
        },
        rows,
    )
    return table


TAGS = pa.map_(pa.string(), pa.string())
SOURCE_SCHEMA_EMPTY = source_table({}, 0)


def _per_distinct(
    values: pa.Array | None,
    parse: Callable[[pa.Array], pa.Array],
    result_type: pa.DataType,
    rows: int | None = None,
) -> pa.Array:
    """``parse`` applied to a text column once per distinct value when it is dictionary-encoded (Parquet) with
    repeats, else to the values themselves (``parse`` is vectorised either way)."""
    if values is None:
        return pa.nulls(rows or 0, result_type)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type) and 2 * len(values.dictionary) <= len(values):
        return pc.take(parse(values.dictionary.cast(pa.string())), values.indices)
    # Mostly distinct values: parsing them all beats parsing the dictionary and then taking (a map's take is
    # dearer than the parse it saves).
    return parse(values.cast(pa.string()))


def _dates(values: pa.Array, column: str, key: str) -> pa.Array:
    """Export dates as date32: dates, timestamps (UTC), or text in ISO (2024-04-01, 2024-04-01T00:00:00) or US
    (04/01/2024) form. A missing or unreadable date quarantines the blob."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        days = pc.take(_dates(values.dictionary, column, key), values.indices)
    elif pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            values = values.cast(pa.timestamp(values.type.unit, "UTC")).cast(pa.timestamp(values.type.unit))
        days = values.cast(pa.date32())
    elif pa.types.is_date(values.type):
        days = values.cast(pa.date32())
    elif pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        encoded = pc.dictionary_encode(values.cast(pa.string()))
        distinct = pc.replace_substring_regex(pc.utf8_trim_whitespace(encoded.dictionary), r"[T ].*$", "")
        parsed = pc.coalesce(
            pc.strptime(distinct, format="%Y-%m-%d", unit="s", error_is_null=True),
            pc.strptime(distinct, format="%m/%d/%Y", unit="s", error_is_null=True),
        ).cast(pa.date32())
        days = pc.take(parsed, encoded.indices)
        unreadable = pc.and_(pc.is_valid(values), pc.is_null(days))
        if pc.any(unreadable).as_py():
            example = pc.filter(values, unreadable)[0].as_py()
            raise Quarantine(
                f"Column `{column}` holds {example!r}, not a date (YYYY-MM-DD or MM/DD/YYYY). Run the export again.",
                key=key,
            )
    else:
        raise Quarantine(f"Column `{column}` is {values.type}, not dates. Run the export again.", key=key)
    if column == "Date" and days.null_count:
        raise Quarantine(f"{days.null_count} row(s) have no `Date`. Run the export again.", key=key)
    outside, first = guards.days_out_of_range(days)
    if outside:
        raise Quarantine(f"{outside} row(s) dated outside 2000-2099 in `{column}` (e.g. {first}).", key=key)
    return days


def _quantity(values: pa.Array | None, rows: int) -> pa.Array:
    if values is None:
        return pa.nulls(rows, pa.float64())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = blank_to_null(pc.utf8_trim_whitespace(values).cast(pa.string()))
    return values.cast(pa.float64())


def _charge_category(charge_types: pa.Array) -> pa.Array:
    """ChargeCategory of each ChargeType: null where it is null or blank (usage), Adjustment where unknown."""
    kinds = pa.array(list(CHARGE_CATEGORIES), pa.string())
    categories = pa.array(list(CHARGE_CATEGORIES.values()), pa.string())
    lowered = blank_to_null(pc.utf8_lower(pc.utf8_trim_whitespace(charge_types)))
    known = pc.take(categories, pc.index_in(lowered, value_set=kinds))
    return pc.if_else(pc.is_null(lowered), pa.scalar(None, pa.string()), pc.coalesce(known, pa.scalar("Adjustment")))


def _last_segment(resource_ids: pa.Array) -> pa.Array:
    """The resource's name: the last segment of its id (a deployment's name for `…/deployments/<name>`)."""
    parts = pc.split_pattern(pc.utf8_rtrim(resource_ids, characters="/"), "/", max_splits=1, reverse=True)
    offsets = parts.offsets.to_numpy().astype(np.int64)
    present = offsets[1:] > offsets[:-1]
    names = parts.values.take(pa.array(np.where(present, offsets[1:] - 1, 0))) if len(parts.values) else None
    if names is None:
        return pa.nulls(len(resource_ids), pa.string())
    return blank_to_null(pc.if_else(pa.array(present), names, pa.scalar(None, pa.string())))


def _ai_meter(columns: dict[str, pa.Array], rows: int) -> tuple[pa.Array, pa.Array]:
    """(model, token type) of Azure OpenAI / Foundry token meters, from the meter name or else the
    sub-category; null for every other row. The model keeps Azure's spelling ("gpt 4o 0513")."""
    none = pa.nulls(rows, pa.string())
    if "meter_category" not in columns:
        return none, none
    ai = _per_distinct(columns["meter_category"], _is_ai_category, pa.bool_())
    ai = pc.fill_null(ai, False)
    if not pc.any(ai).as_py():
        return none, none
    by_name, by_subcategory = (
        _per_distinct(columns.get(name), _meter_model_and_kind, METER_TYPE, rows)
        for name in ("meter_name", "meter_subcategory")
    )
    named = pc.is_valid(by_name.field("model"))
    model = pc.if_else(named, by_name.field("model"), by_subcategory.field("model"))
    kind = pc.if_else(named, by_name.field("kind"), by_subcategory.field("kind"))
    return pc.if_else(ai, model, none), pc.if_else(ai, kind, none)


def _is_ai_category(categories: pa.Array) -> pa.Array:
    return pc.is_in(pc.utf8_lower(categories), value_set=pa.array(AI_METER_CATEGORIES))


METER_TYPE = pa.struct([("model", pa.string()), ("kind", pa.string())])


def _meter_model_and_kind(meters: pa.Array) -> pa.Array:
    extracted = pc.extract_regex(meters, MODEL_PATTERN)
    model = pc.if_else(pc.is_valid(extracted), extracted.field("model"), pa.scalar(None, pa.string()))
    kind = pc.case_when(
        pc.make_struct(
            pc.fill_null(pc.match_substring_regex(meters, CACHED_PATTERN), False),
            pc.fill_null(pc.match_substring_regex(meters, OUTPUT_PATTERN), False),
            pc.fill_null(pc.match_substring_regex(meters, INPUT_PATTERN), False),
        ),
        pa.scalar("cache_read"),
        pa.scalar("output"),
        pa.scalar("input"),
    )
    kind = pc.if_else(pc.is_valid(model), kind, pa.scalar(None, pa.string()))
    return pa.StructArray.from_arrays([model, kind], fields=list(METER_TYPE))


def _unit_factors(units: pa.Array) -> pa.Array:
    """Tokens per unit of measure: "1K" -> 1000, "1M" / "1 Million Tokens" -> 1,000,000, "1000 Tokens" ->
    1000; null when the unit states no count. Called once per distinct unit (a handful per export)."""
    factors: list[float | None] = []
    for unit in units.to_pylist():
        match = UNIT_PATTERN.match(unit or "")
        if not unit or not match or not (match.group(1) or match.group(2)):
            factors.append(None)
            continue
        count = float(match.group(1).replace(",", "")) if match.group(1) else 1.0
        factors.append(count * SCALES.get((match.group(2) or "").lower(), 1.0))
    return pa.array(factors, pa.float64())


def parse_tags(texts: pa.Array) -> pa.Array:
    """Azure's tag text as a map: JSON objects, with or without their outer braces (`"team": "a","env": "b"`).

    Vectorised: text of the plain shape (quoted keys and values without backslashes, `:` and `,` between) is
    recognised by one regular expression; splitting it on `"` yields [prefix, key, ":", value, ",", key, …],
    so keys sit at pieces 1, 5, 9… and values two pieces after. Any other text goes through ``json`` (one call
    per such text). Blank text and `{}` are null; text that is not a JSON object is kept whole under the key
    "" rather than dropped."""
    texts = texts.cast(pa.string())
    blank = pc.fill_null(pc.match_substring_regex(texts, BLANK_TAGS), True).to_numpy(zero_copy_only=False)
    simple = pc.fill_null(pc.match_substring_regex(texts, SIMPLE_TAGS), False).to_numpy(zero_copy_only=False)
    pieces = pc.split_pattern(texts, '"')
    offsets = pieces.offsets.to_numpy().astype(np.int64)
    pairs = np.where(simple, (np.diff(offsets) - 1) // 4, 0)
    pair_number = np.arange(int(pairs.sum()), dtype=np.int64) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    key_index = pa.array(np.repeat(offsets[:-1], pairs) + 1 + 4 * pair_number)
    keys = pieces.values.take(key_index)
    items = pieces.values.take(pc.add(key_index, 2))
    others = np.flatnonzero(~blank & ~simple)
    if len(others):
        keys, items = _with_json_pairs(keys, items, pairs, others, texts.take(pa.array(others)).to_pylist())
    map_offsets = pa.array(np.concatenate([[0], np.cumsum(pairs)]), pa.int32())
    return pa.MapArray.from_arrays(map_offsets, keys, items, mask=pa.array(pairs == 0)).cast(TAGS)


_QUOTED = r'"[^"\\]*"'
SIMPLE_TAGS = rf"^\s*\{{?\s*{_QUOTED}\s*:\s*{_QUOTED}(?:\s*,\s*{_QUOTED}\s*:\s*{_QUOTED})*\s*\}}?\s*$"
BLANK_TAGS = r"^\s*(?:\{\s*\})?\s*$"


def _with_json_pairs(
    keys: pa.Array, items: pa.Array, pairs: np.ndarray, others: np.ndarray, texts: list[str]
) -> tuple[pa.Array, pa.Array]:
    """The simple rows' (key, value) pairs with those of ``others`` (parsed through ``json``) interleaved in
    row order; ``pairs`` (per row) is updated in place."""
    parsed = [_json_tags(text) for text in texts]
    from_json = np.zeros(len(pairs), dtype=bool)
    from_json[others] = True
    pairs[others] = [len(p) for p in parsed]
    source = np.repeat(from_json, pairs)
    take = np.where(source, np.cumsum(source) - 1 + len(keys), np.cumsum(~source) - 1)
    all_keys = pa.concat_arrays([keys, pa.array([k for p in parsed for k, _ in p], pa.string())])
    all_items = pa.concat_arrays([items, pa.array([v for p in parsed for _, v in p], pa.string())])
    return all_keys.take(pa.array(take)), all_items.take(pa.array(take))


def _json_tags(text: str) -> list[tuple[str, str]]:
    body = text if text.startswith("{") else "{" + text + "}"
    try:
        value = json.loads(body)
    except ValueError:
        return [("", text)]
    if not isinstance(value, dict):
        return [("", text)]
    return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in value.items()]


def _error_code(error: AzureError) -> str:
    """The storage error code (e.g. AuthenticationFailed): a fixed word, safe to show."""
    code = getattr(error, "error_code", None)
    return str(code.value if isinstance(code, enum.Enum) else code or "")


def _check_sas_url(sas_url: str, account: str, container: str) -> str:
    """The SAS URL's endpoint without its query (safe to show); bad input raises naming what to change."""
    try:
        parts = urlsplit(sas_url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
        raise TerminalImportError(
            "`sas_url` is not a URL. Set it to the container's SAS URL: "
            "https://<account>.blob.core.windows.net/<container>?<SAS token>."
        )
    endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}"
    if "sig=" not in parts.query:
        raise TerminalImportError(
            f"`sas_url` ({endpoint}) has no SAS token (its query holds no signature). Generate a container SAS with "
            "read and list permissions and set `sas_url` to the URL including the token."
        )
    segments = [s for s in parts.path.split("/") if s]
    host_account = parts.hostname.split(".")[0] if parts.hostname and ".blob." in parts.hostname else None
    url_account = host_account or (segments[0] if len(segments) >= 2 else None)
    url_container = segments[-1] if segments else None
    if url_container != container or (url_account is not None and url_account != account):
        raise TerminalImportError(
            f"`sas_url` ({endpoint}) is not a SAS of container `{container}` in storage account `{account}`. Set "
            "`storage_account_name` and `container_name` to the account and container the SAS was made for."
        )
    return endpoint


def _folder(path: str) -> str:
    """A blob path as a listing prefix: no leading slash, one trailing slash ("" for the container root)."""
    cleaned = path.strip().strip("/")
    return cleaned + "/" if cleaned else ""


def _check_paths(paths: dict[CostKind, str]) -> None:
    actual, amortized = paths[CostKind.ACTUAL], paths[CostKind.AMORTIZED]
    if actual.startswith(amortized) or amortized.startswith(actual):
        raise TerminalImportError(
            "`actuals_path` and `amortized_path` overlap (one holds the other). Point each at its own export's "
            "folder, e.g. `exports/actual` and `exports/amortized`."
        )


def _check_export_type(kind: CostKind, export_type: str, manifest: str) -> None:
    lowered = export_type.lower()
    attribute = "actuals_path" if kind is CostKind.ACTUAL else "amortized_path"
    if "focus" in lowered:
        raise TerminalImportError(
            f"The export under `{attribute}` ({manifest}) is a FOCUS export; this datasource reads the actual-cost "
            "and amortized-cost exports. Point `actuals_path` and `amortized_path` at those."
        )
    other = "amortized" if kind is CostKind.ACTUAL else "actual"
    if other in lowered:
        raise TerminalImportError(
            f"The export under `{attribute}` ({manifest}) is an {other}-cost export ({export_type}). Swap "
            "`actuals_path` and `amortized_path`, or point each at its own export's folder."
        )


def _instant(value: Any) -> datetime:
    """An ISO 8601 instant from a manifest (UTC when unmarked; fractions past microseconds dropped)."""
    if not isinstance(value, str):
        raise TypeError("not text")
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
