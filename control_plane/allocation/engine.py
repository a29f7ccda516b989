"""The allocation engine: a pure core that spreads cost rows over the values of a virtual dimension.

No database, no network: the cost table and the usage tables are fetched elsewhere and handed in.

Rounding policy: each source row's `BilledCost` is first rounded to cents, half-to-even. That row's cents are then
split by its coefficients (normalised weights summing to exactly 1) with largest-remainder rounding: every part
gets the floor of its exact share, and the cents left over go one each to the parts with the largest remainders,
ties broken by dimension value in ascending string order. The parts of a row therefore add up exactly to the
row's rounded cost, and the result is deterministic. All arithmetic is exact (decimals, fractions and integers;
floats are read as written, `0.1` is one tenth).

The engine is columnar: each condition is evaluated once per distinct value of the column it reads and spread over
the rows with integer lookups over dictionary codes (no table of combinations, no string work per row), and the cents
of the cost rows are split with numpy integer arithmetic per coefficient group (a rule, a METRIC rule on one day,
or a FROM_COLUMN rule's mapped value), never with a Python loop over the rows. To bound memory, the columns the
rules read are encoded, and the parts distributed and emitted, CHUNK_ROWS rows at a time; a row's parts depend only
on the row, so the result does not depend on the chunk size (the result's columns are then one chunk per piece).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from math import lcm
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.allocation import regex
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
CODED_ALLOCATIONS_SCHEMA = pa.schema(
    [
        field.with_type(pa.dictionary(pa.int32(), pa.string())) if field.name in ("value", "rule") else field
        for field in ALLOCATIONS_SCHEMA
    ]
)
MAX_CENTS = 10**18  # exclusive: amounts are decimal128(18, 2)
EPOCH = date(1970, 1, 1)
INT64_LIMIT = 2**63
CHUNK_ROWS = 1 << 20
"""Rows encoded, distributed and emitted at a time: bounds the working memory next to the input and the result.
The result does not depend on it (a test forces a tiny value)."""

# A row's coefficients: (dimension value, share) pairs sorted by value, shares summing to exactly 1.
Coefficients = tuple[tuple[str, Fraction], ...]

T = TypeVar("T")


@dataclass
class AllocationResult:
    allocations: pa.Table
    """One row per (source row, dimension value): `row_id`, `day`, `value`, `amount` (decimal128(18, 2)), and
    `rule` (the rule that placed the part; null when no rule matched). Sorted by `row_id`, then `value`."""
    warnings: list[str] = field(default_factory=list)
    """Things the caller should know: days without usage, unmapped owners, null costs."""


def allocate(
    costs: pa.Table, dimension: VirtualDimension, usage: Mapping[str, pa.Table] | None = None, *, coded: bool = False
) -> AllocationResult:
    """Spread every row of `costs` over the values of `dimension`; see the module docstring for rounding.

    `usage` maps the name of each METRIC rule to its usage table (`day` date32, `owner` string, `value` float64).
    ``coded``: `value` and `rule` come as dictionary arrays (CODED_ALLOCATIONS_SCHEMA) over the dimension's
    values and rule names, as the engine holds them, for callers that group or write them (no hashing again).
    """
    allocator = Allocator(dimension, usage)
    table = allocator.allocate(costs, coded=coded)
    return AllocationResult(allocations=table, warnings=allocator.warnings())


@dataclass
class Tally:
    """What the warnings count. Adds up over batches (`Allocator`) and partitions (`add`) before it is put
    into words (`messages`), so a month cut into batches warns once, with its totals."""

    null_costs: int = 0
    unmapped_rows: dict[int, int] = field(default_factory=dict)
    """FROM_COLUMN rule index -> rows whose value maps to nothing (or is null)."""
    days_without_usage: dict[int, set[int]] = field(default_factory=dict)
    """METRIC rule index -> days (since the epoch) with matched cost and no usage."""
    unmapped_owners: dict[int, set[str]] = field(default_factory=dict)
    """METRIC rule index -> owners with usage on matched days that map to no value."""

    def add(self, other: Tally) -> None:
        self.null_costs += other.null_costs
        for index, count in other.unmapped_rows.items():
            self.unmapped_rows[index] = self.unmapped_rows.get(index, 0) + count
        for index, days in other.days_without_usage.items():
            self.days_without_usage.setdefault(index, set()).update(days)
        for index, owners in other.unmapped_owners.items():
            self.unmapped_owners.setdefault(index, set()).update(owners)

    def messages(self, dimension: VirtualDimension) -> list[str]:
        """The warnings, in rule order: null costs, unmapped values, days without usage, unmapped owners."""
        out = []
        if self.null_costs:
            out.append(f"{self.null_costs} cost rows with a null BilledCost were counted as 0")
        leftover = dimension.leftover
        for index, rule in enumerate(dimension.rules):
            if self.unmapped_rows.get(index):
                out.append(
                    f"rule {rule.name}: {self.unmapped_rows[index]} rows whose {rule.allocation.column} maps to "
                    f"nothing went to {leftover}"
                )
            if self.days_without_usage.get(index):
                days = len(self.days_without_usage[index])
                out.append(f"rule {rule.name}: {days} days without usage went to {leftover}")
            owners = self.unmapped_owners.get(index)
            if owners:
                shown = ", ".join(sorted(owners)[:5]) + (", …" if len(owners) > 5 else "")
                out.append(
                    f"rule {rule.name}: usage of {len(owners)} owners that map to nothing went to {leftover} ({shown})"
                )
        return out


class Allocator:
    """Allocates one dimension's cost rows a batch at a time (`allocate`). What does not depend on the batch is
    built once and kept: the coefficient groups (each value, each split's shares, a METRIC rule's shares per day,
    a FROM_COLUMN rule's mapping per distinct value) and the usage read into exact weights, so a month streamed
    one row group at a time pays for them once. The warnings add up over the batches (`warnings`)."""

    def __init__(self, dimension: VirtualDimension, usage: Mapping[str, pa.Table] | None = None):
        self.dimension = dimension
        self._usage = dict(usage or {})
        _check_usage_names(dimension, self._usage)
        self._registry = _Groups()
        self._leftover_group = self._registry.single(dimension.leftover)
        rules = dimension.rules
        # index -1 (no rule): the leftover
        self._group_of_rule = np.full(len(rules) + 1, self._leftover_group, dtype=np.int64)
        self._per_row_rules: list[int] = []
        for index, rule in enumerate(rules):
            allocation = rule.allocation
            kind = allocation.kind
            if kind is AllocationKind.FIXED:
                self._group_of_rule[index] = self._registry.single(_given(allocation.value, rule, "value"))
            elif kind is AllocationKind.SPLIT_PERCENT:
                percentages = _given(allocation.percentages, rule, "percentages")
                weights = {value: Fraction(percent_decimal(p)) for value, p in percentages.items()}
                self._group_of_rule[index] = self._registry.group(_normalised(weights))
            elif kind is AllocationKind.SPLIT_EVEN:
                values = _given(allocation.values, rule, "values")
                self._group_of_rule[index] = self._registry.group(_normalised({v: Fraction(1) for v in values}))
            else:
                self._per_row_rules.append(index)
        self._rule_names = pa.array([rule.name for rule in rules], pa.string())
        self._decided: dict[str, _Decided] = {}
        self._daily: dict[int, _DailyUsage] = {}
        self._group_of_day: dict[int, dict[int, int]] = defaultdict(dict)
        self._group_of_mapped: dict[int, dict[str, int | None]] = defaultdict(dict)
        self._plan: _Plan | None = None
        self.tally = Tally()
        """What the warnings count, over every batch so far."""

    def allocate(self, costs: pa.Table, *, coded: bool = False) -> pa.Table:
        """The parts of one batch of cost rows (see `AllocationResult.allocations`)."""
        # 1. Normalise: check the inputs; read row_ids (stamped 0..n-1 if absent), days and costs as numpy arrays;
        #    round every cost to integer cents, half-to-even, vectorized (floats as written, decimals exactly).
        # 2. Match: dictionary-encode the columns and tags the rules read, evaluate each condition once per
        #    distinct value of the column it reads, spread the answers over the rows by integer lookup, and give
        #    each row the first rule that matches (none: leftover).
        # 3. Coefficient groups: give each row the group of its coefficients — the leftover, a FIXED value or a
        #    FROM_COLUMN mapped value (one part each), a split's fixed shares, or a METRIC rule's shares on the
        #    row's day (that day's usage; unplaced usage and days without usage to the leftover). Each group holds
        #    its values sorted, and its shares as integer numerators over one common denominator D.
        # 4. Distribute (steps 4-6 per chunk of CHUNK_ROWS rows, in row_id order): per group, for all its rows at
        #    once, floor = cents * n_i // D and remainder = cents * n_i % D (int64 when it cannot overflow, Python
        #    ints otherwise); the cents left over go one each to the parts with the largest remainders, ties to
        #    the smaller value.
        # 5. Emit: the chunk's parts laid out by row_id, then value, as Arrow columns.
        # 6. Conserve: from the chunk's emitted amounts, check every row's parts sum to its rounded cost
        #    (ConservationError). The result's columns are the chunks' pieces, in row_id order.
        rows = _normalise(costs)
        self.tally.null_costs += rows.null_costs
        encoded, rule_of_row = _match(costs, self.dimension, self._decided)
        group_of_row, rule_of_row = self._groups_of_rows(encoded, rule_of_row, rows.days)
        del encoded
        plan = self._current_plan()

        # Steps 4-6 run on CHUNK_ROWS rows at a time, in row_id order: a row's parts depend only on its own cents
        # and coefficient group, so the pieces are the parts of the whole table. The per-row arrays are cut into
        # chunks first and each chunk is dropped once emitted, so what is left of them shrinks as the result
        # grows; only one chunk's working arrays live at a time, and the result's columns are the pieces' chunks,
        # never concatenated.
        chunks = _chunks(rows, group_of_row, rule_of_row)
        del rows, group_of_row, rule_of_row
        pieces = []
        chunks.reverse()
        while chunks:
            chunk = chunks.pop()
            counts = plan.group_sizes[chunk.groups]
            starts = np.cumsum(counts) - counts
            words, out_value = _distribute(chunk, plan, counts, starts)
            table = _emit(chunk, plan.values, self._rule_names, counts, words, out_value, coded)
            del words, out_value
            _check_conservation(table, chunk, starts)
            pieces.append(table)
            del chunk, counts, starts, table
        return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)

    def warnings(self) -> list[str]:
        """What the caller should know of every batch so far."""
        return self.tally.messages(self.dimension)

    def _groups_of_rows(
        self, encoded: Mapping[str, _Encoded], rule_of_row: np.ndarray, days: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each cost row's coefficient group (int32; int64 beyond 2**31 groups) and rule index (-1 for none; int16,
        int32 beyond 2**15 rules).

        A FIXED or split rule is one group for all its rows; a FROM_COLUMN rule maps each distinct value of its column
        once; a METRIC rule has one group per day it covers. Rows get their group by integer lookups."""
        rules = self.dimension.rules
        leftover_group = self._leftover_group
        group_of_row = self._group_of_rule[rule_of_row]
        first_day = int(days.min()) if len(days) else 0
        span = int(days.max()) - first_day + 1 if len(days) else 1
        for index in self._per_row_rules:
            rule = rules[index]
            allocation = rule.allocation
            matched = np.flatnonzero(rule_of_row == index)
            if not len(matched):
                continue
            if allocation.kind is AllocationKind.FROM_COLUMN:
                column = encoded[_given(allocation.column, rule, "column")]
                codes = column.codes[matched]
                used = np.unique(codes[codes >= 0])
                names = column.dictionary.take(pa.array(used)).to_pylist() if len(used) else []
                known = self._group_of_mapped[index]
                unknown = [name for name in names if name not in known]
                if unknown:
                    mapped = allocation.mapping.map(pa.array(unknown, pa.string())).to_pylist()
                    for name, value in zip(unknown, mapped, strict=True):
                        known[name] = None if value is None else self._registry.single(value or self.dimension.leftover)
                # code -1 (null) picks the last entry: the leftover
                group_of_code = np.full(len(column.dictionary) + 1, leftover_group, dtype=np.int64)
                unmapped_code = np.ones(len(column.dictionary) + 1, dtype=bool)
                for code, name in zip(used.tolist(), names, strict=True):
                    group = known[name]
                    if group is not None:
                        group_of_code[code] = group
                        unmapped_code[code] = False
                group_of_row[matched] = group_of_code[codes]
                unmapped = int(np.count_nonzero(unmapped_code[codes]))
                if unmapped:
                    self.tally.unmapped_rows[index] = self.tally.unmapped_rows.get(index, 0) + unmapped
            else:  # METRIC: one group per day, from that day's usage
                daily = self._daily.get(index)
                if daily is None:
                    daily = self._daily[index] = _daily_usage(rule, self._usage[rule.name], self.dimension.leftover)
                day_of_row = days[matched] - first_day
                group_of_day = np.full(span, leftover_group, dtype=np.int64)
                known_days = self._group_of_day[index]
                for offset in np.unique(day_of_row).tolist():
                    day = offset + first_day
                    when = EPOCH + timedelta(days=day)
                    if when in daily.unmapped:
                        self.tally.unmapped_owners.setdefault(index, set()).update(daily.unmapped[when])
                    if day not in known_days:
                        usage_weights = daily.weights.get(when)
                        if usage_weights is None:
                            self.tally.days_without_usage.setdefault(index, set()).add(day)
                            known_days[day] = leftover_group
                        else:
                            known_days[day] = self._registry.group(_normalised(usage_weights))
                    group_of_day[offset] = known_days[day]
                group_of_row[matched] = group_of_day[day_of_row]
        # per-row arrays in the narrowest type that holds them: they live as long as the batch is being allocated
        group_type = np.int32 if len(self._registry.groups) < 2**31 else np.int64
        rule_type = np.int16 if len(rules) < 2**15 else np.int32
        return group_of_row.astype(group_type), rule_of_row.astype(rule_type)

    def _current_plan(self) -> _Plan:
        """The groups as arrays, built again only when a batch added groups."""
        if self._plan is None or len(self._plan.groups) != len(self._registry.groups):
            self._plan = self._registry.plan()
        return self._plan


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


@dataclass
class _Rows:
    row_ids: np.ndarray | None
    """int64, one per cost row, in input order; None when the table has no row_id column (they are 0..n-1)."""
    days: np.ndarray
    """int32 days since 1970-01-01."""
    cents: np.ndarray
    """int64 BilledCost rounded to cents (0 where null)."""
    order: np.ndarray | None
    """The permutation that sorts the rows by row_id; None when they already are."""
    null_costs: int = 0
    """Rows whose BilledCost is null (counted as 0)."""


@dataclass
class _Chunk:
    """Consecutive cost rows in row_id order, with what steps 4-6 need of them."""

    start: int
    """The position of the chunk's first row in row_id order."""
    row_ids: np.ndarray | None
    """None when the table has no row_id column: they are the positions, see `ids`."""
    days: np.ndarray
    cents: np.ndarray
    groups: np.ndarray
    """Each row's coefficient group."""
    rules: np.ndarray
    """Each row's rule index, -1 for none."""

    @property
    def ids(self) -> np.ndarray:
        if self.row_ids is None:
            return np.arange(self.start, self.start + len(self.cents), dtype=np.int64)
        return self.row_ids


def _chunks(rows: _Rows, group_of_row: np.ndarray, rule_of_row: np.ndarray) -> list[_Chunk]:
    """The rows in row_id order, CHUNK_ROWS at a time (at least one chunk). Several chunks are copies (a view
    would keep its whole array alive), so the whole-table arrays can be freed, and each chunk once emitted."""
    n = len(rows.cents)
    bounds = [(start, min(start + CHUNK_ROWS, n)) for start in range(0, n, CHUNK_ROWS)] or [(0, 0)]
    copy = len(bounds) > 1 and rows.order is None  # a gather through `order` is a copy already
    chunks = []
    for start, stop in bounds:
        where: slice | np.ndarray = slice(start, stop) if rows.order is None else rows.order[start:stop]

        def take(array: np.ndarray, where: slice | np.ndarray = where) -> np.ndarray:
            return array[where].copy() if copy else array[where]

        row_ids = None if rows.row_ids is None else take(rows.row_ids)
        chunks.append(_Chunk(start, row_ids, take(rows.days), take(rows.cents), take(group_of_row), take(rule_of_row)))
    return chunks


ROW_ID_MESSAGE = "row_id must be non-null and unique; drop the column to have one assigned"


def _normalise(costs: pa.Table) -> _Rows:
    for name in ("ChargePeriodStart", "BilledCost"):
        if name not in costs.column_names:
            raise AllocationError(f"the cost table has no {name!r} column; add it before allocating")
    n = costs.num_rows
    order = None
    if "row_id" in costs.column_names:
        column = costs.column("row_id").cast(pa.int64())
        if column.null_count:
            raise AllocationError(ROW_ID_MESSAGE)
        row_ids = np.ascontiguousarray(column.to_numpy(), dtype=np.int64)
        if n > 1 and not bool(np.all(row_ids[1:] > row_ids[:-1])):
            order = np.argsort(row_ids, kind="stable")
            ordered = row_ids[order]
            if bool(np.any(ordered[1:] == ordered[:-1])):
                raise AllocationError(ROW_ID_MESSAGE)
    else:
        row_ids = None

    day_column = costs.column("ChargePeriodStart")
    if day_column.null_count:
        raise AllocationError("ChargePeriodStart must be non-null on every cost row")
    days = _days(day_column)

    billed = costs.column("BilledCost")
    if not (pa.types.is_decimal(billed.type) or pa.types.is_floating(billed.type)):
        raise AllocationError(f"BilledCost must be decimal or float64, got {billed.type}")
    billed_array = _whole(billed)
    if pa.types.is_floating(billed.type):
        cents = _float_cents(billed_array.cast(pa.float64()))
    else:
        cents = _decimal_cents(billed_array)
    return _Rows(row_ids, days, cents, order, billed_array.null_count)


_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _days(column: pa.ChunkedArray) -> np.ndarray:
    """Each row's UTC day (int32 days since 1970-01-01): integer division of UTC timestamps (what cost partitions
    hold), a cast otherwise."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz in (None, "UTC", "+00:00", "Z"):
        array = _whole(column)
        raw = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array)]
        return (raw // _PER_DAY[kind.unit]).astype(np.int32)
    if not pa.types.is_date32(kind):
        column = column.cast(pa.date32())
    return np.ascontiguousarray(column.cast(pa.int32()).to_numpy(), dtype=np.int32)


def _float_cents(array: pa.Array) -> np.ndarray:
    """Cents of float64 costs read as written (the shortest repr, as Python's `Decimal(repr(x))`), half-even.

    Where x * 100 is clearly away from a half cent, rounding it in binary gives the same cents as rounding the
    written decimal (they differ by less than 2 ulp of x * 100; the margin taken is 16 ulp). The few rows near a
    half cent (0.125, 2.675, …) are rounded exactly: Arrow prints them shortest-repr and parses that as a decimal.
    """
    values = array.to_numpy(zero_copy_only=False)
    if array.null_count:
        valid = array.is_valid().to_numpy(zero_copy_only=False)
        values = np.where(valid, values, 0.0)
    bad = ~np.isfinite(values)
    if bad.any():
        raise AllocationError(f"BilledCost must be finite, got {float(values[np.argmax(bad)])!r}")
    too_large = np.abs(values) >= MAX_CENTS / 100
    if too_large.any():
        raise AllocationError(
            f"BilledCost {float(values[np.argmax(too_large)])!r} does not fit decimal128(18, 2) once rounded"
        )
    scaled = values * 100.0
    ambiguous = np.abs(scaled - np.floor(scaled) - 0.5) <= np.abs(scaled) * 2.0**-48
    cents = np.rint(scaled).astype(np.int64)
    if ambiguous.any():
        where = np.flatnonzero(ambiguous)
        near = values[where]
        near = np.where(np.abs(near) < 0.004, 0.0, near)  # below half a cent, and too many digits to parse
        written = pa.array(near, pa.float64()).cast(pa.string()).cast(pa.decimal128(38, 20))
        rounded = pc.round(written, ndigits=2, round_mode="half_to_even").cast(pa.decimal128(38, 2))
        cents[where] = _unscaled(rounded)
    return cents


def _decimal_cents(array: pa.Array) -> np.ndarray:
    """Cents of decimal costs, half-even: integer arithmetic on the unscaled values where they fit int64."""
    kind = array.type
    if kind.bit_width < 128:
        array = array.cast(pa.decimal128(kind.precision, kind.scale))
        kind = array.type
    n = len(array)
    valid = array.is_valid().to_numpy(zero_copy_only=False) if array.null_count else np.ones(n, dtype=bool)
    cents = np.zeros(n, dtype=np.int64)
    slow = np.zeros(n, dtype=bool)
    if kind.bit_width == 128 and kind.scale - 2 <= 18:
        words = _words(array)
        low, high = words[:, 0], words[:, 1]
        if array.null_count:
            low, high = np.where(valid, low, 0), np.where(valid, high, 0)
        fits = high == (low >> 63)
        if kind.scale >= 2:
            step = 10 ** (kind.scale - 2)
            quotient, remainder = np.divmod(low, step)
            up = (2 * remainder > step) | ((2 * remainder == step) & (quotient % 2 == 1))
            cents = quotient + up
        else:
            factor = 10 ** (2 - kind.scale)
            fits &= np.abs(low) < MAX_CENTS // factor
            cents = low * factor
        slow = ~fits
    else:
        slow = valid
    if slow.any():
        where = np.flatnonzero(slow)
        subset = array.take(pa.array(where)).cast(pa.decimal256(76, kind.scale))
        if kind.scale > 2:
            subset = pc.round(subset, ndigits=2, round_mode="half_to_even")
        try:
            subset = subset.cast(pa.decimal256(76, 2))
        except pa.ArrowInvalid as error:
            raise AllocationError(f"BilledCost does not fit decimal128(18, 2) once rounded: {error}") from None
        words = _words(subset)
        if not bool(np.all(words[:, 1:] == (words[:, :1] >> 63))):
            raise AllocationError("BilledCost does not fit decimal128(18, 2) once rounded to cents")
        cents[where] = words[:, 0]
    if array.null_count:
        cents = np.where(valid, cents, 0)
    if n and int(np.abs(cents).max()) >= MAX_CENTS:
        raise AllocationError("BilledCost does not fit decimal128(18, 2) once rounded to cents")
    return cents


def _whole(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: its only chunk as it is (`combine_chunks` would copy it), else concatenated."""
    if column.num_chunks == 1:
        return column.chunk(0)
    return column.combine_chunks() if column.num_chunks else pa.array([], column.type)


def _words(array: pa.Array) -> np.ndarray:
    """The little-endian int64 words of a decimal128/256 array's values: one row per value, low word first."""
    per_value = array.type.bit_width // 64
    data = np.frombuffer(array.buffers()[1], dtype="<i8")
    return data.reshape(-1, per_value)[array.offset : array.offset + len(array)]


def _unscaled(array: pa.Array) -> np.ndarray:
    """The unscaled integers of a decimal128 array whose values fit int64."""
    words = _words(array)
    if not bool(np.all(words[:, 1] == (words[:, 0] >> 63))):
        raise AllocationError("BilledCost does not fit decimal128(18, 2) once rounded to cents")
    return words[:, 0]


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


def _tag_codes(costs: pa.Table, key: str) -> tuple[pa.Array, np.ndarray]:
    """Tag `key` on every cost row as (distinct values, per-row index into them; -1 where absent): the first
    entry of the row's map with that key, found with one comparison over the distinct keys (over all the map
    keys when they were not read dictionary-encoded) and integer lookups, instead of a lookup per row."""
    tags = _whole(costs.column("Tags"))
    if not pa.types.is_map(tags.type):
        found = pc.dictionary_encode(pc.map_lookup(tags, pa.scalar(key), "first").cast(pa.string()))
        return found.dictionary, _indices(found)
    offsets = tags.offsets.to_numpy().astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    keys, items = tags.keys.slice(first, last - first), tags.items.slice(first, last - first)
    if pa.types.is_dictionary(keys.type):  # read dictionary-encoded: compare the distinct keys only
        is_key = pc.equal(keys.dictionary, pa.scalar(key, keys.type.value_type)).fill_null(False)
        hit = np.append(is_key.to_numpy(zero_copy_only=False), False)[_indices(keys)]  # a null key: no hit
    else:
        hit = pc.equal(keys, pa.scalar(key, tags.type.key_type)).fill_null(False).to_numpy(zero_copy_only=False)
    if not pa.types.is_dictionary(items.type):
        items = pc.dictionary_encode(items.cast(pa.string()))
    positions = np.flatnonzero(hit)
    seen = np.zeros(len(hit) + 1, dtype=np.int64)  # hits before each entry of the child
    np.cumsum(hit, out=seen[1:])
    before, through = seen[offsets[:-1] - first], seen[offsets[1:] - first]
    found = through > before
    if tags.null_count:
        found &= tags.is_valid().to_numpy(zero_copy_only=False)
    codes = np.full(len(tags), -1, dtype=np.int32)
    if len(positions):
        codes[found] = _indices(items)[positions[before[found]]]
    return items.dictionary.cast(pa.string()), codes


def _indices(array: pa.DictionaryArray) -> np.ndarray:
    """A dictionary array's indices as int32, -1 for null."""
    indices = array.indices
    indices = indices.fill_null(-1) if indices.null_count else indices
    return indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


def _encoded_reference(costs: pa.Table, reference: str) -> tuple[pa.Array, np.ndarray]:
    """A column or `tag:<key>` reference as (distinct string values, per-row index into them; -1 for null).

    Read CHUNK_ROWS rows at a time (a tag's values, or a plain column, dictionary-encoded per slice, then the
    slices' dictionaries unified), so no column-sized string or int64 temporaries pile up. A column read
    dictionary-encoded from one Parquet row group is one slice with one dictionary: nothing to unify."""
    n = costs.num_rows
    if reference.startswith(TAG_PREFIX):
        if "Tags" not in costs.column_names:
            return pa.array([], pa.string()), np.full(n, -1, dtype=np.int32)
    elif reference not in costs.column_names:
        raise AllocationError(f"a rule reads column {reference!r}, which the cost table lacks")
    pieces: list[tuple[pa.Array, np.ndarray]] = []
    for start in range(0, n, CHUNK_ROWS) if n else [0]:
        rows = costs.slice(start, CHUNK_ROWS)
        if reference.startswith(TAG_PREFIX):
            pieces.append(_tag_codes(rows, reference[len(TAG_PREFIX) :]))
            continue
        for chunk in rows.column(reference).chunks or [pa.array([], pa.string())]:
            if not pa.types.is_dictionary(chunk.type):
                chunk = pc.dictionary_encode(chunk.cast(pa.string()))
            pieces.append((chunk.dictionary, _indices(chunk)))
    dictionary = pieces[0][0]
    if all(d.equals(dictionary) for d, _ in pieces[1:]):
        codes = pieces[0][1] if len(pieces) == 1 else np.concatenate([c for _, c in pieces])
        return dictionary.cast(pa.string()), codes
    # several dictionaries: one of all their values, and each piece's codes mapped into it
    dictionary = pc.unique(pa.concat_arrays([d.cast(pa.string()) for d, _ in pieces]))
    codes = np.empty(n, dtype=np.int32)
    start = 0
    for values, piece in pieces:
        into = np.append(pc.index_in(values.cast(pa.string()), dictionary).to_numpy(zero_copy_only=False), -1)
        codes[start : start + len(piece)] = into[piece]  # -1 (null) picks the appended -1
        start += len(piece)
    return dictionary, codes


@dataclass
class _Encoded:
    """A column or tag the rules read: its distinct values, and each row's code into them (-1 for null)."""

    dictionary: pa.Array
    codes: np.ndarray
    """Index -1 (null) picks the entry appended after the per-value ones in every lookup."""


def _encode(costs: pa.Table, references: Sequence[str]) -> dict[str, _Encoded]:
    encoded = {}
    for reference in references:
        dictionary, codes = _encoded_reference(costs, reference)
        encoded[reference] = _Encoded(dictionary, codes.astype(np.int32, copy=False))
    return encoded


def evaluate(condition: Condition, keys: pa.Table) -> np.ndarray:
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
        # RE2 over the distinct keys, in C++ without the GIL: linear time whatever the pattern.
        result = regex.search(keys.column(condition.column), condition.regex)
        return result.fill_null(False).to_numpy(zero_copy_only=False)
    if isinstance(condition, And):
        return np.logical_and.reduce([evaluate(operand, keys) for operand in condition.operands])
    if isinstance(condition, Or):
        return np.logical_or.reduce([evaluate(operand, keys) for operand in condition.operands])
    if isinstance(condition, Not):
        return ~evaluate(condition.operand, keys)
    raise AllocationError(f"unknown condition {condition!r}")


def evaluate_rows(condition: Condition, encoded: Mapping[str, _Encoded], rows: np.ndarray) -> np.ndarray:
    """The condition on the cost rows at positions ``rows``, as a boolean array (null is False): each leaf is
    evaluated once per distinct value of the one column it reads, then spread over the rows by integer lookup;
    And / Or / Not combine the rows' booleans. No string is touched per row, and no table of combinations is
    built."""
    if isinstance(condition, Always):
        return np.ones(len(rows), dtype=bool)
    if isinstance(condition, And):
        return np.logical_and.reduce([evaluate_rows(operand, encoded, rows) for operand in condition.operands])
    if isinstance(condition, Or):
        return np.logical_or.reduce([evaluate_rows(operand, encoded, rows) for operand in condition.operands])
    if isinstance(condition, Not):
        return ~evaluate_rows(condition.operand, encoded, rows)
    name: str = condition.column  # type: ignore[attr-defined]  # every leaf reads one column
    column = encoded[name]
    per_value = np.append(evaluate(condition, pa.table({name: column.dictionary})).astype(bool), False)
    return per_value[column.codes[rows]]  # code -1 (null) picks the appended False


def _match(
    costs: pa.Table, dimension: VirtualDimension, decided: dict[str, _Decided] | None = None
) -> tuple[dict[str, _Encoded], np.ndarray]:
    """The encoded columns the rules read, and each row's first matching rule (-1 for none). ``decided``: what
    earlier batches decided per distinct value (`_Decided`), kept by an `Allocator` across batches.

    The rules reading one column are decided per distinct value of that column (the first of them matching the
    value, nulls included) and spread over the rows with one lookup per column; a row's rule is the smallest
    over its columns. A rule reading several columns (or none) is then evaluated on the rows still held by a
    later rule. As the baseline engines do: a lookup per column, never per rule."""
    encoded = _encode(costs, sorted(dimension.references()))
    rules = dimension.rules
    none = len(rules)  # "no rule": larger than every rule index
    kind = np.dtype(np.int16 if none < 2**15 else np.int32)
    by_column: dict[str, list[int]] = defaultdict(list)
    several = []
    for index, rule in enumerate(rules):
        references = rule.condition.references()
        if len(references) == 1:
            by_column[next(iter(references))].append(index)
        else:
            several.append(index)
    rule_of_row = np.full(costs.num_rows, none, dtype=kind)
    for column_name, indices in by_column.items():
        column = encoded[column_name]
        conditions = [(index, rules[index].condition) for index in indices]
        if decided is None:
            rule_of_code = _first_rules(column_name, column.dictionary, conditions, none, kind, with_null=True)
        else:
            rule_of_code = decided.setdefault(column_name, _Decided()).first_rules(
                column_name, column.dictionary, conditions, none, kind
            )
        if (rule_of_code < none).any():
            np.minimum(rule_of_row, rule_of_code[column.codes], out=rule_of_row)
    for index in several:
        candidates = np.flatnonzero(rule_of_row > index)
        if len(candidates):
            hit = evaluate_rows(rules[index].condition, encoded, candidates)
            rule_of_row[candidates[hit]] = index
    return encoded, np.where(rule_of_row == none, -1, rule_of_row).astype(np.int64)


def _first_rules(
    name: str, values: pa.Array, conditions: list[tuple[int, Condition]], none: int, kind: np.dtype, with_null: bool
) -> np.ndarray:
    """Per value (then null, ``with_null``): the first of ``conditions`` (on column ``name``) it matches."""
    if with_null:
        values = pa.concat_arrays([values.cast(pa.string()), pa.nulls(1, pa.string())])
    keys = pa.table({name: values})
    first = np.full(len(values), none, dtype=kind)
    for index, condition in conditions:
        first[(first == none) & evaluate(condition, keys)] = index
    return first


DECIDED_VALUES = 1 << 18
"""Most distinct values of one column whose decisions an Allocator keeps; past it, each batch decides its own."""


class _Decided:
    """One column's decisions across batches: the distinct values seen and the first rule each matches, so a
    value is evaluated once per computation rather than once per batch (a ResourceId regex over a month's
    row groups). Each batch's dictionary is matched against what is known by hashing (`index_in`)."""

    def __init__(self) -> None:
        self.values: pa.Array | None = None
        self.rules = np.empty(0, dtype=np.int32)
        self.null_rule: int | None = None
        self.given_up = False

    def first_rules(
        self, name: str, dictionary: pa.Array, conditions: list[tuple[int, Condition]], none: int, kind: np.dtype
    ) -> np.ndarray:
        """Per code of ``dictionary``, then null: the first matching rule (``none`` for none)."""
        if self.given_up:
            return _first_rules(name, dictionary, conditions, none, kind, with_null=True)
        dictionary = dictionary.cast(pa.string())
        if self.values is None:
            first = _first_rules(name, dictionary, conditions, none, kind, with_null=True)
            self.values, self.rules, self.null_rule = dictionary, first[:-1], int(first[-1])
            return first
        known = pc.index_in(dictionary, value_set=self.values).fill_null(-1).to_numpy(zero_copy_only=False)
        first = np.empty(len(dictionary) + 1, dtype=kind)
        first[:-1] = self.rules[known] if len(self.rules) else none  # new values' entries are set below
        first[-1] = self.null_rule
        new = np.flatnonzero(known < 0)
        if len(new):
            fresh = dictionary.take(pa.array(new))
            decided = _first_rules(name, fresh, conditions, none, kind, with_null=False)
            first[new] = decided
            if len(self.values) + len(new) > DECIDED_VALUES:
                self.given_up, self.values, self.rules = True, None, np.empty(0, dtype=np.int32)
            else:
                self.values = pa.concat_arrays([self.values, fresh])
                self.rules = np.concatenate([self.rules, decided])
        return first


# --- step 3: coefficient groups --------------------------------------------------------------------------------


@dataclass
class _Plan:
    values: pa.Array
    """The dimension values (strings); parts refer to them by index."""
    groups: list[tuple[np.ndarray, np.ndarray | list[int], int]]
    """Per coefficient group: value indices (sorted by value), share numerators, common denominator D."""
    group_sizes: np.ndarray
    """Parts per group (int64)."""
    first_value: np.ndarray
    """Per group, its first value's index (int32): the value of a one-part row."""


class _Groups:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.code: dict[str, int] = {}
        self.groups: list[tuple[np.ndarray, np.ndarray | list[int], int]] = []
        self.index: dict[Coefficients, int] = {}

    def value(self, name: str) -> int:
        if name not in self.code:
            self.code[name] = len(self.names)
            self.names.append(name)
        return self.code[name]

    def group(self, coefficients: Coefficients) -> int:
        if coefficients not in self.index:
            denominator = lcm(*(share.denominator for _value, share in coefficients))
            numerators: np.ndarray | list[int]
            numerators = [share.numerator * (denominator // share.denominator) for _value, share in coefficients]
            if max(numerators) < INT64_LIMIT:
                numerators = np.array(numerators, dtype=np.int64)
            codes = np.array([self.value(value) for value, _share in coefficients], dtype=np.int64)
            self.index[coefficients] = len(self.groups)
            self.groups.append((codes, numerators, denominator))
        return self.index[coefficients]

    def single(self, value: str) -> int:
        return self.group(((value, Fraction(1)),))

    def plan(self) -> _Plan:
        sizes = np.array([len(codes) for codes, _n, _d in self.groups], dtype=np.int64)
        first = np.array([codes[0] for codes, _n, _d in self.groups], dtype=np.int32)
        return _Plan(pa.array(self.names, pa.string()), list(self.groups), sizes, first)


def _given(value: T | None, rule: Rule, field_name: str) -> T:
    """A field the rule's allocation kind requires (always set by `Allocation`'s class methods)."""
    if value is None:
        raise AllocationError(f"rule {rule.name!r}: a {rule.allocation.kind.value} allocation needs `{field_name}`")
    return value


@dataclass
class _DailyUsage:
    weights: dict[date, dict[str, Fraction]]
    """Per day with positive usage: the summed usage per dimension value (unmapped owners under the leftover)."""
    unmapped: dict[date, set[str]]
    """Per day: the owners with usage that map to no value."""


def _daily_usage(rule: Rule, table: pa.Table, leftover: str) -> _DailyUsage:
    """A METRIC rule's usage as exact weights per day. A loop over the usage rows (days x owners), not over cost
    rows, done once per rule."""
    day_column = table.column("day")
    if not pa.types.is_date32(day_column.type):
        day_column = day_column.cast(pa.date32())
    owner_column = table.column("owner").cast(pa.string())
    owners = pc.unique(owner_column)
    mapped_owner = dict(zip(owners.to_pylist(), rule.allocation.mapping.map(owners).to_pylist(), strict=True))
    by_day: dict[date, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    unmapped: dict[date, set[str]] = defaultdict(set)
    for day, owner, value in zip(
        day_column.to_pylist(), owner_column.to_pylist(), table.column("value").to_pylist(), strict=True
    ):
        if value is None:
            continue
        weight = _exact(value, f"usage of rule {rule.name!r} on {day} for owner {owner!r}")
        target = mapped_owner[owner]
        if target is None:
            if weight:
                unmapped[day].add(str(owner))
            target = leftover
        by_day[day][target] += weight
    positive = {day: dict(weights) for day, weights in by_day.items() if sum(weights.values()) > 0}
    return _DailyUsage(positive, dict(unmapped))


def _exact(value: float | int | Decimal, what: str) -> Fraction:
    exact = Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)
    if exact < 0:
        raise AllocationError(f"{what} is negative ({value}); usage must be >= 0")
    return exact


def _normalised(weights: Mapping[str, Fraction]) -> Coefficients:
    """(value, share) pairs sorted by value, shares summing to exactly 1; zero weights are dropped."""
    total = sum(weights.values(), Fraction(0))
    return tuple((value, weight / total) for value, weight in sorted(weights.items()) if weight)


# --- step 4: distribute ----------------------------------------------------------------------------------------


def _distribute(chunk: _Chunk, plan: _Plan, counts: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every part's cents, as the (low, high) int64 words of a decimal128 amount, and its value index; parts are
    laid out by row (a row's parts from `starts[row]`, `counts[row]` of them), then value."""
    first_value = np.array([codes[0] for codes, _n, _d in plan.groups], dtype=np.int32)
    # every part first gets its row's cents and its group's first value: right for the one-part rows
    words = np.empty((int(counts.sum()), 2), dtype=np.int64)
    words[:, 0] = np.repeat(chunk.cents, counts)
    out_value = np.repeat(first_value[chunk.groups], counts)
    several = np.flatnonzero(counts > 1)
    if len(several):
        groups = chunk.groups[several]
        by_group = np.argsort(groups, kind="stable")
        several, groups = several[by_group], groups[by_group]
        bounds = np.flatnonzero(np.diff(groups)) + 1
        for group_rows in np.split(several, bounds):
            codes, numerators, denominator = plan.groups[int(chunk.groups[group_rows[0]])]
            amounts = _split(chunk.cents[group_rows], numerators, denominator)
            positions = starts[group_rows][:, None] + np.arange(len(codes))
            words[positions, 0] = amounts
            out_value[positions] = codes
    np.right_shift(words[:, 0], 63, out=words[:, 1])
    return words, out_value


def _split(cents: np.ndarray, numerators: np.ndarray | list[int], denominator: int) -> np.ndarray:
    """Largest-remainder split of each of `cents` by shares numerators / denominator (one row per cent amount,
    one column per part): floors, then one cent each to the largest remainders, ties to the earlier part."""
    parts = len(numerators)
    largest = int(np.abs(cents).max())
    if (
        isinstance(numerators, np.ndarray)
        and denominator < INT64_LIMIT
        and largest * int(numerators.max()) < INT64_LIMIT
    ):
        products = cents[:, None] * numerators[None, :]
        floors, remainders = np.divmod(products, np.int64(denominator))
    else:  # the exact products overflow int64: Python ints, for this group only
        products = cents.astype(object)[:, None] * _python_ints(numerators)[None, :]
        floors_object, remainders = products // denominator, products % denominator
        floors = floors_object.astype(np.int64)  # |floor| <= |cents|
        if denominator < INT64_LIMIT:
            remainders = remainders.astype(np.int64)
    left = cents - floors.sum(axis=1)
    by_remainder = np.argsort(-remainders, axis=1, kind="stable")
    rank = np.empty((len(cents), parts), dtype=np.int64)
    np.put_along_axis(rank, by_remainder, np.broadcast_to(np.arange(parts), rank.shape), axis=1)
    return floors + (rank < left[:, None])


def _python_ints(values: np.ndarray | list[int]) -> np.ndarray:
    """An object array of Python ints (numpy int64 scalars would overflow when multiplied)."""
    if isinstance(values, np.ndarray):
        return values.astype(object)  # int64 -> Python int
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


# --- step 5: emit ----------------------------------------------------------------------------------------------


def _emit(
    chunk: _Chunk,
    values: pa.Array,
    rule_names: pa.Array,
    counts: np.ndarray,
    words: np.ndarray,
    out_value: np.ndarray,
    coded: bool = False,
) -> pa.Table:
    total = len(words)
    out_rule = np.repeat(chunk.rules, counts)
    value_codes = pa.array(out_value.astype(np.int32, copy=False))
    rule_codes = pa.array(out_rule.astype(np.int32, copy=False), mask=out_rule < 0)
    del out_rule
    if coded:
        value = pa.DictionaryArray.from_arrays(value_codes, values)
        rule = pa.DictionaryArray.from_arrays(rule_codes, rule_names)
    else:
        value, rule = values.take(value_codes), rule_names.take(rule_codes)
    return pa.table(
        {
            "row_id": pa.array(np.repeat(chunk.ids, counts), pa.int64()),
            "day": pa.Array.from_buffers(pa.date32(), total, [None, pa.py_buffer(np.repeat(chunk.days, counts))]),
            "value": value,
            "amount": pa.Array.from_buffers(AMOUNT_TYPE, total, [None, pa.py_buffer(words)]),
            "rule": rule,
        },
        schema=CODED_ALLOCATIONS_SCHEMA if coded else ALLOCATIONS_SCHEMA,
    )


# --- step 6: conserve ------------------------------------------------------------------------------------------


def _check_conservation(table: pa.Table, chunk: _Chunk, starts: np.ndarray) -> None:
    """Σ amount per source row == the row's rounded cost, recomputed from the emitted amount column."""
    if not len(starts):
        return
    emitted = _words(_whole(table.column("amount")))[:, 0]
    sums = np.add.reduceat(emitted, starts)
    wrong = np.flatnonzero(sums != chunk.cents)
    if len(wrong):
        first = int(wrong[0])
        raise ConservationError(
            f"row {int(chunk.ids[first])}: allocated {Decimal(int(sums[first])).scaleb(-2)}, its rounded cost is "
            f"{Decimal(int(chunk.cents[first])).scaleb(-2)}"
        )
