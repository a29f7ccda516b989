"""Run the allocation engine on a tenant's data: cost partitions from the data store, usage from the metrics
tables; keep each dimension's result and its summary.

The engine itself is pure (control_plane/allocation). This module streams each cost partition through it in
bounded batches (`allocate_part`, the kernel both engines run: here one partition after another, or as Ray tasks,
`dimensions.distributed`), writes the parts as they are produced, and folds each batch into the summary
(`dimensions.summary`), so memory does not grow with the size of a month.

A computation writes under a new folder, `allocations/<tenant>/<dimension>/<uuid>/`: `part-NNNNN.parquet` per
cost partition and `summary.parquet`. The dimension's row points at the folder that is served
(`Dimension.allocation_file`); which one is current is decided by the database transaction that changes the
pointer, never by the store (see `dimensions.results`).
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.allocation import VirtualDimension
from control_plane.allocation.engine import CODED_ALLOCATIONS_SCHEMA, Allocator, Tally
from control_plane.allocation.rules import TAG_PREFIX
from control_plane.billing.schema import COST_SCHEMA
from control_plane.billing.store import CostStore
from control_plane.datastore import DataStore
from control_plane.dimensions import summary as summaries
from control_plane.dimensions.definition import MetricSource
from control_plane.metrics.query import metric_series
from control_plane.models import MetricDefinition, MetricsDatasource

CENT = Decimal("0.01")
BATCH_ROWS = 1 << 20
"""Most cost rows handed to the engine at a time: bounds the working memory whatever the size of a month."""
MIN_BATCH_ROWS = 1 << 16
"""Row groups smaller than this are gathered before the engine takes them (each batch has a fixed cost)."""

ALLOCATIONS = "allocations"
SUMMARY_FILE = "summary.parquet"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNIQUE = re.compile(r"[0-9a-f]{32}")


# -- where results live ----------------------------------------------------------------------------------


def tenant_folder(tenant_id: str) -> str:
    """The key prefix of a tenant's allocation results; refuses an id that could leave `allocations/`."""
    if not _SAFE_ID.fullmatch(tenant_id):
        raise ValueError(f"unsafe tenant id {tenant_id!r} for a storage key")
    return f"{ALLOCATIONS}/{tenant_id}"


def new_result_folder(dimension_id: str) -> str:
    """A fresh pointer value: ``<dimension>/<uuid>``, never used before."""
    if not _SAFE_ID.fullmatch(dimension_id):
        raise ValueError(f"unsafe dimension id {dimension_id!r} for a storage key")
    return f"{dimension_id}/{uuid.uuid4().hex}"


@dataclass(frozen=True)
class ResultKeys:
    """The objects of one computation's results."""

    folder: str | None
    """``allocations/<tenant>/<dimension>/<uuid>``: parts and summary (None for a single legacy file)."""
    legacy_file: str | None = None
    """Results written before summaries existed: one Parquet file, no summary."""

    def parts(self, store: DataStore) -> list[str]:
        if self.legacy_file is not None:
            return [self.legacy_file] if store.exists(self.legacy_file) else []
        prefix = f"{self.folder}/"
        return sorted(o.key for o in store.list(self.folder or "") if o.key.startswith(f"{prefix}part-"))

    @property
    def summary(self) -> str | None:
        return f"{self.folder}/{SUMMARY_FILE}" if self.folder else None


def result_keys(tenant_id: str, dimension_id: str, pointer: str | None) -> ResultKeys | None:
    """The objects a dimension's pointer names, or None without a pointer. Only the shapes this module ever
    wrote are accepted: ``<dimension>/<uuid>`` (a folder), and the single files of earlier versions,
    ``<dimension>/<uuid>.parquet`` and ``<dimension>.parquet``."""
    if not pointer:
        return None
    folder, _, name = pointer.rpartition("/")
    base = tenant_folder(tenant_id)
    if folder == dimension_id and _UNIQUE.fullmatch(name):
        return ResultKeys(f"{base}/{pointer}")
    legacy = (not folder and name == f"{dimension_id}.parquet") or (
        folder == dimension_id and name.endswith(".parquet") and _UNIQUE.fullmatch(name[: -len(".parquet")])
    )
    if not legacy:
        raise ValueError(f"allocation results {pointer!r} are not one of dimension {dimension_id!r}")
    return ResultKeys(None, f"{base}/{pointer}")


# -- running the engine ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartJob:
    cost_key: str
    """The cost partition to read."""
    part_key: str | None
    """Where to write its allocations (None: summarise only, for previews)."""


@dataclass
class PartOutcome:
    summary: pa.Table
    tally: Tally
    """What the partition's warnings count (added up over the partitions)."""
    rows: int
    """Cost rows read."""


