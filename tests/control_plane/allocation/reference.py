"""Test oracle: the allocation engine's original per-row implementation (Fractions, one Python loop per cost row).

Kept verbatim apart from this docstring and the `reference_` names, so the vectorized `engine.allocate` can be
checked against it on random tables (test_allocation_oracle.py). Too slow for real data (~3.4 s per 200k rows).

Rounding policy: each source row's `BilledCost` is first rounded to cents, half-to-even. That row's cents are then
split by its coefficients (normalised weights summing to exactly 1) with largest-remainder rounding: every part
gets the floor of its exact share, and the cents left over go one each to the parts with the largest remainders,
ties broken by dimension value in ascending string order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.allocation.errors import AllocationError, ConservationError
from control_plane.allocation.rules import (
    TAG_PREFIX,
    AllocationKind,
    Always,
    And,
    Condition,
    Equals,
    Exists,
    In,
    Matches,
    Not,
    Or,
    Rule,
    VirtualDimension,
    percent_decimal,
)

CENT = Decimal("0.01")
AMOUNT_TYPE = pa.decimal128(18, 2)
ALLOCATIONS_SCHEMA = pa.schema(
    [
        pa.field("row_id", pa.int64(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("value", pa.string(), nullable=False),
        pa.field("amount", AMOUNT_TYPE, nullable=False),
        pa.field("rule", pa.string()),
    ]
)

# A row's coefficients: (dimension value, share) pairs sorted by value, shares summing to exactly 1.
Coefficients = tuple[tuple[str, Fraction], ...]


@dataclass
class AllocationResult:
    allocations: pa.Table
    """One row per (source row, dimension value): `row_id`, `day`, `value`, `amount` (decimal128(18, 2)), and
    `rule` (the rule that placed the part; null when no rule matched). Sorted by `row_id`, then `value`."""
    warnings: list[str] = field(default_factory=list)
    """Things the caller should know: days without usage, unmapped owners, null costs."""


def reference_allocate(
    costs: pa.Table, dimension: VirtualDimension, usage: Mapping[str, pa.Table] | None = None
) -> AllocationResult:
    """Spread every row of `costs` over the values of `dimension`; see the module docstring for rounding.

    `usage` maps the name of each METRIC rule to its usage table (`day` date32, `owner` string, `value` float64).
    """
    # 1. Normalise: check the inputs, stamp a row_id if absent, read each row's day, round its cost to cents.
    # 2. Match: evaluate every rule's condition once per distinct combination of the columns the rules read, and
    #    give each row the first rule that matches (none: the leftover bin).
    # 3. Coefficients: for each row, the normalised (value, share) pairs of its rule — one value for FIXED and
    #    FROM_COLUMN, fixed shares for the splits, that day's usage for METRIC — unplaced shares to the leftover.
    # 4. Distribute: split each row's cents by its coefficients with largest-remainder rounding.
    # 5. Conserve: check every row's parts sum to its rounded cost (raise ConservationError otherwise).
    # 6. Emit the parts sorted by row_id and value, with the warnings gathered on the way.
    usage = dict(usage or {})
    warnings: list[str] = []
    _check_usage_names(dimension, usage)

    row_ids, days, cents = _normalise(costs, warnings)
    rule_of_row, column_value_of_row = _match(costs, dimension)

    coefficients = _coefficients(dimension, usage, rule_of_row, column_value_of_row, days, warnings)

    out_row_id: list[int] = []
    out_day: list[date] = []
    out_value: list[str] = []
    out_cents: list[int] = []
    out_rule: list[str | None] = []
    for index in range(len(row_ids)):
        rule_index = int(rule_of_row[index])
        rule_name = dimension.rules[rule_index].name if rule_index >= 0 else None
        parts = _coefficients_of_row(index, rule_index, days[index], coefficients, dimension.leftover)
        amounts = largest_remainder(cents[index], parts)
        if sum(amounts) != cents[index]:
            raise ConservationError(
                f"row {row_ids[index]}: parts sum to {sum(amounts)} cents, the row costs {cents[index]}"
            )
        for (value, _share), amount in zip(parts, amounts, strict=True):
            out_row_id.append(row_ids[index])
            out_day.append(days[index])
            out_value.append(value)
            out_cents.append(amount)
            out_rule.append(rule_name if rule_index >= 0 else None)

    table = pa.table(
        {
            "row_id": pa.array(out_row_id, pa.int64()),
            "day": pa.array(out_day, pa.date32()),
            "value": pa.array(out_value, pa.string()),
            "amount": pa.array([Decimal(amount).scaleb(-2) for amount in out_cents], AMOUNT_TYPE),
            "rule": pa.array(out_rule, pa.string()),
        },
        schema=ALLOCATIONS_SCHEMA,
    )
    table = table.sort_by([("row_id", "ascending"), ("value", "ascending")])
    _check_conservation(table, row_ids, cents)
    return AllocationResult(allocations=table, warnings=warnings)


def preview_split(metric_by_owner: Mapping[str, float], cost: Decimal) -> dict[str, tuple[Decimal, Decimal]]:
    """The explorer's formula c = a / b * d: each owner's share a / b of the metric (b the total), times the cost
    d, with the engine's rounding (d to cents half-even, then largest remainder, ties by owner name)."""
    if not metric_by_owner:
        raise AllocationError("preview needs at least one owner with usage")
    weights = {owner: _exact(value, f"usage of {owner!r}") for owner, value in metric_by_owner.items()}
    total = sum(weights.values(), Fraction(0))
    if total <= 0:
        raise AllocationError("preview needs a positive total usage; every owner's usage is zero")
    parts = tuple(sorted((owner, weight / total) for owner, weight in weights.items()))
    amounts = largest_remainder(to_cents(Decimal(cost)), parts)
    return {
        owner: (Decimal(share.numerator) / Decimal(share.denominator), Decimal(amount).scaleb(-2))
        for (owner, share), amount in zip(parts, amounts, strict=True)
    }


