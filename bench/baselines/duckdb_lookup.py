"""Baseline (b): DuckDB SQL with the rules as lookup tables.

1. One scan (GROUPING SETS) gives the distinct values of every column and tag the rules read, and the distinct
   tuples of each set of columns a several-column rule reads.
2. Lookup tables, built once per distinct value (or tuple): per column, value -> the first one-column rule on it
   that matches and, for a FROM_COLUMN rule reading it, the mapped value's coefficient group; per column set,
   tuple -> the first several-column rule matching; per METRIC rule, day -> group; the coefficient table
   (group, part, value, numerator, denominator, parts). Null is a key too (a sentinel), so `Not(In(...))`
   matching a missing tag is a lookup like any other.
3. Per partition, one `COPY (…) TO parquet`: the cost rows joined to every lookup (null-safe through the
   sentinel), the rule = least of the candidates (first-match order: the smallest matching index), the group by
   rule, cents half-to-even in exact decimal arithmetic, the parts by a join to the coefficients; rows of one
   part take their cents, the others floor + remainder in integers and the cents left over by `row_number()`
   over the row's parts ordered by remainder (ties to the smaller value), compared with `cents - sum(floor)`
   over the row. The two kinds of row are two branches of a UNION ALL over the same scan (not materialized: a
   window over every part would sort them all).
Lookup construction reads the rules with pyarrow compute (RE2, as DuckDB's regexp_matches); it runs once per
distinct value, not per row.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.baselines.common import (
    Groups,
    day_groups,
    fixed_groups,
    mapped_groups,
    rule_shapes,
    single_value_mask,
)
from control_plane.allocation import AllocationKind, VirtualDimension
from control_plane.allocation.rules import TAG_PREFIX, And, Condition, Not, Or

SLICE_ROWS = 1 << 21
"""Cost rows per statement: bounds what DuckDB holds (the parts of a slice are materialized for its two branches)."""
NULL_KEY = "\x00null"
"""Stands for null in join keys (no cost column holds a NUL character)."""


def _expression(reference: str) -> str:
    if reference.startswith(TAG_PREFIX):
        return f"\"Tags\"['{reference[len(TAG_PREFIX) :]}']"
    return f'"{reference}"'


def _table_mask(condition: Condition, columns: Mapping[str, pa.Array]) -> np.ndarray:
    """A condition on rows of distinct tuples (one array per column), its leaves per value."""
    if isinstance(condition, And | Or):
        masks = [_table_mask(operand, columns) for operand in condition.operands]
        return np.logical_and.reduce(masks) if isinstance(condition, And) else np.logical_or.reduce(masks)
    if isinstance(condition, Not):
        return ~_table_mask(condition.operand, columns)
    return single_value_mask(condition, columns[next(iter(condition.references()))])


def _keys(values: pa.Array) -> pa.Array:
    return values.cast(pa.string()).fill_null(NULL_KEY)


def _slices(path: str) -> list[tuple[int, int]]:
    """x_RowId ranges of consecutive row groups, SLICE_ROWS rows at most, from the footer's statistics: a filter
    on one is pruned to its row groups by DuckDB, so each statement holds one slice."""
    metadata = pq.ParquetFile(path).metadata
    column = [metadata.schema.column(i).path for i in range(metadata.num_columns)].index("x_RowId")
    slices: list[tuple[int, int]] = []
    rows = 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        statistics = group.column(column).statistics
        low, high = int(statistics.min), int(statistics.max)
        if slices and rows + group.num_rows <= SLICE_ROWS:
            slices[-1] = (slices[-1][0], high)
            rows += group.num_rows
        else:
            slices.append((low, high))
            rows = group.num_rows
    return slices


def run(
    cost_paths: list[str],
    out_paths: list[str],
    dimension: VirtualDimension,
    usage: Mapping[str, pa.Table],
    *,
    memory_limit: str,
    threads: int,
    temp_directory: str,
) -> dict:
    """Allocate each cost partition into its results file; returns the DuckDB settings used."""
    con = duckdb.connect()
    settings = {"threads": threads, "memory_limit": memory_limit, "preserve_insertion_order": False}
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_directory}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")
    rules = dimension.rules
    shapes = rule_shapes(dimension)
    groups = Groups(dimension.leftover)
    group_of_rule = fixed_groups(dimension, groups)

    # 1. distinct values of each column, and tuples of each several-column rule's columns: one scan
    mapped_rules = [i for i, r in enumerate(rules) if r.allocation.kind is AllocationKind.FROM_COLUMN]
    metric_rules = [i for i, r in enumerate(rules) if r.allocation.kind is AllocationKind.METRIC]
    columns = sorted(set(shapes.by_column) | {rules[i].allocation.column or "" for i in mapped_rules})
    column_sets = sorted({tuple(sorted(rules[i].condition.references())) for i in shapes.several})
    references = sorted(set(columns) | {c for s in column_sets for c in s})
    alias = {r: f"c{i}" for i, r in enumerate(references)}
    files = "[" + ", ".join(f"'{p}'" for p in cost_paths) + "]"
    sets = [f"({alias[c]})" for c in columns] + ["(" + ", ".join(alias[c] for c in s) + ")" for s in column_sets]
    selected = ", ".join(f"{_expression(r)} AS {alias[r]}" for r in references)
    everything = ", ".join(alias[r] for r in references)
    distinct: pa.Table = con.sql(
        f"SELECT grouping({everything}) AS gid, {everything} FROM (SELECT {selected} FROM read_parquet({files})) "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    ).to_arrow_table()
    gid = distinct.column("gid").to_numpy()

    def rows_of(members: tuple[str, ...]) -> pa.Table:
        bits = sum(1 << (len(references) - 1 - references.index(r)) for r in references if r not in members)
        return distinct.filter(pa.array(gid == bits)).select([alias[r] for r in members])

    # 2. lookup tables
    lookups = []
    for column in columns:
        values = rows_of((column,)).column(0).combine_chunks().cast(pa.string())
        first = np.full(len(values), -1, dtype=np.int64)
        for index in shapes.by_column.get(column, []):
            first[(first == -1) & single_value_mask(rules[index].condition, values)] = index
        table = {"k": _keys(values), "r": pa.array(first, mask=first == -1).cast(pa.int16())}
        for index in mapped_rules:
            if rules[index].allocation.column == column:
                table[f"g{index}"] = pa.array(mapped_groups(rules[index].allocation, values, groups))
        name = f"lk_{alias[column]}"
        con.register(name, pa.table(table))
        lookups.append((name, column))
    pairs = []
    for n, members in enumerate(column_sets):
        tuples = rows_of(members)
        arrays = {c: tuples.column(alias[c]).combine_chunks().cast(pa.string()) for c in members}
        first = np.full(tuples.num_rows, -1, dtype=np.int64)
        for index in shapes.several:
            if tuple(sorted(rules[index].condition.references())) == members:
                first[(first == -1) & _table_mask(rules[index].condition, arrays)] = index
        table = {f"k{j}": _keys(arrays[c]) for j, c in enumerate(members)}
        table["r"] = pa.array(first, mask=first == -1).cast(pa.int16())
        con.register(f"pk{n}", pa.table(table))
        pairs.append((f"pk{n}", members))
    for index in metric_rules:
        by_day = day_groups(rules[index].allocation, usage[rules[index].name], groups)
        days = pa.array(list(by_day), pa.int32()).cast(pa.date32())
        con.register(f"md{index}", pa.table({"day": days, "g": pa.array(list(by_day.values()), pa.int64())}))
    leftover = int(group_of_rule[-1])
    fixed = [int(g) if g >= 0 else None for g in group_of_rule[:-1]]
    con.register(
        "rules",
        pa.table({
            "r": pa.array([*range(len(rules)), shapes.none], pa.int16()),
            "name": pa.array([r.name for r in rules] + [None], pa.string()),
            "g": pa.array([*fixed, leftover], pa.int64()),
        }),
    )  # fmt: skip
    coefficient_rows: dict[str, list] = {"g": [], "k": [], "value": [], "num": [], "den": [], "n": []}
    for g, (codes, numerators, denominator) in enumerate(groups.members):
        for k, (code, numerator) in enumerate(zip(codes, numerators, strict=True)):
            for key, item in zip(
                coefficient_rows, (g, k, groups.names[code], numerator, denominator, len(codes)), strict=True
            ):
                coefficient_rows[key].append(item)
    con.register("coef", pa.table(coefficient_rows))

    # 3. per partition
    keyed = ", ".join(f"coalesce(CAST({_expression(r)} AS VARCHAR), '{NULL_KEY}') AS {alias[r]}" for r in references)
    joins = [f"LEFT JOIN {name} ON c.{alias[column]} = {name}.k" for name, column in lookups]
    joins += [
        f"LEFT JOIN {name} ON " + " AND ".join(f"c.{alias[col]} = {name}.k{j}" for j, col in enumerate(members))
        for name, members in pairs
    ]
    candidates = [f"coalesce({name}.r, {shapes.none})" for name, _c in lookups + pairs]
    rule = f"least({', '.join([*candidates, str(min(shapes.always, shapes.none))])})"
    mapped = ", ".join(
        f"{name}.g{i} AS g{i}" for i in mapped_rules for name, column in lookups if rules[i].allocation.column == column
    )
    when = " ".join(f"WHEN {i} THEN b.g{i}" for i in mapped_rules)
    when += " ".join(f" WHEN {i} THEN coalesce(md{i}.g, {leftover})" for i in metric_rules)
    day_joins = " ".join(f"LEFT JOIN md{i} ON md{i}.day = b.day" for i in metric_rules)
    cents = (  # half-to-even in int64 decimals where the cost fits DECIMAL(18, 12) (4x faster), else in 128 bits
        "coalesce(CAST(round_even(TRY_CAST(c.BilledCost AS DECIMAL(18, 12)), 2) * 100 AS BIGINT), "
        "CAST(round_even(c.BilledCost, 2) * 100 AS BIGINT), 0)"
    )
    amount = "CAST(CAST({} AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2)) AS DECIMAL(18, 2))"
    for cost_path, out_path in zip(cost_paths, out_paths, strict=True):
        for n, (low, high) in enumerate(_slices(cost_path)):
            query = f"""
            WITH base AS NOT MATERIALIZED (
                SELECT c.x_RowId AS row_id, CAST(c.ChargePeriodStart AS DATE) AS day, {cents} AS cents,
                       CAST({rule} AS SMALLINT) AS rule{", " + mapped if mapped else ""}
                FROM (SELECT x_RowId, ChargePeriodStart, BilledCost, {keyed} FROM read_parquet('{cost_path}')
                      WHERE x_RowId BETWEEN {low} AND {high}) c
                {" ".join(joins)}
            ),
            parts AS NOT MATERIALIZED (
                SELECT b.row_id, b.day, b.cents, rules.name AS rule, coef.value, coef.k, coef.num, coef.den, coef.n
                FROM base b JOIN rules ON rules.r = b.rule {day_joins}
                JOIN coef ON coef.g = CASE b.rule {when} ELSE rules.g END
            )
            SELECT row_id, day, value, {amount.format("cents")} AS amount, rule FROM parts WHERE n = 1
            UNION ALL
            SELECT row_id, day, value,
                   {
                amount.format(
                    "floor_cents + CASE WHEN row_number() OVER (PARTITION BY row_id ORDER BY rem DESC, k) "
                    "<= cents - sum(floor_cents) OVER (PARTITION BY row_id) THEN 1 ELSE 0 END"
                )
            } AS amount,
                   rule
            FROM (
                SELECT *, (cents * num - rem) // den AS floor_cents
                FROM (SELECT *, ((cents * num) % den + den) % den AS rem FROM parts WHERE n > 1)
            )
            """
            con.execute(
                f"COPY ({query}) TO '{out_path[: -len('.parquet')]}-{n:03d}.parquet' (FORMAT parquet, COMPRESSION zstd)"
            )
    return settings
