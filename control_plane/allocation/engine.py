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
    # 1. Normalise: check the inputs; read row_ids (stamped 0..n-1 if absent), days and costs as numpy arrays;
    #    round every cost to integer cents, half-to-even, vectorized (floats as written, decimals exactly).
    # 2. Match: dictionary-encode the columns and tags the rules read, evaluate each condition once per distinct
    #    value of the column it reads, spread the answers over the rows by integer lookup, and give each row the
    #    first rule that matches (none: leftover).
    # 3. Coefficient groups: give each row the group of its coefficients — the leftover, a FIXED value or a
    #    FROM_COLUMN mapped value (one part each), a split's fixed shares, or a METRIC rule's shares on the row's
    #    day (that day's usage; unplaced usage and days without usage to the leftover). Each group holds its
    #    values sorted, and its shares as integer numerators over one common denominator D.
    # 4. Distribute (steps 4-6 per chunk of CHUNK_ROWS rows, in row_id order): per group, for all its rows at once,
    #    floor = cents * n_i // D and remainder = cents * n_i % D (int64 when it cannot overflow, Python ints
    #    otherwise); the cents left over go one each to the parts with the largest remainders, ties to the smaller
    #    value.
    # 5. Emit: the chunk's parts laid out by row_id, then value, as Arrow columns.
    # 6. Conserve: from the chunk's emitted amounts, check every row's parts sum to its rounded cost
    #    (ConservationError). The result's columns are the chunks' pieces, in row_id order.
    usage = dict(usage or {})
    warnings: list[str] = []
    _check_usage_names(dimension, usage)

    rows = _normalise(costs, warnings)
    encoded, rule_of_row = _match(costs, dimension)
    plan, group_of_row, rule_of_row = _plan(dimension, usage, encoded, rule_of_row, rows.days, warnings)
    del encoded

    # Steps 4-6 run on CHUNK_ROWS rows at a time, in row_id order: a row's parts depend only on its own cents and
    # coefficient group, so the pieces are the parts of the whole table. The per-row arrays are cut into chunks
    # first and each chunk is dropped once emitted, so what is left of them shrinks as the result grows; only one
    # chunk's working arrays live at a time, and the result's columns are the pieces' chunks, never concatenated.
    chunks = _chunks(rows, group_of_row, rule_of_row)
    del rows, group_of_row, rule_of_row
    values = pa.array(plan.names, pa.string())
    rule_names = pa.array([rule.name for rule in dimension.rules], pa.string())
    pieces = []
    chunks.reverse()
    while chunks:
        chunk = chunks.pop()
        counts = plan.group_sizes[chunk.groups]
        starts = np.cumsum(counts) - counts
        words, out_value = _distribute(chunk, plan, counts, starts)
        table = _emit(chunk, values, rule_names, counts, words, out_value, coded)
        del words, out_value
        _check_conservation(table, chunk, starts)
        pieces.append(table)
        del chunk, counts, starts, table
    table = pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
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


def _normalise(costs: pa.Table, warnings: list[str]) -> _Rows:
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
    if not pa.types.is_date32(day_column.type):
        day_column = day_column.cast(pa.date32())
    if day_column.null_count:
        raise AllocationError("ChargePeriodStart must be non-null on every cost row")
    days = np.ascontiguousarray(day_column.cast(pa.int32()).to_numpy(), dtype=np.int32)

    billed = costs.column("BilledCost")
    if not (pa.types.is_decimal(billed.type) or pa.types.is_floating(billed.type)):
        raise AllocationError(f"BilledCost must be decimal or float64, got {billed.type}")
    billed_array = _whole(billed)
    if pa.types.is_floating(billed.type):
        cents = _float_cents(billed_array.cast(pa.float64()))
    else:
        cents = _decimal_cents(billed_array)
    if billed_array.null_count:
        warnings.append(f"{billed_array.null_count} cost rows with a null BilledCost were counted as 0")
    return _Rows(row_ids, days, cents, order)


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


