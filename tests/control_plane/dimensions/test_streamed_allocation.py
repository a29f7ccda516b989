"""The streamed recompute (cost partitions read in bounded batches, parts written as produced, a summary per
batch merged) equals the per-row oracle to the cent on random tables: every part of every row, and the summary's
totals per value and per rule."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from control_plane.allocation import AllocationError, VirtualDimension, allocate, engine
from control_plane.allocation.engine import ALLOCATIONS_SCHEMA
from control_plane.billing.schema import COST_SCHEMA
from control_plane.datastore import DataStore
from control_plane.dimensions import compute, summary
from control_plane.dimensions.compute import Engine
from tests.control_plane.allocation.reference import reference_allocate
from tests.control_plane.allocation.test_allocation_oracle import cost_tables, dimensions, usage_for, usage_rows


def as_partitions(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    """``table`` (the oracle's shape) as COST_SCHEMA partitions cut at ``cuts``, x_RowId increasing."""
    n = table.num_rows
    day = table.column("ChargePeriodStart").cast(pa.date32()).to_pylist()
    columns = {
        "x_RowId": pa.array(range(10, 10 + 7 * n, 7), pa.int64()),
        "ChargePeriodStart": pa.array([datetime(d.year, d.month, d.day, tzinfo=UTC) for d in day]),
        "BilledCost": table.column("BilledCost"),
        "ConsumedQuantity": pa.array([float(i % 4) for i in range(n)], pa.float64()),
        "x_DatasourceId": pa.array(["bds_1"] * n),
        "x_BillingPeriod": pa.array(["2026-11"] * n),
    }
    for name in table.column_names:
        if name not in columns and name in COST_SCHEMA.names:
            columns[name] = table.column(name)
    full = pa.table(
        {f.name: columns.get(f.name, pa.nulls(n, f.type)).cast(f.type) for f in COST_SCHEMA}, schema=COST_SCHEMA
    )
    bounds = [0, *sorted(set(cuts)), n]
    return [full.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    cost_tables(),
    dimensions,
    usage_rows,
    st.lists(st.integers(0, 30), max_size=3),
    st.integers(1, 7),
    st.integers(1, 8),
    st.integers(1, 12),
    st.integers(0, 6),
)
def test_streamed_recompute_equals_the_oracle(table, dimension, rows, cuts, batch_rows, min_batch_rows, span, known):
    assume(pa.types.is_decimal(table.column("BilledCost").type) and table.num_rows > 0)
    usage = usage_for(dimension, rows)
    partitions = as_partitions(table, [c for c in cuts if c < table.num_rows])
    whole = pa.concat_tables(partitions)
    oracle_input = whole.select(["x_RowId", "ChargePeriodStart", "BilledCost", *table.column_names[3:]])
    oracle_input = oracle_input.rename_columns(["row_id", *oracle_input.column_names[1:]])
    try:
        expected = reference_allocate(oracle_input, dimension, usage).allocations
    except AllocationError:
        assume(False)
        return
    with (
        tempfile.TemporaryDirectory() as directory,
        mock.patch.object(compute, "BATCH_ROWS", batch_rows),
        mock.patch.object(compute, "MIN_BATCH_ROWS", min_batch_rows),  # row groups of 3: gathered, cut, or as is
        mock.patch.object(summary, "SUMMARISED_PARTS", span),  # summaries of spans of batches, folded in twos
        mock.patch.object(summary, "FOLD", 2),
        mock.patch.object(engine, "DECIDED_VALUES", known),  # decisions kept across batches, until too many values
    ):
        store = DataStore.local(Path(directory))
        keys = []
        for index, partition in enumerate(partitions):
            keys.append(f"costs/ten_1/bds_1/2026-11.{index}.parquet")
            store.write_table(keys[-1], partition, row_group_size=3)
        computed = compute.allocate_partitions(
            Engine(store), "ten_1", keys, dimension, usage, into=compute.new_result_folder("vd_1")
        )
        assert computed is not None and computed.folder is not None
        parts = compute.ResultKeys(computed.folder).parts(store)
        got = pa.concat_tables([store.read_table(key) for key in parts]).cast(ALLOCATIONS_SCHEMA)

    order = [("row_id", "ascending"), ("value", "ascending")]
    assert got.sort_by(order).to_pydict() == expected.sort_by(order).to_pydict()
    totals = computed.totals()
    by_value: dict[str, Decimal] = defaultdict(Decimal)
    by_rule: dict[str | None, Decimal] = defaultdict(Decimal)
    for value, rule, amount in zip(*(expected.column(c).to_pylist() for c in ("value", "rule", "amount")), strict=True):
        by_value[value] += amount
        by_rule[rule] += amount
    assert totals.by_value == dict(by_value)
    assert {rule: amount for rule, (amount, _rows) in totals.by_rule.items()} == dict(by_rule)
    assert totals.cost_rows == whole.num_rows == computed.cost_rows
    assert totals.total == sum(by_value.values(), Decimal(0))
    assert pc.sum(computed.summary.column("rows")).as_py() == whole.num_rows  # counted once, in the core rows
    # each summarised column's piece holds the same money per (day, value, column value) as the oracle's parts
    row_of = {row_id: i for i, row_id in enumerate(whole.column("x_RowId").to_pylist())}
    for name in summary.SUMMARY_COLUMNS:
        column = whole.column(name).to_pylist()
        want: dict[tuple, Decimal] = defaultdict(Decimal)
        for row_id, day, value, amount in zip(
            *(expected.column(c).to_pylist() for c in ("row_id", "day", "value", "amount")), strict=True
        ):
            want[(day, value, column[row_of[row_id]])] += amount
        piece = summary.by_column(computed.summary, name).to_pylist()
        got_piece: dict[tuple, Decimal] = defaultdict(Decimal)
        for r in piece:
            got_piece[(r["day"], r["value"], r["column_value"])] += Decimal(r["cents"]).scaleb(-2)
        assert dict(got_piece) == dict(want), name
    # the warnings add up over batches and partitions to what one pass over the whole month says
    engine_input = whole.select(["ChargePeriodStart", "BilledCost", *table.column_names[3:]])
    assert computed.warnings == allocate(engine_input, dimension, usage).warnings


def test_a_window_reads_only_its_days_row_groups_included(tmp_path):
    """Ten rows on ten days, three rows per row group (days 1-3, 4-6, 7-9, 10): a preview of days 3-6 allocates
    exactly those days' rows (row groups wholly outside the window are skipped by their statistics, the one
    whose last day is the window's first is read and filtered)."""
    n = 10
    days = [datetime(2026, 11, 1 + i, tzinfo=UTC) for i in range(n)]
    table = pa.table(
        {
            f.name: {
                "x_RowId": pa.array(range(n), pa.int64()),
                "ChargePeriodStart": pa.array(days),
                "BilledCost": pa.array([Decimal(i + 1) for i in range(n)]),
                "ServiceName": pa.array(["EC2"] * n),
                "x_DatasourceId": pa.array(["bds_1"] * n),
                "x_BillingPeriod": pa.array(["2026-11"] * n),
            }.get(f.name, pa.nulls(n, f.type)).cast(f.type)
            for f in COST_SCHEMA
        },
        schema=COST_SCHEMA,
    )
    store = DataStore.local(tmp_path)
    store.write_table("costs/ten_1/bds_1/2026-11.1.parquet", table, row_group_size=3)
    window = (date(2026, 11, 3), date(2026, 11, 7))  # [start, end): days 3, 4, 5 and 6
    dimension = VirtualDimension("team", ())
    computed = compute.allocate_partitions(
        Engine(store), "ten_1", ["costs/ten_1/bds_1/2026-11.1.parquet"], dimension, {}, window
    )
    assert computed is not None
    totals = computed.totals()
    assert (computed.cost_rows, totals.total, totals.first_day, totals.last_day) == (
        4,
        Decimal("18.00"),  # the rows of days 3-6 cost $3, $4, $5 and $6
        date(2026, 11, 3),
        date(2026, 11, 6),
    )
