"""Builders for small cost and usage tables."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa

COST_SCHEMA = pa.schema(
    [
        ("row_id", pa.int64()),
        ("ChargePeriodStart", pa.date32()),
        ("BilledCost", pa.decimal128(18, 6)),
        ("ServiceName", pa.string()),
        ("ResourceId", pa.string()),
        ("RegionId", pa.string()),
        ("SubAccountId", pa.string()),
        ("x_IamPrincipal", pa.string()),
        ("Tags", pa.map_(pa.string(), pa.string())),
    ]
)
DAY1 = date(2026, 11, 1)
DAY2 = date(2026, 11, 2)


def costs(*rows: dict) -> pa.Table:
    """One dict per row; missing keys are null, row_id defaults to the position, day to DAY1."""
    columns: dict[str, list] = {name: [] for name in COST_SCHEMA.names}
    for position, row in enumerate(rows):
        for name in COST_SCHEMA.names:
            value = row.get(name)
            if name == "row_id" and value is None:
                value = position
            elif name == "ChargePeriodStart" and value is None:
                value = DAY1
            elif name == "BilledCost" and value is not None:
                value = Decimal(str(value))
            elif name == "Tags" and value is not None:
                value = list(value.items())
            columns[name].append(value)
    return pa.table(columns, schema=COST_SCHEMA)


def usage(*rows: tuple[date, str, float]) -> pa.Table:
    return pa.table(
        {
            "day": pa.array([r[0] for r in rows], pa.date32()),
            "owner": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([float(r[2]) for r in rows], pa.float64()),
        }
    )


def rows_of(result) -> list[tuple[int, str, str, str | None]]:
    """(row_id, value, amount as text, rule) per allocation row."""
    table = result.allocations
    return [
        (row_id, value, str(amount), rule)
        for row_id, value, amount, rule in zip(
            table.column("row_id").to_pylist(),
            table.column("value").to_pylist(),
            table.column("amount").to_pylist(),
            table.column("rule").to_pylist(),
            strict=True,
        )
    ]


def totals(result) -> dict[str, str]:
    """Σ amount per dimension value, as text."""
    sums: dict[str, Decimal] = {}
    table = result.allocations
    for value, amount in zip(table.column("value").to_pylist(), table.column("amount").to_pylist(), strict=True):
        sums[value] = sums.get(value, Decimal("0.00")) + amount
    return {value: str(amount) for value, amount in sorted(sums.items())}
