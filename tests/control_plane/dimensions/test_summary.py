"""The summary's rarer paths, against sums worked out by hand: totals that float64 could not hold exactly,
more key combinations than a dense count takes, mixed keys that would overflow int64, and results written before
summaries existed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pyarrow as pa

from control_plane.allocation.engine import ALLOCATIONS_SCHEMA
from control_plane.datastore import DataStore
from control_plane.dimensions import compute, summary
from control_plane.dimensions.summary import SUMMARY_SCHEMA

DAY = date(2026, 11, 1)


def rows(*records: tuple) -> pa.Table:
    """Summary rows (day, value, rule, column, column_value, cents, quantity, rows)."""
    return pa.table({name: [r[i] for r in records] for i, name in enumerate(SUMMARY_SCHEMA.names)}, SUMMARY_SCHEMA)


def test_totals_beyond_float_precision_are_exact():
    big = 400_000_000_000_000_001  # 2^58 or so: float64 keeps 53 bits
    merged = summary.merge(
        [
            rows((DAY, "a", "r", None, None, big, 0.0, 1), (DAY, "b", "r", None, None, 7, 0.0, 1)),
            rows((DAY, "a", "r", None, None, big + 2, 0.0, 1)),
        ]
    )
    assert merged.select(["value", "cents", "rows"]).to_pylist() == [
        {"value": "a", "cents": 800_000_000_000_000_004, "rows": 2},
        {"value": "b", "cents": 7, "rows": 1},
    ]


def test_more_combinations_than_a_dense_count_takes_are_grouped_by_hashing():
    values = [f"team-{i}" for i in range(3000)]  # 2 days x 3001 values x 3001 column values > DENSE_GROUPS
    count = 6000
    table = rows(
        *(
            (date(2026, 11, 1 + i % 2), values[i % 3000], None, "ServiceName", values[(7 * i) % 3000], i, 0.5, 0)
            for i in range(count)
        )
    )
    assert summary.DENSE_GROUPS < 3 * 3001 * 3001
    merged = summary.merge([table, table])
    expected: dict[tuple, int] = {}
    for i in range(count):
        key = (date(2026, 11, 1 + i % 2), values[i % 3000], values[(7 * i) % 3000])
        expected[key] = expected.get(key, 0) + 2 * i
    got = {(r["day"], r["value"], r["column_value"]): r["cents"] for r in merged.to_pylist()}
    assert got == expected
    # Rows i and i + 3000 share day, value and column value: 3,000 groups of 2 rows, in each of the 2 copies.
    assert (len(expected), merged.column("quantity").to_pylist()) == (3000, [2.0] * 3000)


class Huge:
    """A dictionary as long as a key could be, for the mixing arithmetic (only its length is read)."""

    def __len__(self) -> int:
        return 1 << 25


def test_mixed_keys_that_would_overflow_int64_are_renumbered_first():
    # With 2^25 + 1 codes per key, mixing three keys needs 75 bits. Wrapped at 64 bits, (2^14, 0, 2^14) and
    # (0, 2^15, 0) would get the same number: they differ by 2^14 * (2^25)^2 = 2^64.
    codes = [np.array([1 << 14, 0, 1 << 14]), np.array([0, 1 << 15, 0]), np.array([1 << 14, 0, 1 << 14])]
    mix = summary._Mix()
    for code in codes:
        mix = mix.then(code, Huge())
    assert not mix.dense  # renumbered keys are hashed, never decoded as if they were the codes
    assert mix.combined[0] == mix.combined[2] != mix.combined[1]


def test_results_written_before_summaries_are_summarised_when_first_read(tmp_path):
    store = DataStore.local(tmp_path)
    legacy = f"vd_1/{'0' * 32}.parquet"
    store.write_table(
        f"{compute.tenant_folder('ten_1')}/{legacy}",
        pa.table(
            {
                "row_id": [1, 1, 2, 3],
                "day": [DAY, DAY, DAY, DAY],
                "value": ["a", "b", "a", "Unallocated"],
                "amount": [Decimal("1.25"), Decimal("0.75"), Decimal("3.00"), Decimal("0.10")],
                "rule": ["split", "split", "exact", None],
            },
            ALLOCATIONS_SCHEMA,
        ),
    )
    totals = compute.read_totals(store, compute.result_keys("ten_1", "vd_1", legacy))
    assert totals is not None
    assert (totals.total, totals.cost_rows, totals.first_day) == (Decimal("5.10"), 3, DAY)
    assert totals.by_value == {"a": Decimal("4.25"), "b": Decimal("0.75"), "Unallocated": Decimal("0.10")}
    assert totals.by_rule == {"split": (Decimal("2.00"), 1), "exact": (Decimal("3.00"), 1), None: (Decimal("0.10"), 1)}