def to_cents(amount: Decimal) -> int:
    """`amount` rounded to cents, half-to-even, as an integer count of cents."""
    return int(amount.quantize(CENT, rounding=ROUND_HALF_EVEN).scaleb(2))


def largest_remainder(cents: int, parts: Coefficients) -> list[int]:
    """Split `cents` by `parts` (shares summing to 1, sorted by value) so the amounts sum exactly to `cents`:
    floors first, then one cent each to the largest remainders, ties to the earlier value."""
    quotas = [cents * share for _value, share in parts]
    amounts = [quota.numerator // quota.denominator for quota in quotas]
    left = cents - sum(amounts)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(quotas[i] - amounts[i]), parts[i][0]))
    for i in by_remainder[:left]:
        amounts[i] += 1
    return amounts


# --- step 1: normalise -----------------------------------------------------------------------------------------


def _normalise(costs: pa.Table, warnings: list[str]) -> tuple[list[int], list[date], list[int]]:
    for name in ("ChargePeriodStart", "BilledCost"):
        if name not in costs.column_names:
            raise AllocationError(f"the cost table has no {name!r} column; add it before allocating")
    if "row_id" in costs.column_names:
        row_ids = costs.column("row_id").cast(pa.int64()).to_pylist()
        if None in row_ids or len(set(row_ids)) != len(row_ids):
            raise AllocationError("row_id must be non-null and unique; drop the column to have one assigned")
    else:
        row_ids = list(range(costs.num_rows))

    day_column = costs.column("ChargePeriodStart")
    if not pa.types.is_date32(day_column.type):
        day_column = day_column.cast(pa.date32())
    days = day_column.to_pylist()
    if None in days:
        raise AllocationError("ChargePeriodStart must be non-null on every cost row")

    billed = costs.column("BilledCost")
    if not (pa.types.is_decimal(billed.type) or pa.types.is_floating(billed.type)):
        raise AllocationError(f"BilledCost must be decimal or float64, got {billed.type}")
    cents: list[int] = []
    nulls = 0
    for amount in billed.to_pylist():
        if amount is None:
            nulls += 1
            cents.append(0)
            continue
        exact = Decimal(repr(amount)) if isinstance(amount, float) else amount
        if not exact.is_finite():
            raise AllocationError(f"BilledCost must be finite, got {amount!r}")
        cents.append(to_cents(exact))
    if nulls:
        warnings.append(f"{nulls} cost rows with a null BilledCost were counted as 0")
    return row_ids, days, cents