def _tag_values(costs: pa.Table, key: str) -> pa.Array:
    """The value of tag `key` on every cost row (null where absent): the first entry of the row's map with that
    key, found with one comparison over all the map keys (over the distinct keys when the map was read
    dictionary-encoded, whose values then stay dictionary-encoded) instead of a lookup per row."""
    tags = _whole(costs.column("Tags"))
    if not pa.types.is_map(tags.type):
        return pc.map_lookup(tags, pa.scalar(key), "first").cast(pa.string())
    offsets = tags.offsets.to_numpy().astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    keys = tags.keys.slice(first, last - first)
    if pa.types.is_dictionary(keys.type):  # read dictionary-encoded: compare the distinct keys only
        is_key = pc.equal(keys.dictionary, pa.scalar(key, keys.type.value_type)).fill_null(False)
        lookup = np.append(is_key.to_numpy(zero_copy_only=False), False)
        hit = lookup[keys.indices.fill_null(len(keys.dictionary)).to_numpy(zero_copy_only=False)]
    else:
        hit = pc.equal(keys, pa.scalar(key, tags.type.key_type)).fill_null(False).to_numpy(zero_copy_only=False)
    positions = np.flatnonzero(hit) + first
    seen = np.zeros(len(hit) + 1, dtype=np.int64)  # hits before each entry of the child
    np.cumsum(hit, out=seen[1:])
    before, through = seen[offsets[:-1] - first], seen[offsets[1:] - first]
    found = through > before
    if tags.null_count:
        found &= tags.is_valid().to_numpy(zero_copy_only=False)
    index = np.where(found, positions[np.minimum(before, max(len(positions) - 1, 0))] if len(positions) else 0, -1)
    found_values = tags.items.take(pa.array(index, mask=~found))
    return found_values if pa.types.is_dictionary(found_values.type) else found_values.cast(pa.string())


def _encoded_reference(costs: pa.Table, reference: str) -> tuple[pa.Array, np.ndarray]:
    """A column or `tag:<key>` reference as (distinct string values, per-row index into them; -1 for null).

    Read CHUNK_ROWS rows at a time (a tag's values, or a plain column, dictionary-encoded per slice, then the
    slices' dictionaries unified), so no column-sized string or int64 temporaries pile up."""
    n = costs.num_rows
    if reference.startswith(TAG_PREFIX):
        if "Tags" not in costs.column_names:
            return pa.array([], pa.string()), np.full(n, -1, dtype=np.int64)
    elif reference not in costs.column_names:
        raise AllocationError(f"a rule reads column {reference!r}, which the cost table lacks")
    pieces: list[pa.DictionaryArray] = []
    for start in range(0, n, CHUNK_ROWS) if n else [0]:
        rows = costs.slice(start, CHUNK_ROWS)
        if reference.startswith(TAG_PREFIX):
            column = pa.chunked_array([_tag_values(rows, reference[len(TAG_PREFIX) :])])
        else:
            column = rows.column(reference)
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column.cast(pa.string()))
        pieces.extend(column.chunks)
    if len(pieces) > 1 and not all(piece.dictionary.equals(pieces[0].dictionary) for piece in pieces[1:]):
        pieces = pa.chunked_array(pieces, pieces[0].type).unify_dictionaries().chunks
    dictionary = pieces[0].dictionary.cast(pa.string()) if pieces else pa.array([], pa.string())
    codes = np.empty(n, dtype=np.int64)
    start = 0
    for piece in pieces:
        indices = piece.indices.fill_null(-1) if piece.indices.null_count else piece.indices
        codes[start : start + len(piece)] = indices.to_numpy(zero_copy_only=False)
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
        narrow = np.int32 if len(dictionary) < 2**31 else np.int64
        encoded[reference] = _Encoded(dictionary, codes.astype(narrow))
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


def _runs(dimension: VirtualDimension) -> list[tuple[str | None, list[int]]]:
    """The rules in order, cut into runs of consecutive rules that read one and the same column (that column and
    the rules' indices), and single rules reading several columns or none (None)."""
    runs: list[tuple[str | None, list[int]]] = []
    for index, rule in enumerate(dimension.rules):
        references = rule.condition.references()
        column = next(iter(references)) if len(references) == 1 else None
        if column is not None and runs and runs[-1][0] == column:
            runs[-1][1].append(index)
        else:
            runs.append((column, [index]))
    return runs


