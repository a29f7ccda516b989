"""What operators read of an allocation, materialized when it is computed, so reads never rescan the results.

A summary is a small table in long form, one row per (day, value, rule) — the *core* rows, `column` null —
and one per (day, value, column, column value) for each of `SUMMARY_COLUMNS` (the cost columns dashboards group
a dimension by), with the cents allocated and the usage quantity that goes with them; the core rows also carry
`rows`: the cost rows counted once each, at their first part, so sums of `rows` count cost rows, not parts. It
is built per batch as the engine runs (`of_batch`), merged (`merge`), and written next to the results;
`GetAllocationState` and the common `QueryCosts` shapes answer from it, whatever the size of the bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

SUMMARY_COLUMNS = ("Provider", "ServiceName", "SubAccountId", "x_Model")
"""Cost columns a dimension's value is summarised by (per day): a cost query grouping or filtering a dimension
by one of them answers from the summary."""

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("rule", pa.string()),
        pa.field("column", pa.string()),
        pa.field("column_value", pa.string()),
        pa.field("cents", pa.int64(), nullable=False),
        pa.field("quantity", pa.float64(), nullable=False),
        pa.field("rows", pa.int64(), nullable=False),
    ]
)
_KEYS = ["day", "value", "rule", "column", "column_value"]


def of_batch(costs: pa.Table, parts: pa.Table) -> pa.Table:
    """The summary of one batch: ``parts`` are the engine's output for ``costs`` with `row_id` = the row's
    position in ``costs`` (sorted by it, as the engine emits), ``costs`` has `ConsumedQuantity` and the
    `SUMMARY_COLUMNS` it holds.

    A part's quantity is the row's quantity times the part's share of the row's cost (an equal share of a
    row whose cost is zero), as `cost.query` computes it from the results. Grouping is integer work: each key
    column's dictionary codes combined into one int64 per part."""
    if parts.num_rows == 0:
        return SUMMARY_SCHEMA.empty_table()
    position = parts.column("row_id").to_numpy()
    cents = _cents(parts.column("amount"))
    first = np.empty(len(position), dtype=bool)
    first[0] = True
    np.not_equal(position[1:], position[:-1], out=first[1:])
    if "ConsumedQuantity" in costs.column_names:
        consumed = costs.column("ConsumedQuantity").cast(pa.float64()).fill_null(0).to_numpy()
        amount = cents.astype(np.float64)
        row_amount = np.bincount(position, weights=amount, minlength=costs.num_rows)[position]
        row_parts = np.bincount(position, minlength=costs.num_rows)[position]
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(row_amount == 0, 1.0 / row_parts, amount / row_amount)
        quantity = consumed[position] * share
    else:
        quantity = np.zeros(len(position))
    rows = first.astype(np.float64)
    day, value, rule = _days(parts.column("day")), _codes(parts.column("value")), _codes(parts.column("rule"))
    sums = _Sums(cents, quantity if quantity.any() else None)
    core = _aggregate({"day": day, "value": value, "rule": rule}, None, sums, rows)
    pieces = [core]
    for name in SUMMARY_COLUMNS:
        if name not in costs.column_names:
            continue
        per_row, dictionary = _codes(costs.column(name))
        if len(per_row) and per_row.min() == per_row.max():  # one value (or none) in the batch: the core's sums
            only = per_row[0]
            pieces.append(_constant_piece(core, name, None if only == len(dictionary) else dictionary[only].as_py()))
            continue
        keys = {"day": day, "value": value, "column_value": (per_row[position], dictionary)}
        pieces.append(_aggregate(keys, name, sums, None))
    return pa.concat_tables(pieces)


