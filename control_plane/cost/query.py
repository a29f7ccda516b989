"""Cost by day or month, grouped by a virtual dimension and/or normalized cost columns, with filters.

A dimension's values by day or month, alone or with one of the summarised cost columns, answer from the
dimension's summary (`dimensions.summary`, cached per process); any other query is one DuckDB query over the
tenant's cost partitions (joined with the dimension's results when one is asked for). Column names are only
ever taken from the cost schema's allow-list and quoted; every value a caller sends (dates, filter values, tag
keys) is a bound parameter, never spliced into the SQL.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.allocation.engine import ALLOCATIONS_SCHEMA
from control_plane.allocation.rules import TAG_PREFIX
from control_plane.billing.schema import RULE_COLUMNS
from control_plane.billing.store import CostStore
from control_plane.datastore import DataStore
from control_plane.db import release
from control_plane.dimensions import compute
from control_plane.dimensions import summary as summaries
from control_plane.errors import InvalidArgument
from control_plane.models import Dimension, Tenant
from control_plane.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from costory_schema.problems import Problem

GRANULARITIES = {"DAY": "%Y-%m-%d", "MONTH": "%Y-%m"}
DIMENSION_FILTER = "dimension"


@dataclass(frozen=True)
class CostFilter:
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class CostRow:
    period: str
    dimension_value: str | None
    group: dict[str, str]
    cost: Decimal
    consumed_quantity: float = 0.0
    """ConsumedQuantity summed (see cost.proto `CostRow.consumed_quantity`)."""


@dataclass(frozen=True)
class CostPage:
    rows: list[CostRow]
    next_page_token: str


def query_costs(
    session: Session,
    tenant: Tenant,
    engine: compute.Engine,
    *,
    start: date,
    end: date,
    granularity: str = "DAY",
    virtual_dimension: str = "",
    group_by: list[str] | None = None,
    filters: list[CostFilter] | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> CostPage:
    group_by = list(group_by or [])
    filters = list(filters or [])
    violations = _violations(start, end, granularity, virtual_dimension, group_by, filters, page_size)
    dimension = None
    if virtual_dimension and not violations:
        dimension = session.scalar(
            sa.select(Dimension).where(Dimension.tenant_id == tenant.id, Dimension.name == virtual_dimension)
        )
        if dimension is None:
            violations.append(
                Problem(
                    ("virtual_dimension",),
                    "Unknown Virtual Dimension",
                    f"No virtual dimension named `{virtual_dimension}`.",
                )
            )
    if violations:
        raise InvalidArgument(violations)
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    offset = _decode_offset(page_token) if page_token else 0
    shape = _Shape(start, end, granularity, dimension is not None, group_by, filters, size, offset)
    dimension_id = dimension.id if dimension is not None else None
    pointer = dimension.allocation_file if dimension is not None else None
    for attempt in range(2):
        if attempt:  # the request's session is released: a short one of its own reads the pointers again
            session = Session(bind=session.bind)
            pointer = session.scalar(sa.select(Dimension.allocation_file).where(Dimension.id == dimension_id))
        results = compute.result_keys(tenant.id, dimension_id, pointer) if dimension_id is not None else None
        summarised = results is not None and results.folder is not None and _summarised(group_by, filters)
        # The summary is all a summarised query reads; any other reads the committed partitions.
        cost_keys = [] if summarised else CostStore(engine.store).partition_keys(session, tenant.id)
        release(session)  # everything below reads the data store only
        if dimension_id is not None and results is None or not (summarised or cost_keys):
            return CostPage([], "")
        try:
            fetched = _fetch(engine.store, cost_keys, results, shape, summarised)
            break
        except (OSError, duckdb.InvalidInputException):
            # An import or recompute on another replica replaced (and removed) an object since its key was
            # read: read the pointers again, once.
            if attempt:
                raise
    rows = []
    for record in fetched[:size]:
        period, rest, quantity_sum = record[0], list(record[1:-2]), record[-2]
        value = rest.pop(0) if dimension is not None else None
        group = {column: str(v) for column, v in zip(group_by, rest, strict=True) if v is not None}
        rows.append(CostRow(period, value, group, Decimal(record[-1]).quantize(compute.CENT), float(quantity_sum)))
    next_token = _encode_offset(offset + size) if len(fetched) > size else ""
    return CostPage(rows, next_token)


def _fetch(
    store: DataStore, cost_keys: list[str], results: compute.ResultKeys | None, shape: _Shape, summarised: bool
) -> list[tuple]:
    if summarised and results is not None:
        pieces = compute.read_summary_pieces(store, results)
        if pieces is None:
            raise FileNotFoundError(results.summary)
        return _from_summary(pieces, shape)
    return _from_rows(store, cost_keys, results, shape)


@dataclass(frozen=True)
class _Shape:
    """What a query asks, validated."""

    start: date
    end: date
    granularity: str
    by_dimension: bool
    group_by: list[str]
    filters: list[CostFilter]
    size: int
    offset: int

    def params(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end + timedelta(days=1),
            "format": GRANULARITIES[self.granularity],
            "limit": self.size + 1,
            "offset": self.offset,
        }


def _summarised(group_by: list[str], filters: list[CostFilter]) -> bool:
    """Whether the dimension's summary answers the query: grouped and filtered by the dimension's values and at
    most one of the summarised cost columns."""
    columns = set(group_by) | {f.column for f in filters if f.column != DIMENSION_FILTER}
    return len(columns) <= 1 and columns <= set(summaries.SUMMARY_COLUMNS)


def _from_summary(pieces: dict[str | None, pa.Table], shape: _Shape) -> list[tuple]:
    """The query answered from the dimension's summary (a few thousand rows, whatever the bill's size), with
    Arrow's kernels: the piece of the column asked for (the core rows without one), its days sliced by binary
    search (pieces are sorted by day), grouped, sorted and paged."""
    columns = set(shape.group_by) | {f.column for f in shape.filters if f.column != DIMENSION_FILTER}
    table = pieces[next(iter(columns)) if columns else None]
    days = table.column("day").to_numpy()
    first, last = np.searchsorted(days, [np.datetime64(shape.start), np.datetime64(shape.end + timedelta(days=1))])
    rows = table.slice(first, last - first)
    if shape.filters:
        mask = None
        for item in shape.filters:
            target = rows.column("value" if item.column == DIMENSION_FILTER else "column_value")
            term = pc.is_in(target, pa.array(item.values, pa.string()))
            mask = term if mask is None else pc.and_(mask, term)
        rows = rows.filter(mask)
    period = rows.column("day").cast(pa.string())
    if shape.granularity == "MONTH":
        period = pc.utf8_slice_codeunits(period, 0, 7)
    keys = {"period": period, "dimension_value": rows.column("value")}
    if shape.group_by:
        keys["g0"] = rows.column("column_value")
    grouped = pa.table({**keys, "quantity": rows.column("quantity"), "cents": rows.column("cents")})
    grouped = grouped.group_by(list(keys), use_threads=False).aggregate([("quantity", "sum"), ("cents", "sum")])
    ordered = grouped.sort_by([(k, "ascending", "at_start") for k in keys])
    page = ordered.slice(shape.offset, shape.size + 1)
    return [
        (*(record[k] for k in keys), record["quantity_sum"] or 0.0, Decimal(record["cents_sum"]).scaleb(-2))
        for record in page.to_pylist()
    ]


def _from_rows(
    store: DataStore, cost_keys: list[str], results: compute.ResultKeys | None, shape: _Shape
) -> list[tuple]:
    """Any other query: DuckDB over the cost partitions (joined with the dimension's results), reading only
    the columns asked for and the row groups of the dates asked for."""
    params = shape.params()
    selects = ["strftime(c.ChargePeriodStart, $format) AS period"]
    keys = ["period"]
    if results is not None:
        selects.append("a.value AS dimension_value")
        keys.append("dimension_value")
    for index, column in enumerate(shape.group_by):
        selects.append(f"{_column_sql(column, f'g{index}', params)} AS g{index}")
        keys.append(f"g{index}")
    amount = "a.amount" if results is not None else "c.BilledCost"
    quantity = (
        "CASE WHEN a.row_amount = 0 THEN c.ConsumedQuantity / a.parts "
        "ELSE c.ConsumedQuantity * CAST(a.amount AS DOUBLE) / CAST(a.row_amount AS DOUBLE) END"
        if results is not None
        else "c.ConsumedQuantity"
    )
    where = ["c.ChargePeriodStart >= $start", "c.ChargePeriodStart < $end"]
    for index, item in enumerate(shape.filters):
        params[f"f{index}"] = list(item.values)
        if item.column == DIMENSION_FILTER:
            where.append(f"a.value IN (SELECT unnest($f{index}))")
        else:
            where.append(f"{_column_sql(item.column, f'fk{index}', params)} IN (SELECT unnest($f{index}))")
    source = "costs c"
    if results is not None:
        source += (
            " JOIN (SELECT row_id, value, amount, count(*) OVER (PARTITION BY row_id) AS parts, "
            "sum(amount) OVER (PARTITION BY row_id) AS row_amount "
            "FROM allocations WHERE day >= CAST($start AS DATE) AND day < CAST($end AS DATE)) a "
            "ON a.row_id = c.x_RowId"
        )
    sql = (
        f"SELECT {', '.join(selects)}, coalesce(sum({quantity}), 0) AS quantity, "
        f"CAST(sum({amount}) AS DECIMAL(38, 12)) AS cost FROM {source} "
        f"WHERE {' AND '.join(where)} GROUP BY ALL ORDER BY {', '.join(f'{k} NULLS FIRST' for k in keys)} "
        "LIMIT $limit OFFSET $offset"
    )
    with compute.connect_duckdb() as con:
        con.register("costs", CostStore(store).dataset(cost_keys))
        if results is not None:
            parts = results.parts(store)
            if not parts:
                raise FileNotFoundError(results.folder or results.legacy_file)
            con.register("allocations", store.dataset(parts, ALLOCATIONS_SCHEMA))
        return con.execute(sql, params).fetchall()


def _column_sql(column: str, key_param: str, params: dict[str, object]) -> str:
    """SQL for an allow-listed column or a tag (its key bound as a parameter)."""
    if column.startswith(TAG_PREFIX):
        params[key_param] = column[len(TAG_PREFIX) :]
        return f"element_at(c.Tags, ${key_param})[1]"
    if column not in RULE_COLUMNS:  # _violations refused it already; never splice an unknown name
        raise ValueError(f"{column!r} is not a cost column")
    return f'c."{column}"'


def _violations(start, end, granularity, virtual_dimension, group_by, filters, page_size) -> list[Problem]:
    out: list[Problem] = []
    if start > end:
        out.append(Problem(("start_date",), "Invalid Range", f"`start_date` ({start}) is after `end_date` ({end})."))
    if granularity not in GRANULARITIES:
        out.append(
            Problem(("granularity",), "Invalid Value", f"`granularity` is `{granularity}`; use `DAY` or `MONTH`.")
        )
    if page_size < 0:
        out.append(Problem(("page_size",), "Invalid Value", "`page_size` must not be negative."))
    for index, column in enumerate(group_by):
        if not _groupable(column):
            out.append(Problem(("group_by", index), "Unknown Column", _unknown(column)))
    for index, item in enumerate(filters):
        if item.column == DIMENSION_FILTER:
            if not virtual_dimension:
                out.append(
                    Problem(
                        ("filters", index, "column"),
                        "No Virtual Dimension",
                        "Filtering on `dimension` needs `virtual_dimension` (the dimension grouped by).",
                    )
                )
        elif not _groupable(item.column):
            out.append(Problem(("filters", index, "column"), "Unknown Column", _unknown(item.column)))
        if not item.values:
            out.append(Problem(("filters", index, "values"), "Missing Values", "A filter needs at least one value."))
    return out


def _groupable(column: str) -> bool:
    return column in RULE_COLUMNS or (column.startswith(TAG_PREFIX) and len(column) > len(TAG_PREFIX))


def _unknown(column: str) -> str:
    return f"`{column}` is not a text cost column; use one of {', '.join(RULE_COLUMNS)} or `tag:<key>`."


MAX_OFFSET = 10_000_000
"""Deepest row a page token may point at: far beyond any real result, and well inside DuckDB's integers."""


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_offset(token: str) -> int:
    try:
        if len(token) > 64:
            raise ValueError(token[:16])
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "offset" or not number.isdigit() or int(number) > MAX_OFFSET:
            raise ValueError(token[:16])
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument(
            [Problem(("page_token",), "Invalid Value", "`page_token` is not a token returned by this query.")]
        ) from None
