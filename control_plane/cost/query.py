"""Answering a `cost.model.Query`: cost (and usage) by period, grouped and filtered by cost columns, tags and
virtual dimensions, with presets, a comparison with the previous period and top-N.

Two ways to read, one way to finish:
- A query one dimension's summary answers (that dimension and at most one of `summary.SUMMARY_COLUMNS`, IN /
  EQUALS filters on them, billed cost, no tag) reads the summary only (`compute.read_summary_pieces`), with
  Arrow kernels: no cost partition is opened (a preset reads their footers for the last day with data).
- Any other is one DuckDB query over the tenant's cost partitions, LEFT JOINed with each dimension's results
  (a row a dimension has not allocated has no value for it). Column names only ever come from the cost
  schema's allow-list; every value a caller sends (dates, filter values, tag keys) is a bound parameter.

Both give the same intermediate table, per (previous?, period, group): the cost in cents as an integer part
and a fraction, and the quantity. What follows is shared: previous periods lined up with current ones by
position, top-N folding the rest into `Other`, and exact cents.

Exact cents: costs are summed exactly per group (a dimension's shares of a row make that sum fractional), and
only then rounded, each group up or down by the largest-remainder method: the rows add up to the exact total
rounded to the cent (half to even), and each row is within a cent of its exact value. The previous period is
rounded the same way on its own.

Several dimensions at once: a row's part in each combination of values is its cost times each dimension's
share of the row (a part's amount / the row's allocated amount; equal shares when the row's billed cost is 0).
Billed cost starts from the first dimension's allocated cents, so one dimension alone answers exactly what its
summary holds; effective and list cost start from the row's own column.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from control_plane.allocation.engine import ALLOCATIONS_SCHEMA
from control_plane.allocation.rules import TAG_PREFIX
from control_plane.billing.schema import RULE_COLUMNS
from control_plane.billing.store import CostStore
from control_plane.cost import periods
from control_plane.cost.model import DIMENSION_PREFIX, OTHER, Filter, Query, QueryResult, Row
from control_plane.datastore import DataStore
from control_plane.db import release
from control_plane.dimensions import compute
from control_plane.dimensions import service as dimension_service
from control_plane.dimensions import summary as summaries
from control_plane.errors import InvalidArgument
from control_plane.messages import FIRST_DAY, LAST_DAY
from control_plane.models import Dimension, Tenant
from costory_proto.costory.v1 import query_pb2
from costory_schema import rules
from costory_schema.problems import PathStep, Problem

METRIC_COLUMNS = {"BILLED": "BilledCost", "EFFECTIVE": "EffectiveCost", "LIST": "ListCost"}
_FORMATS = {"DAY": "%Y-%m-%d", "MONTH": "%Y-%m", "WEEK": "%Y-%m-%d"}
_NULL_KEY = "\x00"  # how a missing value takes part in a group's key (values never hold NUL: limits refuse it)
_KEY_SEPARATOR = "\x1f"


# -- validation ----------------------------------------------------------------------------------------------


def problems(query: Query, path: tuple[PathStep, ...] = ("query",)) -> list[Problem]:
    """Every problem with ``query``, each naming its field under ``path``. The choices (operator, granularity,
    metric, preset) are the proto's `one_of` rules, the same declaration the OpenAPI document shows."""
    out = rules.check(query_pb2.CostQuery.DESCRIPTOR, _as_message_dict(query), path=path)
    seen: set[str] = set()
    for index, name in enumerate(query.group_by):
        if not is_field(name):
            out.append(Problem((*path, "group_by", index), "Unknown Field", _unknown(name)))
        elif name in seen:
            out.append(Problem((*path, "group_by", index), "Duplicate Field", f"`{name}` is grouped by twice."))
        seen.add(name)
    for index, item in enumerate(query.filters):
        here = (*path, "filters", index)
        if item.field and not is_field(item.field):  # an empty one breaks the proto's not_empty rule already
            out.append(Problem((*here, "field"), "Unknown Field", _unknown(item.field)))
        if not item.values:
            out.append(Problem((*here, "values"), "Missing Values", "A filter needs at least one value."))
        elif item.operator == "EQUALS" and len(item.values) != 1:
            out.append(
                Problem((*here, "values"), "One Value", f"EQUALS takes exactly one value ({len(item.values)} given).")
            )
    if query.preset is not None and (query.start is not None or query.end is not None):
        out.append(Problem((*path, "preset"), "Conflicting Range", "Give either `preset` or `start_date`/`end_date`."))
    elif query.preset is None:
        for name, day in (("start_date", query.start), ("end_date", query.end)):
            if day is None:
                out.append(Problem((*path, name), "Missing Date", f"`{name}` must be set (YYYY-MM-DD), or a `preset`."))
            elif not FIRST_DAY <= day <= LAST_DAY:
                detail = f"`{name}` is {day}; use a day from {FIRST_DAY} to {LAST_DAY}."
                out.append(Problem((*path, name), "Date Out Of Range", detail))
        if query.start is not None and query.end is not None and query.start > query.end:
            detail = f"`start_date` ({query.start}) is after `end_date` ({query.end})."
            out.append(Problem((*path, "start_date"), "Invalid Range", detail))
    if query.top_n < 0:
        out.append(Problem((*path, "top_n"), "Invalid Value", "`top_n` must not be negative (0 keeps every group)."))
    return out


