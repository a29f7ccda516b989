"""Run the allocation engine on a tenant's data: cost rows from the cost store, usage from the metrics
tables; keep each dimension's result as Parquet and summarise it.

Each computation writes a new, uniquely named file, `allocations/<tenant>/<dimension>/<uuid>.parquet`; the
dimension's row points at the file that is served (`Dimension.allocation_file`, relative to the tenant's
folder). Which file is current is decided by the database transaction that changes the pointer, never by
the file system; see `dimensions.results`.

The engine itself is pure (control_plane/allocation); this module does the I/O around it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.allocation import AllocationResult, VirtualDimension, allocate
from control_plane.allocation.rules import TAG_PREFIX
from control_plane.billing.store import CostStore
from control_plane.dimensions.definition import MetricSource
from control_plane.metrics.query import metric_series
from control_plane.models import MetricDefinition, MetricsDatasource

CENT = Decimal("0.01")


ALLOCATIONS = "allocations"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNIQUE_FILE = re.compile(r"[0-9a-f]{32}\.parquet")


def tenant_folder(data_dir: Path, tenant_id: str) -> Path:
    """Where a tenant's allocation results live; refuses an id that could leave ``data_dir/allocations``."""
    if not _SAFE_ID.fullmatch(tenant_id):
        raise ValueError(f"unsafe tenant id {tenant_id!r} for a file path")
    return Path(data_dir) / ALLOCATIONS / tenant_id


def new_result_file(dimension_id: str) -> str:
    """A fresh pointer value: ``<dimension>/<uuid>.parquet``, never used before."""
    if not _SAFE_ID.fullmatch(dimension_id):
        raise ValueError(f"unsafe dimension id {dimension_id!r} for a file path")
    return f"{dimension_id}/{uuid.uuid4().hex}.parquet"


def result_path(data_dir: Path, tenant_id: str, dimension_id: str, pointer: str | None) -> Path | None:
    """The file a dimension's pointer names, or None without a pointer. Only the two shapes this module
    writes are accepted: ``<dimension>/<uuid>.parquet``, and ``<dimension>.parquet`` (results written before
    migration 0006)."""
    if not pointer:
        return None
    folder, _, name = pointer.rpartition("/")
    legacy = not folder and name == f"{dimension_id}.parquet"
    if not (legacy or (folder == dimension_id and _UNIQUE_FILE.fullmatch(name))):
        raise ValueError(f"allocation file {pointer!r} is not one of dimension {dimension_id!r}")
    return tenant_folder(data_dir, tenant_id) / pointer


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


def connect_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection reading times in UTC (cost days are UTC days)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def latest_cost_day(data_dir: Path, tenant_id: str) -> date | None:
    """The last day with cost data (read from the Parquet footers' statistics by DuckDB)."""
    paths = [str(p) for p in CostStore(data_dir).paths(tenant_id)]
    if not paths:
        return None
    with connect_duckdb() as con:
        latest = con.execute(
            "SELECT CAST(max(ChargePeriodStart) AS DATE) FROM read_parquet($paths)", {"paths": paths}
        ).fetchone()
    return latest[0] if latest else None


def last_30_days(data_dir: Path, tenant_id: str) -> tuple[date, date] | None:
    """[start, end) of the 30 days ending with the latest cost day, or None without cost data."""
    latest = latest_cost_day(data_dir, tenant_id)
    if latest is None:
        return None
    return latest - timedelta(days=29), latest + timedelta(days=1)


def run_allocation(
    session: Session,
    data_dir: Path,
    tenant_id: str,
    dimension: VirtualDimension,
    metric_sources: Mapping[str, MetricSource],
    window: tuple[date, date] | None = None,
) -> AllocationResult | None:
    """Allocate the tenant's cost rows (those in ``window`` = [start, end) if given); None without costs."""
    references = dimension.references()
    columns = ["x_RowId", "ChargePeriodStart", "BilledCost"]
    columns += sorted(r for r in references if not r.startswith(TAG_PREFIX))
    if any(r.startswith(TAG_PREFIX) for r in references):
        columns.append("Tags")
    start, end = window if window else (None, None)
    costs = CostStore(data_dir).read(tenant_id, start, end, columns=columns)
    if costs.num_rows == 0:
        return None
    costs = costs.rename_columns(["row_id" if name == "x_RowId" else name for name in costs.column_names])
    days = pc.cast(costs.column("ChargePeriodStart"), pa.date32())
    first, last = pc.min(days).as_py(), pc.max(days).as_py()
    usage = {rule: _usage(session, source, first, last) for rule, source in metric_sources.items()}
    return allocate(costs, dimension, usage)


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


def write_allocations(path: Path, result: AllocationResult) -> None:
    """Write a result to a new file (``new_result_file``); nothing reads it until a committed pointer names it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(result.allocations, path)


def read_allocations(path: Path | None) -> pa.Table | None:
    """The results at ``path`` (from `result_path` or `results.current_allocation_path`); None without."""
    if path is None:
        return None
    try:
        return pq.read_table(path)
    except FileNotFoundError:  # replaced by a newer result and removed since the pointer was read
        return None


@dataclass(frozen=True)
class Summary:
    """Where a dimension's cost went."""

    total: Decimal
    by_value: dict[str, Decimal]
    by_rule: dict[str | None, tuple[Decimal, int]]
    """Rule name (None: no rule matched) -> (cost, cost rows)."""
    first_day: date | None
    last_day: date | None
    cost_rows: int


def summarise(allocations: pa.Table) -> Summary:
    """Sums per value and per rule, columnar."""
    if allocations.num_rows == 0:
        return Summary(Decimal(0), {}, {}, None, None, 0)
    by_value = allocations.group_by("value").aggregate([("amount", "sum")])
    by_rule = allocations.group_by("rule").aggregate([("amount", "sum"), ("row_id", "count_distinct")])
    values = dict(zip(by_value.column("value").to_pylist(), by_value.column("amount_sum").to_pylist(), strict=True))
    rules = {
        rule: (amount, rows)
        for rule, amount, rows in zip(
            by_rule.column("rule").to_pylist(),
            by_rule.column("amount_sum").to_pylist(),
            by_rule.column("row_id_count_distinct").to_pylist(),
            strict=True,
        )
    }
    total = sum(values.values(), Decimal(0))
    return Summary(
        total=total,
        by_value=values,
        by_rule=rules,
        first_day=pc.min(allocations.column("day")).as_py(),
        last_day=pc.max(allocations.column("day")).as_py(),
        cost_rows=pc.count_distinct(allocations.column("row_id")).as_py(),
    )


def percent(part: Decimal, total: Decimal) -> Decimal:
    """``part`` as a percentage of ``total``, two decimals (0 when there is no total)."""
    if not total:
        return Decimal("0.00")
    return (part * 100 / total).quantize(CENT)


def money(amount: Decimal, *, signed: bool = False) -> str:
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}${abs(amount):,.2f}"