def _match(costs: pa.Table, dimension: VirtualDimension) -> tuple[dict[str, _Encoded], np.ndarray]:
    """The encoded columns the rules read, and each row's first matching rule (-1 for none).

    Consecutive rules on one column are decided per distinct value of that column (the first of them matching the
    value, nulls included), then spread over the open rows with one lookup; a rule on several columns is
    evaluated on the open rows. A row taken is dropped from the open rows only once enough were taken since the
    last compaction (compacting costs a copy); until then new hits are checked against what is decided, at a cost
    proportional to the hits."""
    encoded = _encode(costs, sorted(dimension.references()))
    rows = costs.num_rows
    rule_of_row = np.full(rows, -1, dtype=np.int64)
    open_rows = np.arange(rows, dtype=np.int32 if rows < 2**31 else np.int64)
    taken_since_compaction = 0
    for column_name, indices in _runs(dimension):
        if not len(open_rows):
            break
        if column_name is None:
            (index,) = indices
            hit = evaluate_rows(dimension.rules[index].condition, encoded, open_rows)
            targets = open_rows[hit]
            rule_of_target = np.full(len(targets), index, dtype=np.int64)
        else:
            column = encoded[column_name]
            with_null = pa.table({column_name: pa.concat_arrays([column.dictionary, pa.nulls(1, pa.string())])})
            rule_of_code = np.full(len(with_null), -1, dtype=np.int64)  # the last entry is null's (code -1)
            for index in indices:
                undecided = rule_of_code == -1
                rule_of_code[undecided & evaluate(dimension.rules[index].condition, with_null)] = index
            found = rule_of_code[column.codes[open_rows]]
            hit = found >= 0
            targets, rule_of_target = open_rows[hit], found[hit]
        if taken_since_compaction:
            fresh = rule_of_row[targets] == -1
            targets = targets[fresh]
            rule_of_target = rule_of_target[fresh]
        rule_of_row[targets] = rule_of_target
        taken_since_compaction += len(targets)
        if taken_since_compaction * 8 > len(open_rows):
            open_rows = open_rows[rule_of_row[open_rows] == -1]
            taken_since_compaction = 0
    return encoded, rule_of_row


# --- step 3: coefficient groups --------------------------------------------------------------------------------


@dataclass
class _Plan:
    names: list[str]
    """The dimension values; parts refer to them by index."""
    groups: list[tuple[np.ndarray, np.ndarray | list[int], int]]
    """Per coefficient group: value indices (sorted by value), share numerators, common denominator D."""
    group_sizes: np.ndarray
    """Parts per group (int64)."""


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