def _as_message_dict(query: Query) -> dict[str, Any]:
    """The query in the shape of its proto message (what the input rules read)."""
    data: dict[str, Any] = {
        "group_by": list(query.group_by),
        "filters": [{"field": f.field, "operator": f.operator, "values": list(f.values)} for f in query.filters],
        "granularity": query.granularity,
        "metric": query.metric,
    }
    if query.preset is not None:
        data["preset"] = query.preset
    return data


def is_field(name: str) -> bool:
    """A cost column of the allow-list, `tag:<key>` or `dimension:<id>`."""
    if name.startswith(TAG_PREFIX):
        return len(name) > len(TAG_PREFIX)
    if name.startswith(DIMENSION_PREFIX):
        return len(name) > len(DIMENSION_PREFIX)
    return name in RULE_COLUMNS


def _unknown(name: str) -> str:
    return f"`{name}` is not a field; use `dimension:<id>`, `tag:<key>` or one of {', '.join(RULE_COLUMNS)}."


def dimension_ids(query: Query) -> list[str]:
    """The dimensions a query reads, in order of first mention (group_by first)."""
    names = [*query.group_by, *(f.field for f in query.filters)]
    return list(dict.fromkeys(n[len(DIMENSION_PREFIX) :] for n in names if n.startswith(DIMENSION_PREFIX)))


# -- running -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """A validated query with its range resolved."""

    query: Query
    start: date
    end: date
    previous: tuple[date, date] | None
    dimensions: tuple[str, ...] = ()

    def ranges(self) -> list[tuple[date, date]]:
        return [(self.start, self.end), *([self.previous] if self.previous else [])]


