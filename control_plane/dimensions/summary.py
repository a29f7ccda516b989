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


SUMMARISED_PARTS = 1 << 20
"""Parts gathered before they are summarised: a batch's summary is nearly as long as a month's (every day ×
value × column value shows up in any sizeable batch), so summarising and merging fewer, larger spans is less
work; what is held stays bounded."""
FOLD = 8
"""Summaries held before they are merged into one."""


class Summariser:
    """The summary of a stream of batches (`add` each batch's costs and parts, then `result`), built over
    spans of about SUMMARISED_PARTS parts and merged as it goes, so what it holds does not grow with the size
    of a month."""

    def __init__(self) -> None:
        self._costs: list[pa.Table] = []
        self._parts: list[pa.Table] = []
        self._rows = self._held = 0
        self._summaries: list[pa.Table] = []

    def add(self, costs: pa.Table, parts: pa.Table) -> None:
        """``parts`` of ``costs`` as `of_batch` takes them (row_id = the position in ``costs``)."""
        kept = [c for c in ("ConsumedQuantity", *SUMMARY_COLUMNS) if c in costs.column_names]
        if self._rows:  # positions within the gathered span
            parts = parts.set_column(0, parts.schema.field(0), pc.add(parts.column("row_id"), self._rows))
        self._costs.append(costs.select(kept))
        self._parts.append(parts)
        self._rows += costs.num_rows
        self._held += parts.num_rows
        if self._held >= SUMMARISED_PARTS:
            self._summarise()

    def result(self) -> pa.Table:
        self._summarise()
        return merge(self._summaries, ordered=False)

    def _summarise(self) -> None:
        if self._parts:
            costs, parts = pa.concat_tables(self._costs, promote_options="default"), pa.concat_tables(self._parts)
            self._summaries.append(of_batch(costs, parts))
            self._costs, self._parts, self._rows, self._held = [], [], 0, 0
        if len(self._summaries) >= FOLD:
            self._summaries = [merge(self._summaries, ordered=False)]


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
    quantity = _quantities(costs, position, first, cents)
    sums = _Sums(cents, quantity)
    by_day_value = _Mix().then(*_days(parts.column("day"))).then(*_codes(parts.column("value")))
    core = _aggregate(("day", "value", "rule"), by_day_value.then(*_codes(parts.column("rule"))), sums, first)
    pieces = [core]
    per_day_value: pa.Table | None = None  # the pieces of columns holding one value in the whole batch
    for name in SUMMARY_COLUMNS:
        if name not in costs.column_names:
            continue
        per_row, dictionary = _codes(costs.column(name))
        if len(per_row) and per_row.min() == per_row.max():  # one value (or none) in the batch: no key to mix
            only = per_row[0]
            constant = None if only == len(dictionary) else dictionary[only].as_py()
            if per_day_value is None:
                per_day_value = _aggregate(("day", "value"), by_day_value, sums, None, column=(name, constant))
            count = per_day_value.num_rows
            pieces.append(
                per_day_value.set_column(3, "column", pa.array([name] * count, pa.string())).set_column(
                    4, "column_value", pa.array([constant] * count, pa.string())
                )
            )
            continue
        mix = by_day_value.then(per_row[position], dictionary)
        pieces.append(_aggregate(("day", "value", "column_value"), mix, sums, None, column=(name, None)))
    return pa.concat_tables(pieces)


def _quantities(costs: pa.Table, position: np.ndarray, first: np.ndarray, cents: np.ndarray) -> np.ndarray | None:
    """Each part's usage quantity, or None when the batch has none: the row's quantity, times the part's share
    of the row's cost where a row has several parts (``first`` flags each row's first part)."""
    if "ConsumedQuantity" not in costs.column_names:
        return None
    consumed = costs.column("ConsumedQuantity").cast(pa.float64()).fill_null(0).to_numpy()
    if not consumed.any():  # cost-only bills skip the shares altogether
        return None
    quantity = consumed[position]
    starts = np.flatnonzero(first)  # parts are sorted by row: each row's first part, then the others
    parts_of_row = np.diff(starts, append=len(position))
    if len(starts) < len(position):  # some row has several parts: share its quantity like its cost
        several = np.flatnonzero(np.repeat(parts_of_row > 1, parts_of_row))
        rows, amount = position[several], cents[several].astype(np.float64)
        row_amount = np.bincount(rows, weights=amount, minlength=costs.num_rows)[rows]
        parts = np.repeat(parts_of_row, parts_of_row)[several]
        with np.errstate(divide="ignore", invalid="ignore"):
            quantity[several] *= np.where(row_amount == 0, 1.0 / parts, amount / row_amount)
    return quantity


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