def _check_usage_names(dimension: VirtualDimension, usage: Mapping[str, pa.Table]) -> None:
    metric_rules = {rule.name for rule in dimension.rules if rule.allocation.kind is AllocationKind.METRIC}
    for name in usage:
        if name not in metric_rules:
            raise AllocationError(f"usage given for {name!r}, which is not a METRIC rule of {dimension.name!r}")
    for name in metric_rules:
        if name not in usage:
            raise AllocationError(f"METRIC rule {name!r} needs a usage table (day, owner, value) in `usage`")
        missing = {"day", "owner", "value"} - set(usage[name].column_names)
        if missing:
            raise AllocationError(f"usage table of rule {name!r} lacks columns {sorted(missing)}")


# --- step 2: match ---------------------------------------------------------------------------------------------


def _reference_column(costs: pa.Table, reference: str) -> pa.Array:
    """The string values of a column or `tag:<key>` reference, one per cost row (null where absent)."""
    if reference.startswith(TAG_PREFIX):
        if "Tags" not in costs.column_names:
            return pa.nulls(costs.num_rows, pa.string())
        tags = costs.column("Tags").combine_chunks()
        return pc.map_lookup(tags, pa.scalar(reference[len(TAG_PREFIX) :]), "first").cast(pa.string())
    if reference not in costs.column_names:
        raise AllocationError(f"a rule reads column {reference!r}, which the cost table lacks")
    return costs.column(reference).combine_chunks().cast(pa.string())


def _distinct_keys(costs: pa.Table, references: Sequence[str]) -> tuple[pa.Table, np.ndarray]:
    """The distinct combinations of the referenced columns, and for each row the index of its combination."""
    if not references or costs.num_rows == 0:
        return pa.table({name: pa.nulls(1, pa.string()) for name in references} or {"_": [0]}), np.zeros(
            costs.num_rows, dtype=np.int64
        )
    columns = {reference: _reference_column(costs, reference) for reference in references}
    codes = []
    for column in columns.values():
        encoded = pc.dictionary_encode(column)
        codes.append(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64))
    _unique, first, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_index=True, return_inverse=True)
    keys = pa.table({name: column.take(pa.array(first)) for name, column in columns.items()})
    return keys, np.asarray(inverse).reshape(-1)


def reference_evaluate(condition: Condition, keys: pa.Table) -> np.ndarray:
    """The condition on every row of `keys` (one column per reference), as a boolean array; null is False."""
    if isinstance(condition, Always):
        return np.ones(keys.num_rows, dtype=bool)
    if isinstance(condition, Equals):
        result = pc.equal(keys.column(condition.column), pa.scalar(condition.value, pa.string()))
        return result.fill_null(False).to_numpy(zero_copy_only=False)
    if isinstance(condition, In):
        result = pc.is_in(keys.column(condition.column), value_set=pa.array(condition.values, pa.string()))
        return result.fill_null(False).to_numpy(zero_copy_only=False)
    if isinstance(condition, Exists):
        column = keys.column(condition.column)
        result = pc.and_(pc.is_valid(column), pc.greater(pc.binary_length(column), 0))
        return result.fill_null(False).to_numpy(zero_copy_only=False)
    if isinstance(condition, Matches):
        # Python `re` on the distinct values only (pyarrow's regexes are RE2, a different dialect).
        column = keys.column(condition.column).combine_chunks()
        values = pc.unique(column)
        hits = {value: True for value in values.to_pylist() if value is not None and _search(condition.regex, value)}
        return np.array([hits.get(value, False) for value in column.to_pylist()], dtype=bool)
    if isinstance(condition, And):
        return np.logical_and.reduce([reference_evaluate(operand, keys) for operand in condition.operands])
    if isinstance(condition, Or):
        return np.logical_or.reduce([reference_evaluate(operand, keys) for operand in condition.operands])
    if isinstance(condition, Not):
        return ~reference_evaluate(condition.operand, keys)
    raise AllocationError(f"unknown condition {condition!r}")