def run(
    session: Session, tenant: Tenant, engine: compute.Engine, query: Query, *, limit: int | None = None, offset: int = 0
) -> QueryResult:
    """Answer ``query`` for ``tenant``: rows ``offset`` to ``offset + limit`` (all without a limit), the totals
    over every row. InvalidArgument names each bad field (`query.filters[1].operator`); a dimension id that is
    not the tenant's is NotFound, as for any missing id. The database connection is given back before any
    columnar work."""
    violations = problems(query)
    if violations:
        raise InvalidArgument(violations)
    ids = dimension_ids(query)
    dimensions = [dimension_service.get_dimension(session, tenant, i) for i in ids]
    pointers = [d.allocation_file for d in dimensions]
    for attempt in range(2):
        if attempt:  # the request's session is released: a short one of its own reads the pointers again
            session = Session(bind=session.bind)
            pointers = [session.get(Dimension, i).allocation_file for i in ids]  # type: ignore[union-attr]
        results = [compute.result_keys(tenant.id, i, p) for i, p in zip(ids, pointers, strict=True)]
        summarised = len(results) == 1 and results[0] is not None and results[0].folder is not None
        summarised = summarised and _summarised(query)
        needs_keys = not summarised or query.preset is not None
        cost_keys = CostStore(engine.store).partition_keys(session, tenant.id) if needs_keys else []
        release(session)  # everything below reads the data store only
        try:
            plan = _plan(query, engine.store, cost_keys, ids)
            if any(r is None for r in results) or not (summarised or cost_keys):
                return _page(_order(_empty(len(query.group_by)), plan), plan, limit, offset)
            if summarised:
                ordered = _SUMMARY_ANSWERS.get(engine.store, results[0], plan)  # type: ignore[arg-type]
            else:
                ordered = _order(_from_rows(engine.store, cost_keys, results, plan), plan)  # type: ignore[arg-type]
            break
        except (OSError, duckdb.InvalidInputException):
            # An import or recompute on another replica replaced (and removed) an object since its key was
            # read: read the pointers again, once.
            if attempt:
                raise
    return _page(ordered, plan, limit, offset)


def _plan(query: Query, store: DataStore, cost_keys: list[str], ids: list[str]) -> _Plan:
    if query.preset is not None:
        span = compute.cost_day_span(store, cost_keys) if cost_keys else None
        last_day = span[1] if span else datetime.now(UTC).date()
        start, end = periods.resolve(query.preset, last_day)
    else:
        assert query.start is not None and query.end is not None  # problems() refused anything else
        start, end = query.start, query.end
    previous = periods.previous(start, end, query.preset) if query.compare else None
    if previous is not None and previous[0] < FIRST_DAY:
        previous = None
    return _Plan(query, start, end, previous, tuple(ids))


def _summarised(query: Query) -> bool:
    """Whether the one dimension's summary answers the query: billed cost by that dimension and at most one
    summarised column, IN / EQUALS filters only."""
    if query.metric != "BILLED" or any(f.operator not in ("IN", "EQUALS") for f in query.filters):
        return False
    names = {*query.group_by, *(f.field for f in query.filters)}
    columns = {n for n in names if not n.startswith(DIMENSION_PREFIX)}
    return len(columns) <= 1 and columns <= set(summaries.SUMMARY_COLUMNS)


def _empty(groups: int) -> pa.Table:
    return pa.table(
        {
            "prev": pa.array([], pa.bool_()),
            "period": pa.array([], pa.string()),
            **{f"g{i}": pa.array([], pa.string()) for i in range(groups)},
            "cents": pa.array([], pa.int64()),
            "fraction": pa.array([], pa.float64()),
            "quantity": pa.array([], pa.float64()),
        }
    )


# -- the summary ----------------------------------------------------------------------------------------------


def _from_summary(store: DataStore, results: compute.ResultKeys, plan: _Plan) -> pa.Table:
    """The query from the dimension's summary (a few thousand rows, whatever the bill's size): the piece of the
    column asked for (the core rows without one), the days of each range sliced by binary search (pieces are
    sorted by day), filtered and grouped with Arrow's kernels."""
    pieces = compute.read_summary_pieces(store, results)
    if pieces is None:
        raise FileNotFoundError(results.summary)
    query = plan.query
    names = {*query.group_by, *(f.field for f in query.filters)}
    columns = [n for n in names if not n.startswith(DIMENSION_PREFIX)]
    table = pieces[columns[0] if columns else None]
    days = table.column("day").to_numpy()
    slices = []
    for index, (start, end) in enumerate(plan.ranges()):
        first, last = np.searchsorted(days, [np.datetime64(start), np.datetime64(end + timedelta(days=1))])
        part = table.slice(first, last - first)
        slices.append(part.append_column("prev", pa.array(np.full(len(part), index == 1))))
    rows = pa.concat_tables(slices)
    for item in query.filters:
        target = rows.column("value" if item.field.startswith(DIMENSION_PREFIX) else "column_value")
        rows = rows.filter(pc.is_in(target, pa.array(item.values, pa.string())))
    keys: dict[str, Any] = {"prev": rows.column("prev"), "period": _period_of_days(rows.column("day"), plan)}
    for index, name in enumerate(query.group_by):
        keys[f"g{index}"] = rows.column("value" if name.startswith(DIMENSION_PREFIX) else "column_value")
    grouped = pa.table({**keys, "c": rows.column("cents"), "q": rows.column("quantity")})
    grouped = grouped.group_by(list(keys), use_threads=False).aggregate([("c", "sum"), ("q", "sum")])
    return pa.table(
        {
            **{k: grouped.column(k) for k in keys},
            "cents": grouped.column("c_sum"),
            "fraction": pa.array(np.zeros(grouped.num_rows)),
            "quantity": pc.fill_null(grouped.column("q_sum"), 0.0),
        }
    )