Kernel = Callable[[PartJob], PartOutcome]
PartRunner = Callable[[Kernel, list[PartJob]], list[PartOutcome]]


def run_here(kernel: Kernel, jobs: list[PartJob]) -> list[PartOutcome]:
    """One partition after another in this process (memory: one batch at a time)."""
    return [kernel(job) for job in jobs]


@dataclass(frozen=True)
class Engine:
    """Where allocations are computed and kept: the data store, and how cost partitions are mapped over the
    kernel (`run_here`, or Ray tasks from `dimensions.distributed`)."""

    store: DataStore
    map_parts: PartRunner = run_here

    @classmethod
    def local(cls, directory: Path) -> Engine:
        """The embedded default: a local directory, computed in this process."""
        return cls(DataStore.local(directory))


@dataclass
class Computed:
    """One computation's outcome."""

    folder: str | None
    """The results' folder key (None when they were not kept)."""
    summary: pa.Table
    warnings: list[str] = field(default_factory=list)
    cost_rows: int = 0

    def totals(self) -> summaries.Summary:
        return summaries.totals(self.summary)


def allocate_part(
    store: DataStore,
    dimension: VirtualDimension,
    usage: Mapping[str, pa.Table],
    window: tuple[date, date] | None,
    job: PartJob,
) -> PartOutcome:
    """The kernel: stream one cost partition through the engine in batches of at most BATCH_ROWS rows, write
    each batch's parts as they come (`job.part_key`), and return the partition's summary. Pure apart from
    the store: what it reads and writes is named by its arguments, so any worker can run it."""
    references = dimension.references()
    names = {"x_RowId", "ChargePeriodStart", "BilledCost", "ConsumedQuantity", *summaries.SUMMARY_COLUMNS}
    names |= {r for r in references if not r.startswith(TAG_PREFIX)}
    if any(r.startswith(TAG_PREFIX) for r in references):
        names.add("Tags")
    columns = [name for name in COST_SCHEMA.names if name in names]
    engine_columns = ["ChargePeriodStart", "BilledCost", *(c for c in columns if c in references or c == "Tags")]
    text = [c for c in columns if pa.types.is_string(COST_SCHEMA.field(c).type)]
    if "Tags" in columns:
        text += ["Tags.key_value.key", "Tags.key_value.value"]
    summariser = summaries.Summariser()
    rows = 0
    writer = (
        store.parquet_writer(job.part_key, CODED_ALLOCATIONS_SCHEMA, use_dictionary=["day", "value", "rule"])
        if job.part_key
        else nullcontext()
    )  # row ids and amounts are nearly all distinct: no dictionary tried for them
    allocator = Allocator(dimension, usage)
    with writer as sink:
        for costs in _batches(_row_groups(store, job.cost_key, columns, text, window)):
            rows += costs.num_rows
            parts = allocator.allocate(costs.select(engine_columns), coded=True)  # row_id: the position
            summariser.add(costs, parts)
            if sink is not None:
                row_ids = costs.column("x_RowId").take(parts.column("row_id"))
                sink.write_table(parts.set_column(0, CODED_ALLOCATIONS_SCHEMA.field("row_id"), row_ids))
            del costs, parts
    return PartOutcome(summariser.result(), allocator.tally, rows)


def _row_groups(
    store: DataStore, key: str, columns: list[str], text: list[str], window: tuple[date, date] | None
) -> Iterator[pa.RecordBatch]:
    """The partition's rows one Parquet row group at a time, strings dictionary-encoded as stored: what is held
    is a row group, whatever the partition's size (a dataset scanner's read-ahead held gigabytes of a 50M-row
    month). Row groups whose days all fall outside ``window`` are skipped from their statistics."""
    row_filter = _window_filter(window)
    day = COST_SCHEMA.get_field_index("ChargePeriodStart")
    with store.filesystem.open_input_file(store.path(key)) as handle:
        source = pq.ParquetFile(handle, read_dictionary=text)
        for group in range(source.num_row_groups):
            if window is not None and _outside(source.metadata.row_group(group).column(day).statistics, window):
                continue
            table = source.read_row_group(group, columns=columns)
            if row_filter is not None:
                table = table.filter(row_filter)
            yield from table.to_batches()


def _outside(statistics: pq.Statistics | None, window: tuple[date, date]) -> bool:
    if statistics is None or not statistics.has_min_max:
        return False
    return _utc_day(statistics.max) < window[0] or _utc_day(statistics.min) >= window[1]


