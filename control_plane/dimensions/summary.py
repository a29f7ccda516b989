"""What operators read of an allocation, materialized when it is computed, so reads never rescan the results.

A summary is a small table in long form, one row per (day, value, rule) — the *core* rows, `column` null —
and one per (day, value, column, column value) for each of `SUMMARY_COLUMNS` (the cost columns dashboards group
a dimension by), with the cents allocated, the usage quantity that goes with them, and `rows`: the cost rows
counted once each, at their first part, so sums of `rows` count cost rows, not parts. It is built per batch as
the engine runs (`of_batch`), merged (`merge`), and written next to the results; `GetAllocationState` and the
common `QueryCosts` shapes answer from it, whatever the size of the bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SUMMARY_COLUMNS = ("Provider", "ServiceName", "SubAccountId", "x_Model")
"""Cost columns a dimension's value is summarised by (per day): a cost query grouping or filtering a dimension
by one of them answers from the summary."""

TOTAL_TYPE = pa.decimal128(38, 2)
SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("rule", pa.string()),
        pa.field("column", pa.string()),
        pa.field("column_value", pa.string()),
        pa.field("amount", TOTAL_TYPE, nullable=False),
        pa.field("quantity", pa.float64(), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),
    ]
)
_KEYS = ["day", "value", "rule", "column", "column_value"]
_SUMS = [("amount", "sum"), ("quantity", "sum"), ("rows", "sum")]


def of_batch(costs: pa.Table, parts: pa.Table) -> pa.Table:
    """The summary of one batch: ``parts`` are the engine's output for ``costs`` with `row_id` = the row's
    position in ``costs`` (sorted by it, as the engine emits), ``costs`` has `ConsumedQuantity` and the
    `SUMMARY_COLUMNS` it holds.

    A part's quantity is the row's quantity times the part's share of the row's cost (an equal share of a
    row whose cost is zero), as `cost.query` computes it from the results."""
    n = costs.num_rows
    if parts.num_rows == 0:
        return SUMMARY_SCHEMA.empty_table()
    position = parts.column("row_id").to_numpy()
    amount = parts.column("amount").cast(pa.float64()).to_numpy()
    first = np.empty(len(position), dtype=bool)
    first[0] = True
    np.not_equal(position[1:], position[:-1], out=first[1:])
    if "ConsumedQuantity" in costs.column_names:
        consumed = costs.column("ConsumedQuantity").cast(pa.float64()).fill_null(0).to_numpy()
        row_amount = np.bincount(position, weights=amount, minlength=n)[position]
        row_parts = np.bincount(position, minlength=n)[position]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(row_amount == 0, 1.0 / row_parts, amount / row_amount)
        quantity = consumed[position] * share
    else:
        quantity = np.zeros(len(position))
    base = {
        "day": parts.column("day"),
        "value": parts.column("value"),
        "rule": parts.column("rule"),
        "amount": parts.column("amount"),
        "quantity": pa.array(quantity, pa.float64()),
        "rows": pa.array(first.astype(np.int64)),
    }
    pieces = [_grouped(pa.table({**base, "column": pa.nulls(len(position), pa.string())}), None)]
    take = pa.array(position)
    for name in SUMMARY_COLUMNS:
        if name not in costs.column_names:
            continue
        values = costs.column(name).take(take).cast(pa.string())
        without_rule = {k: v for k, v in base.items() if k != "rule"}
        pieces.append(_grouped(pa.table({**without_rule, "column_value": values}), name))
    return pa.concat_tables(pieces)


def _grouped(table: pa.Table, column: str | None) -> pa.Table:
    keys = [k for k in _KEYS if k in table.column_names]
    summed = table.group_by(keys, use_threads=False).aggregate(_SUMS)
    n = summed.num_rows
    columns = {
        "day": summed.column("day"),
        "value": summed.column("value"),
        "rule": summed.column("rule") if "rule" in keys else pa.nulls(n, pa.string()),
        "column": pa.array([column] * n, pa.string()) if column else pa.nulls(n, pa.string()),
        "column_value": summed.column("column_value") if "column_value" in keys else pa.nulls(n, pa.string()),
        "amount": summed.column("amount_sum").cast(TOTAL_TYPE),
        "quantity": summed.column("quantity_sum"),
        "rows": summed.column("rows_sum"),
    }
    return pa.table(columns, schema=SUMMARY_SCHEMA)


def merge(summaries: list[pa.Table]) -> pa.Table:
    """One summary of several (batches, partitions): rows with the same keys added up, sorted."""
    tables = [t for t in summaries if t.num_rows]
    if not tables:
        return SUMMARY_SCHEMA.empty_table()
    summed = pa.concat_tables(tables).group_by(_KEYS, use_threads=False).aggregate(_SUMS)
    table = pa.table(
        {
            **{k: summed.column(k) for k in _KEYS},
            "amount": summed.column("amount_sum").cast(TOTAL_TYPE),
            "quantity": summed.column("quantity_sum"),
            "rows": summed.column("rows_sum"),
        },
        schema=SUMMARY_SCHEMA,
    )
    return table.sort_by([("column", "ascending"), ("column_value", "ascending"), ("day", "ascending"),
                          ("value", "ascending"), ("rule", "ascending")])


def core(summary: pa.Table) -> pa.Table:
    """The (day, value, rule) rows."""
    return summary.filter(pc.is_null(summary.column("column")))


def by_column(summary: pa.Table, column: str) -> pa.Table:
    """The (day, value, column value) rows of one of `SUMMARY_COLUMNS`."""
    return summary.filter(pc.equal(summary.column("column"), column))


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


def totals(summary: pa.Table) -> Summary:
    """Per value and per rule, from the summary's core rows."""
    rows = core(summary)
    if rows.num_rows == 0:
        return Summary(Decimal(0), {}, {}, None, None, 0)
    by_value = rows.group_by("value", use_threads=False).aggregate([("amount", "sum")])
    by_rule = rows.group_by("rule", use_threads=False).aggregate([("amount", "sum"), ("rows", "sum")])
    values = dict(zip(by_value.column("value").to_pylist(), by_value.column("amount_sum").to_pylist(), strict=True))
    rules = {
        rule: (amount, count)
        for rule, amount, count in zip(
            by_rule.column("rule").to_pylist(),
            by_rule.column("amount_sum").to_pylist(),
            by_rule.column("rows_sum").to_pylist(),
            strict=True,
        )
    }
    return Summary(
        total=sum(values.values(), Decimal(0)),
        by_value=values,
        by_rule=rules,
        first_day=pc.min(rows.column("day")).as_py(),
        last_day=pc.max(rows.column("day")).as_py(),
        cost_rows=int(pc.sum(rows.column("rows")).as_py() or 0),
    )