def _period_of_days(day: pa.ChunkedArray, plan: _Plan) -> pa.Array:
    granularity = plan.query.granularity
    if granularity == "TOTAL":
        return pa.array([""] * len(day), pa.string())
    if granularity == "WEEK":
        numbers = day.cast(pa.int32()).to_numpy()
        day = pa.array(numbers - (numbers + 3) % 7, pa.int32()).cast(pa.date32())  # 1970-01-01 was a Thursday
    text = pc.cast(day, pa.string())
    return pc.utf8_slice_codeunits(text, 0, 7) if granularity == "MONTH" else text


# -- the rows -------------------------------------------------------------------------------------------------


def _from_rows(store: DataStore, cost_keys: list[str], results: list[compute.ResultKeys], plan: _Plan) -> pa.Table:
    """One DuckDB query over the cost partitions, LEFT JOINed with each dimension's results; reads only the
    columns asked for and the row groups of the days asked for."""
    query = plan.query
    params: dict[str, object] = {}
    within = []
    for index, (start, end) in enumerate(plan.ranges()):
        params[f"s{index}"], params[f"e{index}"] = start, end + timedelta(days=1)
        within.append(f"(c.ChargePeriodStart >= $s{index} AND c.ChargePeriodStart < $e{index})")
    days = " OR ".join(w.replace("c.ChargePeriodStart", "day") for w in within)
    dimension_alias = {i: f"a{k}" for k, i in enumerate(plan.dimensions)}
    shares = [
        f"(CASE WHEN {a}.row_id IS NULL THEN 1.0 WHEN {a}.row_amount = 0 THEN 1.0 / {a}.parts "
        f"ELSE CAST({a}.amount AS DOUBLE) / CAST({a}.row_amount AS DOUBLE) END)"
        for a in dimension_alias.values()
    ]
    if query.metric == "BILLED" and shares:
        base = "coalesce(a0.amount, c.BilledCost)"
        cost = base if len(shares) == 1 else " * ".join([f"CAST({base} AS DOUBLE)", *shares[1:]])
    else:
        column = f'c."{METRIC_COLUMNS[query.metric]}"'
        cost = " * ".join([f"CAST({column} AS DOUBLE)", *shares]) if shares else column
    quantity = " * ".join(["c.ConsumedQuantity", *shares])

    def sql_of(name: str, key: str) -> str:
        if name.startswith(DIMENSION_PREFIX):
            return f"{dimension_alias[name[len(DIMENSION_PREFIX) :]]}.value"
        return _column_sql(name, key, params)

    period = "''" if query.granularity == "TOTAL" else "c.ChargePeriodStart"
    if query.granularity == "WEEK":
        period = "date_trunc('week', c.ChargePeriodStart)"
    if query.granularity != "TOTAL":
        params["format"] = _FORMATS[query.granularity]
        period = f"strftime({period}, $format)"
    selects = ["c.ChargePeriodStart < $s0 AS prev" if plan.previous else "false AS prev", f"{period} AS period"]
    selects += [f"{sql_of(name, f'gk{i}')} AS g{i}" for i, name in enumerate(query.group_by)]
    where = [f"({' OR '.join(within)})"]
    for index, item in enumerate(query.filters):
        where.append(_filter_sql(item, sql_of(item.field, f"fk{index}"), f"f{index}", params))
    source = "costs c"
    for alias in dimension_alias.values():
        source += (
            f" LEFT JOIN (SELECT row_id, value, amount, count(*) OVER (PARTITION BY row_id) AS parts, "
            f"sum(amount) OVER (PARTITION BY row_id) AS row_amount FROM {alias}_results WHERE {days}) {alias} "
            f"ON {alias}.row_id = c.x_RowId"
        )
    keys = ["prev", "period", *(f"g{i}" for i in range(len(query.group_by)))]
    each = f"SELECT {', '.join(selects)}, {cost} AS cost, {quantity} AS quantity FROM {source}"
    each += f" WHERE {' AND '.join(where)}"
    sums = (
        f"SELECT {', '.join(keys)}, round(coalesce(sum(cost), 0) * 100, 6) AS cents, "
        f"coalesce(sum(quantity), 0) AS quantity FROM ({each}) GROUP BY ALL"
    )
    sql = (
        f"SELECT {', '.join(keys)}, CAST(floor(cents) AS BIGINT) AS cents, "
        f"CAST(cents - floor(cents) AS DOUBLE) AS fraction, CAST(quantity AS DOUBLE) AS quantity FROM ({sums})"
    )
    with compute.connect_duckdb() as con:
        con.register("costs", CostStore(store).dataset(cost_keys))
        for keys_of, alias in zip(results, dimension_alias.values(), strict=True):
            parts = keys_of.parts(store)
            if not parts:
                raise FileNotFoundError(keys_of.folder or keys_of.legacy_file)
            con.register(f"{alias}_results", store.dataset(parts, ALLOCATIONS_SCHEMA))
        return con.sql(sql, params=params).to_arrow_table()