def _batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
    """What the engine takes at a time: each Parquet row group as it is (one dictionary per string column, as
    written: nothing to unify), small ones gathered up to MIN_BATCH_ROWS, large ones cut at BATCH_ROWS."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        for start in range(0, batch.num_rows, BATCH_ROWS):
            piece = batch.slice(start, BATCH_ROWS)
            pending.append(piece)
            held += piece.num_rows
            if held >= MIN_BATCH_ROWS:
                yield pa.Table.from_batches(pending)
                pending, held = [], 0
    if held:
        yield pa.Table.from_batches(pending)


def _window_filter(window: tuple[date, date] | None) -> ds.Expression | None:
    if window is None:
        return None
    start, end = (pa.scalar(datetime(d.year, d.month, d.day, tzinfo=UTC), COST_SCHEMA.field("ChargePeriodStart").type)
                  for d in window)
    return (ds.field("ChargePeriodStart") >= start) & (ds.field("ChargePeriodStart") < end)


def run_allocation(
    session: Session,
    engine: Engine,
    tenant_id: str,
    dimension: VirtualDimension,
    metric_sources: Mapping[str, MetricSource],
    window: tuple[date, date] | None = None,
    *,
    into: str | None = None,
) -> Computed | None:
    """Allocate the tenant's cost rows (those in ``window`` = [start, end) if given); None without costs.

    With ``into`` (a `new_result_folder` pointer), the parts and the summary are written under it; nothing
    reads them until a committed pointer names the folder, and a failure removes what was written."""
    cost_keys = CostStore(engine.store).partition_keys(session, tenant_id)
    days = window_days(engine.store, cost_keys, window)
    if days is None:
        return None
    usage = {rule: _usage(session, source, *days) for rule, source in metric_sources.items()}
    return allocate_partitions(engine, tenant_id, cost_keys, dimension, usage, window, into=into)


def allocate_partitions(
    engine: Engine,
    tenant_id: str,
    cost_keys: list[str],
    dimension: VirtualDimension,
    usage: Mapping[str, pa.Table],
    window: tuple[date, date] | None = None,
    *,
    into: str | None = None,
) -> Computed | None:
    """`run_allocation` once the database has given what it holds (no connection needed from here on)."""
    store = engine.store
    folder = f"{tenant_folder(tenant_id)}/{into}" if into else None
    jobs = [
        PartJob(key, f"{folder}/part-{index:05d}.parquet" if folder else None) for index, key in enumerate(cost_keys)
    ]
    kernel = functools.partial(allocate_part, store, dimension, usage, window)
    try:
        outcomes = engine.map_parts(kernel, jobs)
        rows = sum(o.rows for o in outcomes)
        if rows == 0:
            if folder:
                store.delete_folder(folder)
            return None
        summary = summaries.merge([o.summary for o in outcomes])
        if folder:
            store.write_table(f"{folder}/{SUMMARY_FILE}", summary)
    except BaseException:
        if folder:
            store.delete_folder(folder)
        raise
    tally = Tally()
    for outcome in outcomes:
        tally.add(outcome.tally)
    warnings = tally.messages(dimension)
    return Computed(folder, summary, warnings, rows)


def window_days(store: DataStore, cost_keys: list[str], window: tuple[date, date] | None) -> tuple[date, date] | None:
    """The first and last day of cost data (within ``window``), from the partitions' footers; None without."""
    if not cost_keys:
        return None
    span = cost_day_span(store, cost_keys)
    if span is None:
        return None
    first, last = span
    if window is not None:
        first, last = max(first, window[0]), min(last, window[1] - timedelta(days=1))
    return (first, last) if first <= last else None


def cost_day_span(store: DataStore, cost_keys: list[str]) -> tuple[date, date] | None:
    """The first and last ChargePeriodStart day of the partitions, read from their row-group statistics."""
    lows, highs = [], []
    index = COST_SCHEMA.get_field_index("ChargePeriodStart")
    for key in cost_keys:
        with store.filesystem.open_input_file(store.path(key)) as handle:
            metadata = pq.ParquetFile(handle).metadata
        for group in range(metadata.num_row_groups):
            statistics = metadata.row_group(group).column(index).statistics
            if statistics is None or not statistics.has_min_max:
                continue
            lows.append(statistics.min)
            highs.append(statistics.max)
    if not lows:
        return None
    return _utc_day(min(lows)), _utc_day(max(highs))


def _utc_day(instant: datetime) -> date:
    return (instant.astimezone(UTC) if instant.tzinfo else instant).date()


def latest_cost_day(session: Session, store: DataStore, tenant_id: str) -> date | None:
    """The last day with cost data."""
    span = cost_day_span(store, CostStore(store).partition_keys(session, tenant_id))
    return span[1] if span else None