def _search(regex: str, value: str) -> bool:
    return re.search(regex, value) is not None


def _match(costs: pa.Table, dimension: VirtualDimension) -> tuple[np.ndarray, list[str | None]]:
    """For each cost row, the index of the first matching rule (-1 for none), and the mapped value of its
    FROM_COLUMN rule (None otherwise, or when the column value maps to nothing)."""
    references = sorted(dimension.references())
    keys, key_of_row = _distinct_keys(costs, references)
    rule_of_key = np.full(keys.num_rows, -1, dtype=np.int64)
    for index, rule in enumerate(dimension.rules):
        undecided = rule_of_key == -1
        if not undecided.any():
            break
        rule_of_key[undecided & reference_evaluate(rule.condition, keys)] = index

    value_of_key: list[str | None] = [None] * keys.num_rows
    for index, rule in enumerate(dimension.rules):
        if rule.allocation.kind is not AllocationKind.FROM_COLUMN:
            continue
        raw_values = keys.column(rule.allocation.column).to_pylist()
        for key in np.flatnonzero(rule_of_key == index):
            value_of_key[key] = rule.allocation.mapping.apply(raw_values[key])

    rule_of_row = rule_of_key[key_of_row] if costs.num_rows else np.zeros(0, dtype=np.int64)
    return rule_of_row, [value_of_key[key] for key in key_of_row]


# --- step 3: coefficients --------------------------------------------------------------------------------------


@dataclass
class _RowCoefficients:
    by_rule: dict[int, Coefficients]
    """Coefficients shared by every row of a rule (FIXED, SPLIT_PERCENT, SPLIT_EVEN)."""
    by_rule_day: dict[tuple[int, date], Coefficients]
    """Coefficients of a METRIC rule on one day."""
    by_row: dict[int, Coefficients]
    """Coefficients of one row (FROM_COLUMN)."""


def _coefficients(
    dimension: VirtualDimension,
    usage: Mapping[str, pa.Table],
    rule_of_row: np.ndarray,
    column_value_of_row: list[str | None],
    days: list[date],
    warnings: list[str],
) -> _RowCoefficients:
    leftover = dimension.leftover
    result = _RowCoefficients({}, {}, {})
    for index, rule in enumerate(dimension.rules):
        allocation = rule.allocation
        rows = np.flatnonzero(rule_of_row == index)
        kind = allocation.kind
        if kind is AllocationKind.FIXED:
            result.by_rule[index] = ((allocation.value, Fraction(1)),)
        elif kind is AllocationKind.SPLIT_PERCENT:
            weights = {value: Fraction(percent_decimal(p)) for value, p in allocation.percentages.items()}
            result.by_rule[index] = _normalised(weights)
        elif kind is AllocationKind.SPLIT_EVEN:
            result.by_rule[index] = _normalised({value: Fraction(1) for value in allocation.values})
        elif kind is AllocationKind.FROM_COLUMN:
            unmapped = 0
            for row in rows:
                value = column_value_of_row[row]
                if value is None:
                    unmapped += 1
                result.by_row[int(row)] = ((value or leftover, Fraction(1)),)
            if unmapped:
                warnings.append(
                    f"rule {rule.name}: {unmapped} rows whose {allocation.column} maps to nothing went to {leftover}"
                )
        elif kind is AllocationKind.METRIC:
            matched_days = {days[row] for row in rows}
            by_day, unmapped_owners = _usage_weights(rule, usage[rule.name], leftover, matched_days)
            without_usage = 0
            for day in sorted(matched_days):
                weights = by_day.get(day)
                if weights is None:
                    without_usage += 1
                    weights = {leftover: Fraction(1)}
                result.by_rule_day[(index, day)] = _normalised(weights)
            if without_usage:
                warnings.append(f"rule {rule.name}: {without_usage} days without usage went to {leftover}")
            if unmapped_owners:
                shown = ", ".join(sorted(unmapped_owners)[:5]) + (", …" if len(unmapped_owners) > 5 else "")
                warnings.append(
                    f"rule {rule.name}: usage of {len(unmapped_owners)} owners that map to nothing went to "
                    f"{leftover} ({shown})"
                )
    return result