def _column_sql(name: str, key_param: str, params: dict[str, object]) -> str:
    """SQL for an allow-listed column or a tag (its key bound as a parameter)."""
    if name.startswith(TAG_PREFIX):
        params[key_param] = name[len(TAG_PREFIX) :]
        return f"element_at(c.Tags, ${key_param})[1]"
    if name not in RULE_COLUMNS:  # problems() refused it already; never splice an unknown name
        raise ValueError(f"{name!r} is not a cost column")
    return f'c."{name}"'


def _filter_sql(item: Filter, target: str, key: str, params: dict[str, object]) -> str:
    """A filter's condition; a missing value (NULL) matches NOT_IN only."""
    if item.operator == "PREFIX":
        terms = []
        for index, value in enumerate(item.values):
            params[f"{key}_{index}"] = value
            terms.append(f"starts_with({target}, ${key}_{index})")
        return f"coalesce({' OR '.join(terms)}, false)"
    if item.operator == "EQUALS":
        params[key] = item.values[0]
        return f"coalesce({target} = ${key}, false)"
    params[key] = list(item.values)
    if item.operator == "NOT_IN":
        return f"({target} IS NULL OR NOT list_contains(${key}, {target}))"
    return f"coalesce(list_contains(${key}, {target}), false)"


# -- finishing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ordered:
    """A query's whole answer before paging: the rows in the order shown, each with its rounded cents
    (`row_cents`, `row_previous`), and the totals they add up to."""

    table: pa.Table
    total: int
    previous_total: int


class _Answers:
    """Answers from summaries, kept by (summary, query): a summary never changes (a recompute writes a new folder
    and points at it), so a dashboard asking again is answered without grouping again. Bounded by the rows held,
    oldest dropped first."""

    def __init__(self, max_rows: int):
        self.max_rows = max_rows
        self._held: OrderedDict[tuple, _Ordered] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()

    def get(self, store: DataStore, results: compute.ResultKeys, plan: _Plan) -> _Ordered:
        key = (store, results, plan)
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
        ordered = _order(_from_summary(store, results, plan), plan)
        with self._lock:
            if key not in self._held and ordered.table.num_rows <= self.max_rows:
                self._held[key] = ordered
                self._rows += ordered.table.num_rows
                while self._rows > self.max_rows:
                    _, dropped = self._held.popitem(last=False)
                    self._rows -= dropped.table.num_rows
        return ordered