def _constant_piece(core: pa.Table, column: str, column_value: str | None) -> pa.Table:
    """The piece of a column holding one value on every row of the batch (an AWS bill's `Provider`, its
    `x_Model`, null): per (day, value), the core rows added up over the rules."""
    summed = core.group_by(["day", "value"], use_threads=False).aggregate([("cents", "sum"), ("quantity", "sum")])
    n = summed.num_rows
    return pa.table(
        {
            "day": summed.column("day"),
            "value": summed.column("value"),
            "rule": pa.nulls(n, pa.string()),
            "column": pa.array([column] * n, pa.string()),
            "column_value": pa.array([column_value] * n, pa.string()),
            "cents": summed.column("cents_sum"),
            "quantity": summed.column("quantity_sum"),
            "rows": pa.array(np.zeros(n, dtype=np.int64)),
        },
        schema=SUMMARY_SCHEMA,
    )


class _Sums:
    """What is added up per group: cents, exactly, and the usage quantity when there is any."""

    def __init__(self, cents: np.ndarray, quantity: np.ndarray | None):
        self.cents, self.quantity = cents, quantity
        largest = max(abs(int(cents.max())), abs(int(cents.min()))) if len(cents) else 0
        # Float64 sums are exact below 2^53: when no sum can reach it (the usual case) one bincount does.
        self.as_float = cents.astype(np.float64) if largest * len(cents) < 1 << 53 else None

    def of(self, group_of: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        if self.as_float is not None:
            cents = np.bincount(group_of, weights=self.as_float, minlength=count).astype(np.int64)
        else:
            cents = _summed_in_halves(group_of, self.cents, count)
        if self.quantity is None:
            return cents, np.zeros(count)
        return cents, np.bincount(group_of, weights=self.quantity, minlength=count)


def merge(summaries: list[pa.Table]) -> pa.Table:
    """One summary of several (batches, partitions): rows with the same keys added up, sorted."""
    tables = [t for t in summaries if t.num_rows]
    if not tables:
        return SUMMARY_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    sums = _Sums(table.column("cents").to_numpy(), table.column("quantity").to_numpy())
    merged = _aggregate({k: _codes(table.column(k)) for k in _KEYS}, None, sums, table.column("rows").to_numpy())
    order = [(k, "ascending") for k in ("column", "column_value", "day", "value", "rule")]
    return merged.sort_by(order)


Codes = tuple[np.ndarray, pa.Array]
"""A key column as (per-row code, dictionary); nulls have code len(dictionary)."""


def _aggregate(keys: dict[str, Codes], column: str | None, sums: _Sums, rows: np.ndarray | None) -> pa.Table:
    """Per distinct combination of ``keys``: the sums, and the cost rows counted (``rows``: a weight per part;
    None: not counted)."""
    group_of, count, representative = _groups([code for code, _ in keys.values()], [d for _, d in keys.values()])
    cents, quantity = sums.of(group_of, count)
    counted = np.zeros(count) if rows is None else np.bincount(group_of, weights=rows, minlength=count)
    out: dict[str, pa.Array] = {}
    for name, (code, dictionary) in keys.items():
        picked = code[representative]
        out[name] = dictionary.take(pa.array(picked, mask=picked == len(dictionary)))
    nulls = pa.nulls(count, pa.string())
    return pa.table(
        {
            "day": out["day"],
            "value": out["value"],
            "rule": out.get("rule", nulls),
            "column": out.get("column", pa.array([column] * count, pa.string()) if column else nulls),
            "column_value": out.get("column_value", nulls),
            "cents": pa.array(cents, pa.int64()),
            "quantity": pa.array(quantity, pa.float64()),
            "rows": pa.array(counted.astype(np.int64), pa.int64()),
        },
        schema=SUMMARY_SCHEMA,
    )


def _groups(codes: list[np.ndarray], dictionaries: list[pa.Array]) -> tuple[np.ndarray, int, np.ndarray]:
    """(each row's group number, how many groups, a row of each group): the codes mixed into one int64 key,
    counted into a dense array of every combination when there are few (days × values × rules, or × a
    column's values: the usual case), else factorized."""
    combined = np.zeros(len(codes[0]) if codes else 0, dtype=np.int64)
    space = 1
    for code, dictionary in zip(codes, dictionaries, strict=True):
        size = len(dictionary) + 1
        if space * size >= 1 << 62:  # keep the mixed key inside int64: renumber what is mixed so far densely
            combined, uniques = pd.factorize(combined)
            space = len(uniques)
        combined = combined * size + code
        space *= size
    if space <= DENSE_GROUPS:
        present = np.flatnonzero(np.bincount(combined, minlength=space))
        number = np.zeros(space, dtype=np.int64)
        number[present] = np.arange(len(present))
        group_of, count = number[combined], len(present)
    else:
        group_of, uniques = pd.factorize(combined)
        count = len(uniques)
    representative = np.zeros(count, dtype=np.int64)
    representative[group_of] = np.arange(len(group_of))  # any row of the group: its keys are the group's
    return group_of, count, representative


DENSE_GROUPS = 1 << 22
"""Up to this many possible key combinations, groups are counted into a dense array rather than hashed."""


def _summed_in_halves(group_of: np.ndarray, cents: np.ndarray, count: int) -> np.ndarray:
    """Σ cents per group, exactly, when float64 sums could reach 2^53: the high and low 32-bit halves summed
    apart, a million values at a time."""
    summed = np.zeros(count, dtype=np.int64)
    for start in range(0, len(cents), 1 << 20):
        part, groups = cents[start : start + (1 << 20)], group_of[start : start + (1 << 20)]
        low = np.bincount(groups, weights=(part & 0xFFFFFFFF).astype(np.float64), minlength=count)
        high = np.bincount(groups, weights=(part >> 32).astype(np.float64), minlength=count)
        summed += (high.astype(np.int64) << 32) + low.astype(np.int64)
    return summed


def _days(array: pa.ChunkedArray) -> Codes:
    """Days as dense codes from the first day (no hashing)."""
    days = array.combine_chunks().cast(pa.int32()).to_numpy()
    first = int(days.min()) if len(days) else 0
    span = int(days.max()) - first + 1 if len(days) else 0
    return (days - first).astype(np.int64), pa.array(np.arange(first, first + span, dtype=np.int32)).cast(pa.date32())


def _codes(array: pa.ChunkedArray | pa.Array) -> Codes:
    if isinstance(array, pa.ChunkedArray):
        if pa.types.is_dictionary(array.type) and array.num_chunks > 1:
            array = pa.table({"c": array}).unify_dictionaries().column(0)
        array = array.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    dictionary = array.dictionary
    if not (pa.types.is_string(dictionary.type) or pa.types.is_date32(dictionary.type)):
        dictionary = dictionary.cast(pa.string())
    code = array.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False).astype(np.int64)
    return code, dictionary