def _usage_weights(
    rule: Rule, table: pa.Table, leftover: str, matched_days: set[date]
) -> tuple[dict[date, dict[str, Fraction]], set[str]]:
    """Per day with positive usage, the summed usage per dimension value (unmapped owners under `leftover`)."""
    day_column = table.column("day")
    if not pa.types.is_date32(day_column.type):
        day_column = day_column.cast(pa.date32())
    mapping = rule.allocation.mapping
    by_day: dict[date, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    unmapped: set[str] = set()
    mapped_owner: dict[str | None, str | None] = {}
    for day, owner, value in zip(
        day_column.to_pylist(), table.column("owner").to_pylist(), table.column("value").to_pylist(), strict=True
    ):
        if day not in matched_days or value is None:
            continue
        weight = _exact(value, f"usage of rule {rule.name!r} on {day} for owner {owner!r}")
        if owner not in mapped_owner:
            mapped_owner[owner] = mapping.apply(owner)
        target = mapped_owner[owner]
        if target is None:
            if weight:
                unmapped.add(str(owner))
            target = leftover
        by_day[day][target] += weight
    positive = {day: dict(weights) for day, weights in by_day.items() if sum(weights.values()) > 0}
    return positive, unmapped


def _exact(value: float | int | Decimal, what: str) -> Fraction:
    exact = Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)
    if exact < 0:
        raise AllocationError(f"{what} is negative ({value}); usage must be >= 0")
    return exact


def _normalised(weights: Mapping[str, Fraction]) -> Coefficients:
    """(value, share) pairs sorted by value, shares summing to exactly 1; zero weights are dropped."""
    total = sum(weights.values(), Fraction(0))
    return tuple((value, weight / total) for value, weight in sorted(weights.items()) if weight)


def _coefficients_of_row(
    row: int, rule_index: int, day: date, coefficients: _RowCoefficients, leftover: str
) -> Coefficients:
    if rule_index < 0:
        return ((leftover, Fraction(1)),)
    if rule_index in coefficients.by_rule:
        return coefficients.by_rule[rule_index]
    if row in coefficients.by_row:
        return coefficients.by_row[row]
    return coefficients.by_rule_day[(rule_index, day)]


# --- step 5: conserve ------------------------------------------------------------------------------------------


def _check_conservation(table: pa.Table, row_ids: list[int], cents: list[int]) -> None:
    """Σ amount per source row == the row's rounded cost, recomputed from the emitted table."""
    sums = table.group_by("row_id").aggregate([("amount", "sum")])
    got = dict(zip(sums.column("row_id").to_pylist(), sums.column("amount_sum").to_pylist(), strict=True))
    for row_id, expected in zip(row_ids, cents, strict=True):
        if to_cents(got.get(row_id, Decimal(0))) != expected:
            raise ConservationError(
                f"row {row_id}: allocated {got.get(row_id, Decimal(0))}, its rounded cost is "
                f"{Decimal(expected).scaleb(-2)}"
            )