_SUMMARY_ANSWERS = _Answers(max_rows=1_000_000)


def _order(table: pa.Table, plan: _Plan) -> _Ordered:
    query = plan.query
    groups = [f"g{i}" for i in range(len(query.group_by))]
    table = _line_up(table, plan)
    if query.top_n and groups:
        table = _top(table, groups, query.top_n)
    table = _side_by_side(table, groups, plan.previous is not None or bool(query.top_n))
    others = (
        pc.fill_null(pc.equal(table.column(groups[0]), OTHER), False)
        if groups
        else pa.array(np.zeros(table.num_rows, bool))
    )
    table = table.append_column("is_other", others)
    order = [("period", "ascending", "at_start"), ("is_other", "ascending", "at_start")]
    table = table.sort_by([*order, *((g, "ascending", "at_start") for g in groups)])
    # Rounded in the order shown, so that equal fractions give their cents to the first rows.
    cents, total = _round(table.column("cents").to_numpy(), table.column("fraction").to_numpy())
    previous_cents, previous_total = _round(
        table.column("prev_cents").to_numpy(), table.column("prev_fraction").to_numpy()
    )
    table = table.append_column("row_cents", pa.array(cents, pa.int64()))
    table = table.append_column("row_previous", pa.array(previous_cents, pa.int64()))
    return _Ordered(table, total, previous_total)


def _page(ordered: _Ordered, plan: _Plan, limit: int | None, offset: int) -> QueryResult:
    query, table, total, previous_total = plan.query, ordered.table, ordered.total, ordered.previous_total
    stop = table.num_rows if limit is None else offset + limit
    rows = [
        Row(
            period=record["period"],
            group={name: record[f"g{i}"] for i, name in enumerate(query.group_by)},
            cost=Decimal(record["row_cents"]).scaleb(-2),
            quantity=record["quantity"] if query.with_quantity else None,
            previous_cost=Decimal(record["row_previous"]).scaleb(-2) if plan.previous else None,
        )
        for record in table.slice(offset, max(0, stop - offset)).to_pylist()
    ]
    return QueryResult(
        start=plan.start,
        end=plan.end,
        rows=rows,
        total=Decimal(total).scaleb(-2),
        previous_start=plan.previous[0] if plan.previous else None,
        previous_end=plan.previous[1] if plan.previous else None,
        previous_total=Decimal(previous_total).scaleb(-2) if plan.previous else None,
        truncated=table.num_rows > stop,
    )


def _line_up(table: pa.Table, plan: _Plan) -> pa.Table:
    """Name every period as the current one it lines up with: the previous range's n-th period with the
    current range's n-th (a previous period past the current range's count is dropped)."""
    granularity = plan.query.granularity
    current = periods.periods(plan.start, plan.end, granularity)
    if granularity == "TOTAL":
        return table.set_column(1, "period", pa.array([current[0]] * table.num_rows, pa.string()))
    if plan.previous is None:
        return table
    previous = periods.periods(*plan.previous, granularity)
    is_prev = table.column("prev")
    position = pc.index_in(table.column("period"), value_set=pa.array(previous, pa.string()))
    keep = pc.or_(pc.invert(is_prev), pc.less(pc.fill_null(position, len(current)), len(current)))
    table, is_prev, position = table.filter(keep), is_prev.filter(keep), position.filter(keep)
    moved = pa.array(current, pa.string()).take(pc.fill_null(position, 0))
    return table.set_column(1, "period", pc.if_else(is_prev, moved, table.column("period")))


