"""The one query model behind every way of reading cost: REST, gRPC, the dashboard, budgets, alerts, reports
and MCP all build a `Query` and read a `QueryResult` (control_plane.cost.query.run answers it).

A *field* names what a query groups or filters by:
- a normalized cost column of the allow-list (`billing.schema.RULE_COLUMNS`, e.g. `ServiceName`, `x_Model`);
- `tag:<key>`, a user tag;
- `dimension:<id>`, the value of a virtual dimension (by id, as every API path takes ids).
Grouping by several dimensions that each split a row shares the row's cost between every combination of
values in proportion to each dimension's share of it (a part's amount / the row's allocated amount; equal
shares when the row's billed cost is 0): billed cost amount_a * amount_b / row_amount.

Exact cents: each group's cost is summed exactly, then rounded up or down (largest remainder, ties to the
first rows in the order shown) so that the rows add up to `QueryResult.total`, the exact total rounded half to
even; each row is within a cent of its exact cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

DIMENSION_PREFIX = "dimension:"
OTHER = "Other"
"""The group that top-N folds the rest into."""

Operator = Literal["IN", "NOT_IN", "EQUALS", "PREFIX"]
Granularity = Literal["DAY", "WEEK", "MONTH", "TOTAL"]
"""WEEK periods are ISO weeks named by their Monday (YYYY-MM-DD); TOTAL is the whole range as one period,
named as an ISO 8601 interval (`2026-03-01/2026-03-31`)."""
Metric = Literal["BILLED", "EFFECTIVE", "LIST"]
"""BilledCost, EffectiveCost or ListCost. A dimension's allocation splits each in the row's own proportions."""
Preset = Literal[
    "LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS", "LAST_MONTH", "MONTH_TO_DATE", "QUARTER_TO_DATE", "YEAR_TO_DATE"
]
"""Trailing presets end on the last day with cost data (today's UTC date when there is none) and include it;
`*_TO_DATE` run from the period's first day to that day; LAST_MONTH is the calendar month before it."""


@dataclass(frozen=True)
class Filter:
    field: str
    operator: Operator
    values: tuple[str, ...]
    """EQUALS takes exactly one value; PREFIX matches a value starting with any of them. A row without the
    field (no such tag, a null column, a row a dimension leaves unlabelled) matches NOT_IN only."""


@dataclass(frozen=True)
class Query:
    group_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    granularity: Granularity = "DAY"
    metric: Metric = "BILLED"
    start: date | None = None
    end: date | None = None
    """Inclusive UTC days; give both, or a preset."""
    preset: Preset | None = None
    compare: bool = False
    """Also answer the previous period of the same length (for *_TO_DATE presets: the same days of the previous
    month / quarter / year, the end clipped to that month's length; for LAST_MONTH: the month before). The
    previous range's n-th period lines up with the current range's n-th; a previous period past the current
    range's count (31 January against a 28-day February, by DAY) is left out of the rows and of
    `previous_total`."""
    top_n: int = 0
    """Keep the N groups with the most cost over the whole range (ties by name); the rest sum into `OTHER`
    in every group_by field (in every period, and in the previous one). 0 keeps all."""
    with_quantity: bool = False
    """Sum ConsumedQuantity too (tokens for AI usage), split like the cost."""


@dataclass(frozen=True)
class Row:
    period: str
    group: dict[str, str | None]
    """group_by field -> value; None where the row has no value for the field (for a dimension: a cost row its
    current results do not allocate, e.g. imported since it was last computed)."""
    cost: Decimal
    """Rounded to cents."""
    quantity: float | None = None
    previous_cost: Decimal | None = None
    """The same group in the previous period (`compare`); its `period` is the current one it lines up with."""


@dataclass(frozen=True)
class QueryResult:
    start: date
    end: date
    rows: list[Row]
    total: Decimal
    previous_start: date | None = None
    previous_end: date | None = None
    previous_total: Decimal | None = None
    truncated: bool = False
    """More rows than the caller's page: see the page token of the API layer. `total` and `previous_total`
    always cover every row."""
