"""Baseline (a): numpy over the dictionary codes of each Parquet batch.

Per Parquet row group (the importer writes 256k rows each; string columns and the tags' keys and values read
dictionary-encoded, one dictionary per column per row group):
1. Each column's codes; a tag's codes from the map column (one comparison over the map keys, the first entry).
2. Each one-column rule evaluated once per distinct value of its column's dictionary (plus null), kept as the
   first matching rule per value; a row's rule is the smallest of its columns' answers (integer lookups), and of
   the several-column rules (their per-value masks combined by lookups); none left: the catch-all.
3. Each row's coefficient group by lookup: per rule, per mapped value (FROM_COLUMN), per day (METRIC).
4. Cents half-even from the decimal's unscaled integer; rows of one part take their cents; the others, per part
   count: floor and remainder with integer numerators, the cents left over to the largest remainders (ties to the
   smaller value), vectorized.
5. The batch's parts written to Parquet (value and rule dictionary-encoded).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.baselines.common import (
    MICROS_PER_DAY,
    RESULT_SCHEMA,
    Groups,
    day_groups,
    fixed_groups,
    mapped_groups,
    rule_shapes,
    single_value_mask,
)
from control_plane.allocation import AllocationKind, VirtualDimension
from control_plane.allocation.rules import TAG_PREFIX, And, Not, Or

OUT_SCHEMA = pa.schema(
    [
        RESULT_SCHEMA.field("row_id"),
        RESULT_SCHEMA.field("day"),
        pa.field("value", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        RESULT_SCHEMA.field("amount"),
        pa.field("rule", pa.dictionary(pa.int16(), pa.string())),
    ]
)


def _codes(array: pa.DictionaryArray) -> np.ndarray:
    """The dictionary indices as int32, null as len(dictionary) (the null slot of every lookup)."""
    indices = array.indices
    codes = np.frombuffer(indices.buffers()[1], dtype=np.int32)[indices.offset : indices.offset + len(indices)]
    if array.null_count:
        codes = np.where(array.is_valid().to_numpy(zero_copy_only=False), codes, len(array.dictionary))
    return codes


def _tag_codes(tags: pa.MapArray, key: str) -> tuple[pa.Array, np.ndarray]:
    """(distinct values, per-row code) of tag ``key``: the first map entry with that key; absent: null slot."""
    items, keys = tags.items, tags.keys
    if not pa.types.is_dictionary(items.type):
        items = pc.dictionary_encode(items)
    if not pa.types.is_dictionary(keys.type):
        keys = pc.dictionary_encode(keys)
    offsets = np.frombuffer(tags.offsets.buffers()[1], dtype=np.int32)[tags.offset : tags.offset + len(tags) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    is_key = np.append(pc.equal(keys.dictionary, key).fill_null(False).to_numpy(zero_copy_only=False), False)
    hit = is_key[_codes(keys)[first:last]]
    seen = np.zeros(len(hit) + 1, dtype=np.int64)
    np.cumsum(hit, out=seen[1:])
    before, through = seen[offsets[:-1] - first], seen[offsets[1:] - first]
    found = through > before
    positions = np.flatnonzero(hit) + first
    dictionary = items.dictionary
    item_codes = _codes(items)
    codes = np.full(len(tags), len(dictionary), dtype=np.int32)
    if len(positions):
        codes[found] = item_codes[positions[before[found]]]
    return dictionary, codes


def _cents(billed: pa.Array) -> np.ndarray:
    """decimal128 costs to int64 cents, half-to-even, from the unscaled low word (checked to fit)."""
    scale = billed.type.scale
    words = np.frombuffer(billed.buffers()[1], dtype="<i8").reshape(-1, 2)[billed.offset : billed.offset + len(billed)]
    low = words[:, 0]
    if not bool(np.all(words[:, 1] == (low >> 63))):
        raise ValueError("a BilledCost does not fit int64 unscaled; this baseline does not handle it")
    step = 10 ** (scale - 2)
    quotient, remainder = np.divmod(low, step)
    up = (2 * remainder > step) | ((2 * remainder == step) & (quotient % 2 == 1))
    cents = quotient + up
    if billed.null_count:
        cents = np.where(billed.is_valid().to_numpy(zero_copy_only=False), cents, 0)
    return cents


class NumpyAllocator:
    def __init__(self, dimension: VirtualDimension, usage: Mapping[str, pa.Table]):
        self.dimension = dimension
        self.shapes = rule_shapes(dimension)
        self.groups = Groups(dimension.leftover)
        self.group_of_rule = fixed_groups(dimension, self.groups)
        self.per_row = [i for i, r in enumerate(dimension.rules) if self.group_of_rule[i] < 0]
        self.metric_days: dict[int, dict[int, int]] = {}
        for index in self.per_row:
            rule = dimension.rules[index]
            if rule.allocation.kind is AllocationKind.METRIC:
                self.metric_days[index] = day_groups(rule.allocation, usage[rule.name], self.groups)
        self.group_of_rule[self.group_of_rule < 0] = self.group_of_rule[-1]
        self.references = sorted(dimension.references())
        self.rule_names = pa.array([r.name for r in dimension.rules], pa.string())
        columns = {r for r in self.references if not r.startswith(TAG_PREFIX)}
        self.read_columns = ["ChargePeriodStart", "BilledCost", "x_RowId", *sorted(columns)]
        if any(r.startswith(TAG_PREFIX) for r in self.references):
            self.read_columns.append("Tags")
        self.dictionary_columns = [*sorted(columns), "Tags.key_value.key", "Tags.key_value.value"]
        self._arrays: tuple | None = None

    def _encoded(self, batch: pa.RecordBatch) -> dict[str, tuple[pa.Array, np.ndarray]]:
        """Per reference: (distinct values with a trailing null, per-row code)."""
        out = {}
        for reference in self.references:
            if reference.startswith(TAG_PREFIX):
                dictionary, codes = _tag_codes(batch.column("Tags"), reference[len(TAG_PREFIX) :])
            else:
                column = batch.column(reference)
                if not pa.types.is_dictionary(column.type):
                    column = pc.dictionary_encode(column)
                dictionary, codes = column.dictionary, _codes(column)
            out[reference] = (pa.concat_arrays([dictionary.cast(pa.string()), pa.nulls(1, pa.string())]), codes)
        return out

    def allocate(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        n = batch.num_rows
        rules = self.dimension.rules
        shapes = self.shapes
        encoded = self._encoded(batch)

        # 2. the first matching rule: per column by distinct value, then the smallest over the columns
        rule = np.full(n, min(shapes.always, shapes.none), dtype=np.int16)
        for column, indices in shapes.by_column.items():
            values, codes = encoded[column]
            first = np.full(len(values), shapes.none, dtype=np.int16)
            for index in indices:
                first[(first == shapes.none) & single_value_mask(rules[index].condition, values)] = index
            if (first < shapes.none).any():
                np.minimum(rule, first[codes], out=rule)
        for index in shapes.several:
            hit = self._rows(rules[index].condition, encoded)
            rule[hit & (rule > index)] = index

        # 3. coefficient group per row
        group = self.group_of_rule[rule]  # rule == none: the last entry, the leftover
        day = np.frombuffer(batch.column("ChargePeriodStart").buffers()[1], dtype=np.int64) // MICROS_PER_DAY
        day = day[batch.column("ChargePeriodStart").offset :][:n].astype(np.int32)
        for index in self.per_row:
            rows = np.flatnonzero(rule == index)
            if not len(rows):
                continue
            allocation = rules[index].allocation
            if index in self.metric_days:
                by_day = self.metric_days[index]
                first_day = int(day[rows].min())
                lookup = np.full(int(day[rows].max()) - first_day + 1, self.group_of_rule[-1], dtype=np.int64)
                for d, g in by_day.items():
                    if 0 <= d - first_day < len(lookup):
                        lookup[d - first_day] = g
                group[rows] = lookup[day[rows] - first_day]
            else:
                values, codes = encoded[allocation.column or ""]
                group[rows] = mapped_groups(allocation, values, self.groups)[codes[rows]]

        # 4. cents and their split
        cents = _cents(batch.column("BilledCost"))
        if self._arrays is None or len(self._arrays[0]) != len(self.groups.members):
            self._arrays = self.groups.arrays()
        sizes, value_codes, numerators, denominators = self._arrays
        count = sizes[group]
        starts = np.cumsum(count) - count
        total = int(count.sum())
        amount = np.repeat(cents, count)
        value = np.repeat(value_codes[group, 0], count)
        for parts in np.unique(count[count > 1]).tolist():
            rows = np.flatnonzero(count == parts)
            of_rows = group[rows]
            products = cents[rows, None] * numerators[of_rows, :parts]
            floors, remainders = np.divmod(products, denominators[of_rows, None])
            left = cents[rows] - floors.sum(axis=1)
            order = np.argsort(-remainders, axis=1, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(parts)[None, :].repeat(len(rows), axis=0), axis=1)
            positions = starts[rows, None] + np.arange(parts)
            amount[positions] = floors + (rank < left[:, None])
            value[positions] = value_codes[of_rows, :parts]

        # 5. the parts
        words = np.empty((total, 2), dtype=np.int64)
        words[:, 0] = amount
        np.right_shift(amount, 63, out=words[:, 1])
        row_ids = np.frombuffer(batch.column("x_RowId").buffers()[1], dtype=np.int64)
        row_ids = row_ids[batch.column("x_RowId").offset :][:n]
        out_rule = np.repeat(rule, count)
        return pa.RecordBatch.from_arrays(
            [
                pa.array(np.repeat(row_ids, count)),
                pa.Array.from_buffers(pa.date32(), total, [None, pa.py_buffer(np.repeat(day, count))]),
                pa.DictionaryArray.from_arrays(pa.array(value), pa.array(self.groups.names, pa.string())),
                pa.Array.from_buffers(RESULT_SCHEMA.field("amount").type, total, [None, pa.py_buffer(words)]),
                pa.DictionaryArray.from_arrays(pa.array(out_rule, mask=out_rule == self.shapes.none), self.rule_names),
            ],
            schema=OUT_SCHEMA,
        )

    def _rows(self, condition, encoded) -> np.ndarray:
        """A several-column condition per row: its one-column leaves per distinct value, combined per row."""
        if isinstance(condition, And | Or):
            masks = [self._rows(operand, encoded) for operand in condition.operands]
            return np.logical_and.reduce(masks) if isinstance(condition, And) else np.logical_or.reduce(masks)
        if isinstance(condition, Not):
            return ~self._rows(condition.operand, encoded)
        values, codes = encoded[next(iter(condition.references()))]
        return single_value_mask(condition, values)[codes]


def run(cost_paths: list[str], out_paths: list[str], dimension: VirtualDimension, usage: Mapping[str, pa.Table]) -> int:
    """Allocate each cost partition into its results file; returns the parts written."""
    allocator = NumpyAllocator(dimension, usage)
    parts = 0
    for cost_path, out_path in zip(cost_paths, out_paths, strict=True):
        source = pq.ParquetFile(cost_path, read_dictionary=allocator.dictionary_columns)
        with pq.ParquetWriter(out_path, OUT_SCHEMA, compression="zstd") as writer:
            for group in range(source.num_row_groups):  # one row group at a time: one dictionary per column
                table = source.read_row_group(group, columns=allocator.read_columns)
                batch = pa.RecordBatch.from_arrays([c.chunk(0) for c in table.columns], schema=table.schema)
                result = allocator.allocate(batch)
                parts += result.num_rows
                writer.write_batch(result)
    return parts