def last_30_days(session: Session, store: DataStore, tenant_id: str) -> tuple[date, date] | None:
    """[start, end) of the 30 days ending with the latest cost day, or None without cost data."""
    latest = latest_cost_day(session, store, tenant_id)
    if latest is None:
        return None
    return latest - timedelta(days=29), latest + timedelta(days=1)


def _usage(session: Session, source: MetricSource, first: date, last: date) -> pa.Table:
    series = metric_series(
        session, source.datasource_id, source.metric_name, start=first, end=last, group_by=[source.dimension]
    )
    return pa.table(
        {
            "day": series.column("day"),
            "owner": series.column(source.dimension).cast(pa.string()),
            "value": series.column("value"),
        }
    )


def metric_lookup(session: Session, tenant_id: str):
    """A `MetricLookup` for one tenant: datasource id -> {metric name: dimensions}, or None."""

    def lookup(datasource_id: str) -> Mapping[str, list[str]] | None:
        exists = session.scalar(
            sa.select(MetricsDatasource.id).where(
                MetricsDatasource.id == datasource_id, MetricsDatasource.tenant_id == tenant_id
            )
        )
        if exists is None:
            return None
        rows = session.execute(
            sa.select(MetricDefinition.metric_name, MetricDefinition.dimensions).where(
                MetricDefinition.datasource_id == datasource_id
            )
        )
        return {name: list(dimensions or []) for name, dimensions in rows}

    return lookup


_DUCKDB: list[duckdb.DuckDBPyConnection] = []
_DUCKDB_LOCK = threading.Lock()


def connect_duckdb() -> duckdb.DuckDBPyConnection:
    """A connection (a cursor: views registered on it are its own) to the process's one in-memory DuckDB
    database, reading times in UTC (cost days are UTC days). Opening a database costs tens of milliseconds of
    CPU, a cursor a fraction of one: reads open the database once."""
    with _DUCKDB_LOCK:
        if not _DUCKDB:
            database = duckdb.connect()
            database.execute("SET GLOBAL TimeZone = 'UTC'")
            _DUCKDB.append(database)
    return _DUCKDB[0].cursor()


# -- reading results -----------------------------------------------------------------------------------


def read_summary(store: DataStore, keys: ResultKeys | None) -> pa.Table | None:
    """The summary of the results ``keys`` name (cached: results are never modified), or None when they are
    gone (replaced and collected since the pointer was read)."""
    if keys is None:
        return None
    return _cached_summary(store, keys)


def read_summary_pieces(store: DataStore, keys: ResultKeys) -> dict[str | None, pa.Table] | None:
    """The summary split by piece (None: the core rows; else a summarised column), each sorted by day, as cost
    queries read it (cached like the summary); None when gone."""
    return _cached_pieces(store, keys)


@functools.lru_cache(maxsize=256)
def _cached_pieces(store: DataStore, keys: ResultKeys) -> dict[str | None, pa.Table] | None:
    table = _cached_summary(store, keys)
    if table is None:
        return None
    pieces: dict[str | None, pa.Table] = {None: summaries.core(table).sort_by("day")}
    for name in summaries.SUMMARY_COLUMNS:
        pieces[name] = summaries.by_column(table, name).sort_by("day")
    return pieces


def read_totals(store: DataStore, keys: ResultKeys | None) -> summaries.Summary | None:
    """Per value and per rule, of the results ``keys`` name (cached like the summary); None when gone."""
    if keys is None:
        return None
    return _cached_totals(store, keys)


@functools.lru_cache(maxsize=256)
def _cached_totals(store: DataStore, keys: ResultKeys) -> summaries.Summary | None:
    table = _cached_summary(store, keys)
    return summaries.totals(table) if table is not None else None


@functools.lru_cache(maxsize=256)
def _cached_summary(store: DataStore, keys: ResultKeys) -> pa.Table | None:
    if keys.summary is not None:
        return store.read_table(keys.summary)
    table = store.read_table(keys.legacy_file or "")  # written before summaries: summarise it once
    if table is None:
        return None
    ordered = table.sort_by([("row_id", "ascending"), ("value", "ascending")])
    positions = pc.dictionary_encode(ordered.column("row_id")).combine_chunks().indices.cast(pa.int64())
    return summaries.merge([summaries.of_batch(pa.table({}), ordered.set_column(0, "row_id", positions))])


def percent(part: Decimal, total: Decimal) -> Decimal:
    """``part`` as a percentage of ``total``, two decimals (0 when there is no total)."""
    if not total:
        return Decimal("0.00")
    return (part * 100 / total).quantize(CENT)


def money(amount: Decimal, *, signed: bool = False) -> str:
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"