def merge(summaries: list[pa.Table], *, ordered: bool = True) -> pa.Table:
    """One summary of several (batches, partitions): rows with the same keys added up (Arrow's hash grouping;
    cents are int64, exact), sorted unless ``ordered`` is False (a fold before more batches come)."""
    tables = [t for t in summaries if t.num_rows]
    if not tables:
        return SUMMARY_SCHEMA.empty_table()
    grouped = (
        pa.concat_tables(tables)
        .group_by(_KEYS, use_threads=False)
        .aggregate([("cents", "sum"), ("quantity", "sum"), ("rows", "sum")])
        .rename_columns([*_KEYS, "cents", "quantity", "rows"])
        .select(SUMMARY_SCHEMA.names)
    )
    if ordered:
        grouped = grouped.sort_by([(k, "ascending") for k in ("column", "column_value", "day", "value", "rule")])
    return grouped.cast(SUMMARY_SCHEMA)


Codes = tuple[np.ndarray, pa.Array]
"""A key column as (per-row code, dictionary); nulls have code len(dictionary)."""


class _Mix:
    """Key columns mixed into one int64 per row, one column at a time (`then`), so that pieces sharing their
    leading keys (day and value) mix them once. A mix whose possible keys are few enough (days × values ×
    rules, or × a column's values: the usual case) is counted densely and each group's keys decoded from its
    number; when mixing would leave int64, what is mixed so far is renumbered first (and then hashed)."""

    def __init__(self) -> None:
        self.codes: list[np.ndarray] = []
        self.dictionaries: list[pa.Array] = []
        self.combined: np.ndarray | int = 0
        self.space = 1
        self.renumbered = False

    def then(self, code: np.ndarray, dictionary: pa.Array) -> _Mix:
        mixed = _Mix()
        mixed.codes, mixed.dictionaries = [*self.codes, code], [*self.dictionaries, dictionary]
        combined, space, renumbered = self.combined, self.space, self.renumbered
        size = len(dictionary) + 1
        if space * size >= 1 << 62:
            combined, uniques = pd.factorize(np.broadcast_to(combined, len(code)))
            space, renumbered = len(uniques), True
        mixed.combined = combined * size + code
        mixed.space, mixed.renumbered = space * size, renumbered
        return mixed

    @property
    def dense(self) -> bool:
        return self.space <= DENSE_GROUPS and not self.renumbered


def _aggregate(
    names: tuple[str, ...],
    mix: _Mix,
    sums: _Sums,
    rows: np.ndarray | None,
    *,
    column: tuple[str, str | None] | None = None,
) -> pa.Table:
    """Per distinct combination of the keys mixed (named ``names``): the sums, and the cost rows counted
    (``rows``: a flag per part, first parts; None: not counted). ``column``: the piece's column name and, when
    it is not a key, its one value."""
    combined = np.asarray(mix.combined, dtype=np.int64)
    if mix.dense:
        present = np.flatnonzero(np.bincount(combined, minlength=mix.space))
        cents, quantity = (summed[present] for summed in sums.of(combined, mix.space))
        counted = np.zeros(len(present)) if rows is None else np.bincount(combined, rows, minlength=mix.space)[present]
        picked, rest = [], present
        for dictionary in reversed(mix.dictionaries):
            rest, code = np.divmod(rest, len(dictionary) + 1)
            picked.append(code)
        picked.reverse()
    else:
        group_of, uniques = pd.factorize(combined)
        count = len(uniques)
        representative = np.zeros(count, dtype=np.int64)
        representative[group_of] = np.arange(len(group_of))  # any row of the group: its keys are the group's
        cents, quantity = sums.of(group_of, count)
        counted = np.zeros(count) if rows is None else np.bincount(group_of, weights=rows, minlength=count)
        picked = [code[representative] for code in mix.codes]
    count = len(cents)
    out = {
        name: dictionary.take(pa.array(code, mask=code == len(dictionary)))
        for name, code, dictionary in zip(names, picked, mix.dictionaries, strict=True)
    }
    nulls = pa.nulls(count, pa.string())
    if column is not None:
        out["column"] = pa.array([column[0]] * count, pa.string())
        out.setdefault("column_value", pa.array([column[1]] * count, pa.string()))
    return pa.table(
        {
            "day": out["day"],
            "value": out["value"],
            "rule": out.get("rule", nulls),
            "column": out.get("column", nulls),
            "column_value": out.get("column_value", nulls),
            "cents": pa.array(cents, pa.int64()),
            "quantity": pa.array(quantity, pa.float64()),
            "rows": pa.array(counted.astype(np.int64), pa.int64()),
        },
        schema=SUMMARY_SCHEMA,
    )


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