def _plan(
    dimension: VirtualDimension,
    usage: Mapping[str, pa.Table],
    encoded: Mapping[str, _Encoded],
    rule_of_row: np.ndarray,
    days: np.ndarray,
    warnings: list[str],
) -> tuple[_Plan, np.ndarray, np.ndarray]:
    """The coefficient groups, each cost row's group (int32; int64 beyond 2**31 groups) and each row's rule index
    (-1 for none; int16, int32 beyond 2**15 rules).

    A FIXED or split rule is one group for all its rows; a FROM_COLUMN rule maps each distinct value of its column
    once; a METRIC rule has one group per day it covers. Rows get their group by integer lookups."""
    leftover = dimension.leftover
    registry = _Groups()
    leftover_group = registry.single(leftover)
    rules = dimension.rules
    group_of_rule = np.full(len(rules) + 1, leftover_group, dtype=np.int64)  # index -1 (no rule): the leftover
    per_row_rules: list[int] = []
    for index, rule in enumerate(rules):
        allocation = rule.allocation
        kind = allocation.kind
        if kind is AllocationKind.FIXED:
            group_of_rule[index] = registry.single(_given(allocation.value, rule, "value"))
        elif kind is AllocationKind.SPLIT_PERCENT:
            percentages = _given(allocation.percentages, rule, "percentages")
            weights = {value: Fraction(percent_decimal(p)) for value, p in percentages.items()}
            group_of_rule[index] = registry.group(_normalised(weights))
        elif kind is AllocationKind.SPLIT_EVEN:
            values = _given(allocation.values, rule, "values")
            group_of_rule[index] = registry.group(_normalised({value: Fraction(1) for value in values}))
        else:
            per_row_rules.append(index)
    group_of_row = group_of_rule[rule_of_row]

    first_day = int(days.min()) if len(days) else 0
    span = int(days.max()) - first_day + 1 if len(days) else 1
    for index in per_row_rules:
        rule = rules[index]
        allocation = rule.allocation
        matched = np.flatnonzero(rule_of_row == index)
        if not len(matched):
            continue
        if allocation.kind is AllocationKind.FROM_COLUMN:
            column_name = _given(allocation.column, rule, "column")
            column = encoded[column_name]
            codes = column.codes[matched]
            used = np.unique(codes[codes >= 0])
            mapped = allocation.mapping.map(column.dictionary.take(pa.array(used))).to_pylist() if len(used) else []
            group_of_code = np.full(len(column.dictionary), leftover_group, dtype=np.int64)
            unmapped_code = np.ones(len(column.dictionary), dtype=bool)
            for code, value in zip(used.tolist(), mapped, strict=True):
                group_of_code[code] = registry.single(value or leftover)
                unmapped_code[code] = value is None
            group_of_row[matched] = np.append(group_of_code, leftover_group)[codes]  # null (-1): the leftover
            unmapped = int(np.count_nonzero(np.append(unmapped_code, True)[codes]))
            if unmapped:
                warnings.append(
                    f"rule {rule.name}: {unmapped} rows whose {column_name} maps to nothing went to {leftover}"
                )
        else:  # METRIC: one group per day, from that day's usage
            day_of_row = days[matched] - first_day
            present = np.unique(day_of_row)
            matched_days = {EPOCH + timedelta(days=int(d) + first_day) for d in present}
            by_day, unmapped_owners = _usage_weights(rule, usage[rule.name], leftover, matched_days)
            group_of_day = np.full(span, leftover_group, dtype=np.int64)
            without_usage = 0
            for offset in present.tolist():
                usage_weights = by_day.get(EPOCH + timedelta(days=offset + first_day))
                if usage_weights is None:
                    without_usage += 1
                    usage_weights = {leftover: Fraction(1)}
                group_of_day[offset] = registry.group(_normalised(usage_weights))
            group_of_row[matched] = group_of_day[day_of_row]
            if without_usage:
                warnings.append(f"rule {rule.name}: {without_usage} days without usage went to {leftover}")
            if unmapped_owners:
                shown = ", ".join(sorted(unmapped_owners)[:5]) + (", …" if len(unmapped_owners) > 5 else "")
                warnings.append(
                    f"rule {rule.name}: usage of {len(unmapped_owners)} owners that map to nothing went to "
                    f"{leftover} ({shown})"
                )

    # per-row arrays in the narrowest type that holds them: they live as long as the result is being built
    group_type = np.int32 if len(registry.groups) < 2**31 else np.int64
    rule_type = np.int16 if len(rules) < 2**15 else np.int32
    sizes = np.array([len(codes) for codes, _n, _d in registry.groups], dtype=np.int64)
    return _Plan(registry.names, registry.groups, sizes), group_of_row.astype(group_type), rule_of_row.astype(rule_type)


def _given(value: T | None, rule: Rule, field_name: str) -> T:
    """A field the rule's allocation kind requires (always set by `Allocation`'s class methods)."""
    if value is None:
        raise AllocationError(f"rule {rule.name!r}: a {rule.allocation.kind.value} allocation needs `{field_name}`")
    return value


def _usage_weights(
    rule: Rule, table: pa.Table, leftover: str, matched_days: set[date]
) -> tuple[dict[date, dict[str, Fraction]], set[str]]:
    """Per day with positive usage, the summed usage per dimension value (unmapped owners under `leftover`).
    A loop over the usage rows (days x owners), not over cost rows."""
    day_column = table.column("day")
    if not pa.types.is_date32(day_column.type):
        day_column = day_column.cast(pa.date32())
    owner_column = table.column("owner").cast(pa.string())
    owners = pc.unique(owner_column)
    mapped_owner = dict(zip(owners.to_pylist(), rule.allocation.mapping.map(owners).to_pylist(), strict=True))
    by_day: dict[date, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    unmapped: set[str] = set()
    for day, owner, value in zip(
        day_column.to_pylist(), owner_column.to_pylist(), table.column("value").to_pylist(), strict=True
    ):
        if day not in matched_days or value is None:
            continue
        weight = _exact(value, f"usage of rule {rule.name!r} on {day} for owner {owner!r}")
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
