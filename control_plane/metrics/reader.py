"""Reading one Parquet file into per-metric daily values. Pure: no database, no network of its own.

``read_metrics`` works column-wise on Arrow batches; no Python code runs per file row:

1. Open the footer; what is not Parquet (or is cut short) is quarantined.
2. Check from the footer alone that every metric's columns exist with usable types.
3. Stream only the needed columns, batch by batch. Per batch: normalise the date column to a UTC day
   and the value column to float64, count bad rows, and, while no bad row has been seen, add each metric
   per (day, dimension values) into its running sums and row counts: each row gets one int64 key from
   its day and its dimensions' codes (only a batch's distinct values are looked up), then one bincount.
4. If any row was bad, quarantine the file with every problem and its exact count; nothing is
   returned from it.
5. Turn the keys back into days and texts: ``SUM`` is the sum, ``Average`` the sum over the row count.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.imports import guards
from control_plane.imports.errors import Quarantine

if TYPE_CHECKING:
    from control_plane.models import MetricDefinition

DEFAULT_BATCH_SIZE = guards.BATCH_ROWS
_COMPACT_ROWS = 1_000_000
"""Partial aggregates are combined once they hold this many rows, bounding memory on wide files."""
_RESEND = "upload the file again (the same key is fine)"


class Aggregation(StrEnum):
    """How the rows of one (day, dimension values) in a file are combined."""

    SUM = "SUM"
    AVERAGE = "Average"

    @classmethod
    def parse(cls, text: str) -> Aggregation:
        for member in cls:
            if member.value.casefold() == text.strip().casefold():
                return member
        raise ValueError(f"unknown aggregation {text!r}; expected `SUM` or `Average`")


@dataclass(frozen=True)
class MetricSpec:
    """What to read from a file for one metric."""

    metric_name: str
    date_column: str
    value_column: str
    dimensions: tuple[str, ...] = ()
    """Columns to group by, in order, each once."""
    aggregation: Aggregation = Aggregation.SUM

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimensions", tuple(dict.fromkeys(self.dimensions)))
        if not isinstance(self.aggregation, Aggregation):
            object.__setattr__(self, "aggregation", Aggregation.parse(self.aggregation))

    @classmethod
    def from_definition(cls, definition: MetricDefinition) -> MetricSpec:
        return cls(
            metric_name=definition.metric_name,
            date_column=definition.date_column,
            value_column=definition.value_column,
            dimensions=tuple(definition.dimensions or ()),
            aggregation=Aggregation.parse(definition.aggregation),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> MetricSpec:
        """From the plain view of a ``MetricDefinition`` message (proto field names)."""
        return cls(
            metric_name=data["metric_name"],
            date_column=data["date_column"],
            value_column=data["value_column"],
            dimensions=tuple(data.get("dimensions") or ()),
            aggregation=Aggregation.parse(data.get("aggregation") or Aggregation.SUM.value),
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.date_column, self.value_column, *self.dimensions)))


# -- footer checks -----------------------------------------------------------------------------------


def columns_problem(schema: pa.Schema, spec: MetricSpec) -> list[tuple[str, str]]:
    """Every reason ``spec`` cannot be read from files of this schema, as (definition field, problem):
    a missing or repeated column, or one whose type cannot serve as a date, a value or a dimension.
    Each problem is a sentence without its final period and says what to change."""
    problems = []
    roles = [("date_column", spec.date_column), ("value_column", spec.value_column)]
    roles += [("dimensions", name) for name in spec.dimensions]
    for field_name, column in roles:
        indices = schema.get_all_field_indices(column)
        if not indices:
            problems.append(
                (
                    field_name,
                    f"Column `{column}` (`{field_name}`) is not in the file; its columns are "
                    f"{_names(schema.names)}. Rename the column in the export or change `{field_name}`",
                )
            )
        elif len(indices) > 1:
            problems.append(
                (
                    field_name,
                    f"Column `{column}` (`{field_name}`) appears {len(indices)} times in the file. Give each "
                    "column a distinct name in the export",
                )
            )
        else:
            expected = _EXPECTED[field_name]
            data_type = _values_of(schema.field(indices[0]).type)
            if not _USABLE[field_name](data_type):
                problems.append(
                    (
                        field_name,
                        f"Column `{column}` (`{field_name}`) has type {data_type}; expected {expected}. "
                        f"Change the column's type in the export or point `{field_name}` at another column",
                    )
                )
    return problems


def _names(names: Sequence[str], limit: int = 30) -> str:
    shown = ", ".join(f"`{name}`" for name in names[:limit])
    if not names:
        return "none"
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _values_of(data_type: pa.DataType) -> pa.DataType:
    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type


def _is_text(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def _date_usable(data_type: pa.DataType) -> bool:
    t = _values_of(data_type)
    return pa.types.is_null(t) or pa.types.is_date(t) or pa.types.is_timestamp(t) or _is_text(t)


def _value_usable(data_type: pa.DataType) -> bool:
    t = _values_of(data_type)
    return pa.types.is_null(t) or pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _dimension_usable(data_type: pa.DataType) -> bool:
    t = _values_of(data_type)
    return (
        pa.types.is_null(t)
        or _is_text(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_date(t)
    )


_USABLE = {"date_column": _date_usable, "value_column": _value_usable, "dimensions": _dimension_usable}
_EXPECTED = {
    "date_column": "a date, a timestamp or ISO 8601 date strings (YYYY-MM-DD)",
    "value_column": "numbers (integer, floating point or decimal)",
    "dimensions": "strings, integers, booleans or dates",
}


# -- reading -----------------------------------------------------------------------------------------


def read_metrics(
    source: Any, specs: Sequence[MetricSpec], *, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, pa.Table]:
    """Each metric's aggregated values in the file at ``source`` (a pyarrow input file, a path, bytes
    or a binary file object), keyed by metric name.

    Each table has the columns ``day`` (date32), one string column per dimension (named after it, in
    the metric's order; nulls stay null), ``value`` (float64) and ``row_count`` (int64): one row per
    (day, dimension values), sorted. Address the columns by position: a dimension may share a name
    with ``day`` or ``value``.

    Raises ``Quarantine`` for a broken file (nothing is returned from it), and lets ``ObjectReadError``
    (storage failed while reading) through. A Parquet file with no rows gives empty tables."""
    file = guards.as_input(source)
    parquet = guards.open_parquet(file)

    problems: dict[str, list[str]] = {}  # problem → metrics it concerns (metrics may share columns)
    for spec in specs:
        for _field, problem in columns_problem(parquet.schema_arrow, spec):
            problems.setdefault(problem, []).append(spec.metric_name)
    if problems:
        raise Quarantine(" ".join(f"{_metrics(names)}: {problem}." for problem, names in problems.items()))
    if not specs:
        return {}

    checks = _RowChecks(specs)
    partials = {spec.metric_name: _Partials(spec) for spec in specs}
    needed = list(dict.fromkeys(column for spec in specs for column in spec.columns))
    for batch in guards.batches(parquet, file_size=file.size(), columns=needed, batch_rows=batch_size):
        days = {column: checks.days(column, batch.column(column)) for column in checks.date_columns}
        values = {column: checks.values(column, batch.column(column)) for column in checks.value_columns}
        if not checks.clean:
            continue  # Keep counting bad rows for an exact reason; stop aggregating.
        for spec in specs:
            partials[spec.metric_name].add(
                days[spec.date_column],
                [batch.column(name) for name in spec.dimensions],
                values[spec.value_column],
            )
    if not checks.clean:
        raise Quarantine(checks.reason())
    return {name: partial.result() for name, partial in partials.items()}


def _metrics(names: Sequence[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    if len(quoted) == 1:
        return f"Metric {quoted[0]}"
    return f"Metrics {', '.join(quoted[:-1])} and {quoted[-1]}"


# -- normalising and checking rows ---------------------------------------------------------------------

# YYYY-MM-DD, optionally followed by a time (T or space) and a UTC offset (Z, +HH, +HHMM, +HH:MM).
_ISO = (
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<hh>\d{2}):(?P<mi>\d{2})(?::(?P<ss>\d{2})(?:[.,]\d+)?)?"
    r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)

_NULL_DATE, _BAD_DATE, _NULL_VALUE, _NAN, _INF, _NEGATIVE = (
    "null date",
    "bad date",
    "null value",
    "NaN",
    "infinite",
    "negative",
)
_OUT_OF_RANGE = "date out of range"
_DATE_KINDS = (_NULL_DATE, _BAD_DATE, _OUT_OF_RANGE)
_VALUE_KINDS = (_NULL_VALUE, _NAN, _INF, _NEGATIVE)


class _RowChecks:
    """Normalises date and value columns batch by batch and counts, per column, the rows that make the
    file unusable."""

    def __init__(self, specs: Sequence[MetricSpec]):
        self.date_columns = list(dict.fromkeys(spec.date_column for spec in specs))
        self.value_columns = list(dict.fromkeys(spec.value_column for spec in specs))
        self.counts: dict[tuple[str, str], int] = {}
        self.examples: dict[object, str] = {}

    @property
    def clean(self) -> bool:
        return not self.counts

    def _count(self, column: str, kind: str, count: int) -> None:
        if count:
            self.counts[(column, kind)] = self.counts.get((column, kind), 0) + count

    def days(self, column: str, array: pa.Array) -> pa.Array:
        """The UTC day (date32) of each row; nulls where the date is missing or unreadable."""
        data_type = array.type
        if pa.types.is_null(data_type):
            days = pa.nulls(len(array), pa.date32())
        elif pa.types.is_date32(data_type):
            days = array
        elif pa.types.is_date64(data_type):
            days = array.cast(pa.date32())
        elif pa.types.is_timestamp(data_type):
            # Dropping the zone keeps the UTC instant (a direct cast would take the zone's local day);
            # naive timestamps are taken to be UTC already.
            days = array.cast(pa.timestamp(data_type.unit)).cast(pa.date32())
        else:
            days, bad, example = _parse_iso_days(array)
            self._count(column, _BAD_DATE, bad)
            if bad and column not in self.examples:
                self.examples[column] = example
        self._count(column, _NULL_DATE, array.null_count)
        outside, first = guards.days_out_of_range(days)
        self._count(column, _OUT_OF_RANGE, outside)
        if outside and (column, _OUT_OF_RANGE) not in self.examples:
            self.examples[(column, _OUT_OF_RANGE)] = str(first)
        return pc.if_else(
            pc.and_(
                pc.greater_equal(days, pa.scalar(guards.FIRST_DAY)),
                pc.less_equal(days, pa.scalar(guards.LAST_DAY)),
            ),
            days,
            pa.scalar(None, pa.date32()),
        )

    def values(self, column: str, array: pa.Array) -> pa.Array:
        """Each row's value as float64."""
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        values = array.cast(pa.float64())
        self._count(column, _NULL_VALUE, values.null_count)
        infinite = pc.is_inf(values)
        self._count(column, _NAN, _true_count(pc.is_nan(values)))
        self._count(column, _INF, _true_count(infinite))
        self._count(column, _NEGATIVE, _true_count(pc.and_(pc.less(values, 0.0), pc.invert(infinite))))
        return values

    def reason(self) -> str:
        parts = []
        for columns, kinds in ((self.date_columns, _DATE_KINDS), (self.value_columns, _VALUE_KINDS)):
            for column in columns:
                for kind in kinds:
                    count = self.counts.get((column, kind))
                    if count:
                        parts.append(self._describe(column, kind, count))
        return "; ".join(parts) + f". Correct these rows in the export and {_RESEND}."

    def _describe(self, column: str, kind: str, count: int) -> str:
        rows = f"{count} row" if count == 1 else f"{count} rows"
        if kind == _NULL_DATE:
            return f"{rows} with a null `{column}` (every row needs a date)"
        if kind == _BAD_DATE:
            return (
                f"{rows} with a `{column}` that is not an ISO 8601 date (YYYY-MM-DD, or a date-time with an "
                f"optional UTC offset), e.g. `{self.examples[column]}`"
            )
        if kind == _OUT_OF_RANGE:
            return (
                f"{rows} with a `{column}` outside {guards.FIRST_DAY}–{guards.LAST_DAY}, e.g. "
                f"`{self.examples[(column, _OUT_OF_RANGE)]}` (no usage can be dated there)"
            )
        if kind == _NULL_VALUE:
            return f"{rows} with a null `{column}` (write 0 when there is nothing to count)"
        if kind == _NAN:
            return f"{rows} with NaN in `{column}`"
        if kind == _INF:
            return f"{rows} with an infinite `{column}`"
        return f"{rows} with a negative `{column}` (values must be zero or more)"


def _true_count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _parse_iso_days(array: pa.Array) -> tuple[pa.Array, int, str]:
    """Vectorised parse of ISO 8601 dates / date-times into UTC days: (days, unreadable count, one
    unreadable value). Date-times with an offset are moved to UTC; without one they are UTC already."""
    if pa.types.is_dictionary(array.type):
        # Parse each distinct text once, then give every row its value: a long date text repeated on every row
        # is never copied once per row.
        distinct_days, _bad, _example = _parse_iso_days(array.dictionary)
        bad_distinct = pc.and_(pc.is_null(distinct_days), pc.is_valid(array.dictionary))
        bad_rows = pc.fill_null(pc.take(bad_distinct, array.indices), False)
        bad = _true_count(bad_rows)
        example = str(array.dictionary[pc.filter(array.indices, bad_rows)[0].as_py()].as_py())[:60] if bad else ""
        return pc.take(distinct_days, array.indices), bad, example
    strings = array.cast(pa.string())
    try:
        # The usual case, every value a plain YYYY-MM-DD: Arrow's own strict cast, several times faster.
        return strings.cast(pa.date32()), 0, ""
    except pa.ArrowInvalid:
        pass
    strings = pc.utf8_trim_whitespace(strings)
    parts = pc.extract_regex(strings, _ISO).flatten()  # Children carry the nulls of non-matching rows.
    year, month, day, hour, minute, second, zone = parts
    ymd = pc.binary_join_element_wise(year, month, day, "-")
    midnight = pc.strptime(ymd, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 2024-02-30 over to March: a real date prints back as itself.
    real_date = pc.equal(midnight.cast(pa.date32()).cast(pa.string()), ymd)

    zone = pc.replace_substring(pc.replace_substring(pc.utf8_upper(zone), "Z", ""), ":", "")
    sign = pc.if_else(pc.equal(pc.utf8_slice_codeunits(zone, 0, 1), "-"), -1, 1)
    offset_hours = _int(pc.utf8_slice_codeunits(zone, 1, 3))
    offset_minutes = _int(pc.utf8_slice_codeunits(zone, 3, 5))
    hours, minutes, seconds = _int(hour), _int(minute), _int(second)
    in_range = [
        pc.less_equal(hours, 23),
        pc.less_equal(minutes, 59),
        pc.less_equal(seconds, 60),
        pc.less_equal(offset_hours, 23),
        pc.less_equal(offset_minutes, 59),
    ]
    valid = real_date
    for condition in in_range:
        valid = pc.and_(valid, condition)
    valid = pc.fill_null(valid, False)

    local = pc.add(
        midnight.cast(pa.int64()),
        pc.add(pc.multiply(hours, 3600), pc.add(pc.multiply(minutes, 60), seconds)),
    )
    offset = pc.multiply(sign, pc.add(pc.multiply(offset_hours, 3600), pc.multiply(offset_minutes, 60)))
    instants = pc.subtract(local, offset)
    days = pc.if_else(valid, instants.cast(pa.timestamp("s")).cast(pa.date32()), pa.scalar(None, pa.date32()))

    bad_mask = pc.and_(strings.is_valid(), pc.invert(valid))
    bad = _true_count(bad_mask)
    example = str(pc.filter(strings, bad_mask)[0].as_py())[:60] if bad else ""
    return days, bad, example


def _int(part: pa.Array) -> pa.Array:
    """Digits to int64; an absent (empty) part is 0."""
    return pc.if_else(pc.equal(part, ""), "0", part).cast(pa.int64())


def _as_strings(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array if pa.types.is_string(array.type) else array.cast(pa.string())


# -- aggregating ---------------------------------------------------------------------------------------

_EPOCH_DAY = (guards.FIRST_DAY - date(1970, 1, 1)).days
_DAYS = (guards.LAST_DAY - guards.FIRST_DAY).days + 1
"""Day codes run over [0, _DAYS): the checks refuse every date outside [FIRST_DAY, LAST_DAY]."""
_KEY_LIMIT = 1 << 62
"""Group keys (day code x each dimension's code capacity) stay below this; past it the Arrow group-by takes over."""
_DENSE_SPAN = 1 << 20
"""Keys spanning at most this many values are counted with one bincount over them (sums held as a dense window of
this size at most: 16 MiB); wider ones are sorted first."""


class _Dimension:
    """One dimension's distinct values in the file, as text, numbered from 1 in order of first sight (0 is null).
    Only each batch's distinct values are looked up (its dictionary), never its rows."""

    def __init__(self) -> None:
        self.values: pa.Array = pa.array([], pa.string())

    @property
    def size(self) -> int:
        return len(self.values) + 1

    def codes(self, column: pa.Array) -> np.ndarray:
        """The code of each row's value (int64), numbering values first seen in this batch."""
        if pa.types.is_null(column.type):
            return np.zeros(len(column), np.int64)
        encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
        texts = _as_strings(encoded.dictionary)
        known = pc.index_in(texts, value_set=self.values)
        unseen = pc.and_(pc.is_null(known), pc.is_valid(texts))
        if _true_count(unseen):
            self.values = pa.concat_arrays([self.values, pc.unique(pc.filter(texts, unseen))])
            known = pc.index_in(texts, value_set=self.values)
        # lookup[dictionary index] = code; the extra last entry is where null rows point.
        lookup = np.zeros(len(texts) + 1, np.int64)
        lookup[:-1] = pc.fill_null(known, -1).to_numpy(zero_copy_only=False) + 1
        indices = pc.fill_null(encoded.indices.cast(pa.int64()), len(texts))
        return lookup[indices.to_numpy(zero_copy_only=False)]

    def texts(self, codes: np.ndarray) -> pa.Array:
        return pc.take(self.values, pa.array(codes - 1, pa.int64(), mask=codes == 0))


class _Partials:
    """One metric's running aggregate: per (day, dimension values) the sum and the row count, keyed by one int64
    per group (day code, then each dimension's code in a mixed radix whose capacities grow by doubling). While
    the keys seen span at most ``_DENSE_SPAN`` values the sums are a dense window over them and a batch is one
    bincount added in; past that they are sorted keys a batch's groups are merged into. Memory follows the
    groups (or that window), not the file's rows."""

    def __init__(self, spec: MetricSpec):
        self.spec = spec
        self.dimensions = [_Dimension() for _ in spec.dimensions]
        self.capacities = [1] * len(spec.dimensions)
        self.low: int | None = None
        """Dense: the key of ``sums[0]``. None: sparse, ``keys`` holds each group's key, sorted."""
        self.keys = np.zeros(0, np.int64)
        self.sums = np.zeros(0, np.float64)
        self.counts = np.zeros(0, np.int64)
        self.fallback: _GroupBy | None = None

    def add(self, days: pa.Array, dimensions: list[pa.Array], values: pa.Array) -> None:
        if self.fallback is not None:
            self.fallback.add(days, dimensions, values)
            return
        if not len(days):
            return
        codes = [dimension.codes(column) for dimension, column in zip(self.dimensions, dimensions, strict=True)]
        if not self._make_room():
            self.fallback = _GroupBy(self.spec)
            self.fallback.extend(self._table())
            self.fallback.add(days, dimensions, values)
            return
        keys = days.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64) - _EPOCH_DAY
        for capacity, column_codes in zip(self.capacities, codes, strict=True):
            keys *= capacity
            keys += column_codes
        weights = values.to_numpy(zero_copy_only=False)
        low, high = int(keys.min()), int(keys.max())
        window = self._window(low, high)
        if window is not None:
            offsets = keys - window
            self.counts += np.bincount(offsets, minlength=len(self.counts))
            self.sums += np.bincount(offsets, weights=weights, minlength=len(self.sums))
        elif high - low < max(_DENSE_SPAN, 4 * len(keys)):
            offsets = keys - low
            counts = np.bincount(offsets)
            sums = np.bincount(offsets, weights=weights)
            present = np.flatnonzero(counts)
            self._merge(present + low, sums[present], counts[present])
        else:
            distinct, inverse = np.unique(keys, return_inverse=True)
            self._merge(distinct, np.bincount(inverse, weights=weights), np.bincount(inverse))

    def _window(self, low: int, high: int) -> int | None:
        """Make the sums a dense window covering [low, high] and every group held, if that spans at most
        ``_DENSE_SPAN`` keys, and return the window's first key; otherwise make them sparse and return None.
        A window's ends are always keys held, so it is only widened, never scanned."""
        if self.low is not None:
            first, last = min(low, self.low), max(high, self.low + len(self.sums) - 1)
        elif len(self.keys):
            first, last = min(low, int(self.keys[0])), max(high, int(self.keys[-1]))
        else:
            first, last = low, high
        if last - first >= _DENSE_SPAN:
            self._sparse()
            return None
        if self.low != first or len(self.sums) != last - first + 1:
            if self.low is None:
                keys, held = self.keys, np.arange(len(self.keys))
            else:
                held = np.flatnonzero(self.counts)
                keys = held + self.low
            sums, counts = np.zeros(last - first + 1, np.float64), np.zeros(last - first + 1, np.int64)
            sums[keys - first], counts[keys - first] = self.sums[held], self.counts[held]
            self.low, self.sums, self.counts = first, sums, counts
            self.keys = np.zeros(0, np.int64)
        return first

    def _sparse(self) -> None:
        if self.low is not None:
            present = np.flatnonzero(self.counts)
            self.keys, self.sums, self.counts = present + self.low, self.sums[present], self.counts[present]
            self.low = None

    def _make_room(self) -> bool:
        """Grow the capacities to hold every dimension's codes, re-keying the groups held; False when the keys
        would no longer fit in int64."""
        wanted = [
            capacity if dimension.size <= capacity else 1 << (dimension.size - 1).bit_length()
            for capacity, dimension in zip(self.capacities, self.dimensions, strict=True)
        ]
        if wanted == self.capacities:
            return True
        if _DAYS * math.prod(wanted) >= _KEY_LIMIT:
            return False
        day, codes = self._decode()
        keys = day
        for capacity, column_codes in zip(wanted, codes, strict=True):
            keys = keys * capacity + column_codes
        order = np.argsort(keys, kind="stable")
        self.keys, self.sums, self.counts = keys[order], self.sums[order], self.counts[order]
        self.capacities = wanted
        return True

    def _merge(self, keys: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> None:
        """Add one batch's groups (``keys`` sorted and distinct) into the held ones (sparse)."""
        positions = np.searchsorted(self.keys, keys)
        found = positions < len(self.keys)
        found[found] = self.keys[positions[found]] == keys[found]
        self.sums[positions[found]] += sums[found]
        self.counts[positions[found]] += counts[found]
        if not found.all():
            new = ~found
            self.keys = np.insert(self.keys, positions[new], keys[new])
            self.sums = np.insert(self.sums, positions[new], sums[new])
            self.counts = np.insert(self.counts, positions[new], counts[new])

    def _decode(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The groups held (made sparse) as day codes and each dimension's codes."""
        self._sparse()
        rest = self.keys
        codes = []
        for capacity in reversed(self.capacities):
            codes.append(rest % capacity)
            rest = rest // capacity
        return rest, codes[::-1]

    def _table(self) -> pa.Table:
        """The groups held as (day, one text column per dimension, sum, count)."""
        day, codes = self._decode()
        days = pa.array((day + _EPOCH_DAY).astype(np.int32), pa.int32()).cast(pa.date32())
        texts = [dimension.texts(c) for dimension, c in zip(self.dimensions, codes, strict=True)]
        return pa.Table.from_arrays(
            [days, *texts, pa.array(self.sums, pa.float64()), pa.array(self.counts, pa.int64())],
            names=["day", *(f"d{i}" for i in range(len(codes))), "sum", "count"],
        )

    def result(self) -> pa.Table:
        return _finish(self.spec, self.fallback.combined() if self.fallback is not None else self._table())


class _GroupBy:
    """Arrow group-by per batch and a combine: the fallback for dimensions with too many distinct values to
    number in one int64 key. Partial aggregates are combined once they hold ``_COMPACT_ROWS`` rows."""

    def __init__(self, spec: MetricSpec):
        self.keys = ["day", *(f"d{i}" for i in range(len(spec.dimensions)))]
        self.parts: list[pa.Table] = []
        self.rows = 0

    def add(self, days: pa.Array, dimensions: list[pa.Array], values: pa.Array) -> None:
        """Group one batch. Dimensions are grouped as read (dictionary-encoded text included) and only the
        groups' values are turned to text: a long value on every row is copied once per group, not per row."""
        table = pa.Table.from_arrays([days, *dimensions, values], names=[*self.keys, "v"])
        grouped = self._group(table, "v", "v")
        texts = [_as_strings(grouped[key]) for key in self.keys[1:]]
        self.extend(
            pa.Table.from_arrays(
                [grouped["day"], *texts, grouped["sum"], grouped["count"]], names=[*self.keys, "sum", "count"]
            )
        )

    def _group(self, table: pa.Table, sum_of: str, count_of: str) -> pa.Table:
        count = "count" if sum_of == count_of else "sum"
        grouped = table.group_by(self.keys).aggregate([(sum_of, "sum"), (count_of, count)])
        return pa.Table.from_arrays(
            [*(grouped[key] for key in self.keys), grouped[f"{sum_of}_sum"], grouped[f"{count_of}_{count}"]],
            names=[*self.keys, "sum", "count"],
        )

    def extend(self, part: pa.Table) -> None:
        self.parts.append(part)
        self.rows += part.num_rows
        if self.rows > _COMPACT_ROWS and len(self.parts) > 1:
            self.parts = [self.combined()]
            self.rows = self.parts[0].num_rows

    def combined(self) -> pa.Table:
        return self._group(pa.concat_tables(self.parts), "sum", "count")


def _finish(spec: MetricSpec, combined: pa.Table) -> pa.Table:
    """Sorted groups with their value (the sum, or the sum over the row count) and row count; a sum past the
    largest float quarantines the file."""
    keys = combined.column_names[:-2]
    combined = combined.take(pc.sort_indices(combined, sort_keys=[(key, "ascending") for key in keys]))
    sums, counts = combined["sum"], combined["count"]
    overflowing = pc.filter(combined["day"], pc.is_inf(sums))
    if len(overflowing):
        raise Quarantine(
            f"Metric `{spec.metric_name}`: `{spec.value_column}` adds up past the largest number a "
            f"value can hold ({sys.float_info.max:.3g}) on {len(overflowing)} day(s), e.g. {overflowing[0]}. "
            f"Correct these rows in the export and {_RESEND}."
        )
    values = pc.divide(sums, counts.cast(pa.float64())) if spec.aggregation is Aggregation.AVERAGE else sums
    return pa.Table.from_arrays(
        [*(combined[key] for key in keys), values, counts.cast(pa.int64())],
        names=["day", *spec.dimensions, "value", "row_count"],
    )