def _keys(table: pa.Table, groups: list[str]) -> pa.Array:
    """One string per row naming its group (a missing value kept apart from any text)."""
    parts = [pc.fill_null(table.column(g), _NULL_KEY) for g in groups]
    return pc.binary_join_element_wise(*parts, _KEY_SEPARATOR)


def _top(table: pa.Table, groups: list[str], n: int) -> pa.Table:
    """Groups past the N with the most current cost (ties by their values) become `Other` in every field."""
    keys = _keys(table, groups)
    current = pc.invert(table.column("prev"))
    value = pc.add(pc.cast(table.column("cents"), pa.float64()), table.column("fraction"))
    ranked = pa.table({"key": keys.filter(current), "value": value.filter(current)})
    ranked = ranked.group_by("key", use_threads=False).aggregate([("value", "sum")])
    ranked = ranked.sort_by([("value_sum", "descending"), ("key", "ascending")])
    kept = pa.array(ranked.column("key").slice(0, n).to_pylist(), pa.string())  # at most N strings
    folded = pc.invert(pc.is_in(keys, value_set=kept))
    for g in groups:
        table = table.set_column(
            table.schema.get_field_index(g), g, pc.if_else(folded, pa.scalar(OTHER), table.column(g))
        )
    return _regroup(table, ["prev", "period", *groups])


def _regroup(table: pa.Table, keys: list[str]) -> pa.Table:
    summed = table.group_by(keys, use_threads=False).aggregate(
        [("cents", "sum"), ("fraction", "sum"), ("quantity", "sum")]
    )
    return pa.table(
        {
            **{k: summed.column(k) for k in keys},
            "cents": summed.column("cents_sum"),
            "fraction": summed.column("fraction_sum"),
            "quantity": summed.column("quantity_sum"),
        }
    )


def _side_by_side(table: pa.Table, groups: list[str], regroup: bool = True) -> pa.Table:
    """One row per (period, group): the current cents and quantity, and the previous period's cents. Without a
    previous period or a fold into `Other` (``regroup`` False) the rows are that already."""
    is_prev = table.column("prev")
    zero_int, zero = pa.scalar(0, pa.int64()), pa.scalar(0.0)
    if not regroup:
        count = table.num_rows
        return pa.table(
            {
                "period": table.column("period"),
                **{g: table.column(g) for g in groups},
                "cents": table.column("cents"),
                "fraction": table.column("fraction"),
                "quantity": table.column("quantity"),
                "prev_cents": pa.array(np.zeros(count, dtype=np.int64)),
                "prev_fraction": pa.array(np.zeros(count)),
            }
        )
    split = pa.table(
        {
            "period": table.column("period"),
            **{g: table.column(g) for g in groups},
            "cents": pc.if_else(is_prev, zero_int, table.column("cents")),
            "fraction": pc.if_else(is_prev, zero, table.column("fraction")),
            "quantity": pc.if_else(is_prev, zero, table.column("quantity")),
            "prev_cents": pc.if_else(is_prev, table.column("cents"), zero_int),
            "prev_fraction": pc.if_else(is_prev, table.column("fraction"), zero),
        }
    )
    keys = ["period", *groups]
    columns = ["cents", "fraction", "quantity", "prev_cents", "prev_fraction"]
    summed = split.group_by(keys, use_threads=False).aggregate([(c, "sum") for c in columns])
    return pa.table({**{k: summed.column(k) for k in keys}, **{c: summed.column(f"{c}_sum") for c in columns}})


def _round(whole: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, int]:
    """Each group's cents rounded down or up so they add up to the exact total rounded half to even: the
    largest fractions take the cents the floors leave (ties by position, which is stable)."""
    carry = np.floor(fraction)
    whole = whole.astype(np.int64) + carry.astype(np.int64)
    fraction = fraction - carry
    missing = int(round(float(fraction.sum())))
    if missing:
        order = np.argsort(-fraction, kind="stable")[:missing]
        whole = whole.copy()
        whole[order] += 1
    return whole, int(whole.sum())