def _cents(amount: pa.ChunkedArray) -> np.ndarray:
    """The cents of decimal128(18, 2) amounts: the unscaled value, below 10^18, is the low 64-bit word."""
    array = amount.combine_chunks()
    words = np.frombuffer(array.buffers()[1], dtype=np.int64, count=2 * (len(array) + array.offset))
    return words[2 * array.offset :: 2].copy()


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
    by_value = rows.group_by("value", use_threads=False).aggregate([("cents", "sum")])
    by_rule = rows.group_by("rule", use_threads=False).aggregate([("cents", "sum"), ("rows", "sum")])
    values = {
        value: _money(cents)
        for value, cents in zip(
            by_value.column("value").to_pylist(), by_value.column("cents_sum").to_pylist(), strict=True
        )
    }
    rules = {
        rule: (_money(cents), count)
        for rule, cents, count in zip(
            by_rule.column("rule").to_pylist(),
            by_rule.column("cents_sum").to_pylist(),
            by_rule.column("rows_sum").to_pylist(),
            strict=True,
        )
    }
    return Summary(
        total=sum(values.values(), Decimal("0.00")),
        by_value=values,
        by_rule=rules,
        first_day=pc.min(rows.column("day")).as_py(),
        last_day=pc.max(rows.column("day")).as_py(),
        cost_rows=int(pc.sum(rows.column("rows")).as_py() or 0),
    )


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)
