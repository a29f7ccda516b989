"""The "advanced explorer": c = a / b * d before any dimension is saved.

a = a metric's usage per owner over a date range (owners mapped to values), b = the total of a, d = the cost
of the rows matching a filter over the same range, c = each value's share of d. The split uses the
engine's rounding (d to cents, then largest remainder), so the rows add up to d exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from control_plane.allocation import Allocation, Condition, Rule, VirtualDimension, preview_split
from control_plane.billing.store import CostStore
from control_plane.db import release
from control_plane.dimensions import compute
from control_plane.dimensions.definition import parse_definition
from control_plane.errors import InvalidArgument
from control_plane.metrics.query import AuthorizedDatasourceId, load_series
from control_plane.models import Tenant
from costory_schema.problems import PathStep, Problem

PREVIEW_RULE = "preview"
_REMAP: dict[tuple[PathStep, ...], tuple[PathStep, ...]] = {
    ("rules", 0, "conditions"): ("cost_filter",),
    ("rules", 0, "metric_split"): ("metric",),
}


@dataclass(frozen=True)
class PreviewRow:
    value: str
    usage: float
    share: Decimal
    cost: Decimal


@dataclass(frozen=True)
class Preview:
    rows: list[PreviewRow]
    total_usage: float
    total_cost: Decimal
    unmapped_owners: list[str]


def preview_cost_split(
    session: Session,
    tenant: Tenant,
    engine: compute.Engine,
    *,
    start: date,
    end: date,
    metric: dict[str, Any],
    cost_filter: list[dict[str, Any]],
) -> Preview:
    """a, b, d and c over [start, end] (inclusive days); raises InvalidArgument on a bad metric or filter."""
    if start > end:
        raise InvalidArgument(
            [Problem(("start_date",), "Invalid Range", f"`start_date` ({start}) is after `end_date` ({end}).")]
        )
    rule = {"name": PREVIEW_RULE, "conditions": cost_filter, "metric_split": metric}
    definition = parse_definition({"name": "preview", "rules": [rule]}, compute.metric_lookup(session, tenant.id))
    if definition.errors or definition.dimension is None:
        raise InvalidArgument([Problem(_remap(f.path), f.summary, f.detail) for f in definition.errors])
    source = definition.metric_sources[PREVIEW_RULE]
    condition = definition.dimension.rules[0].condition
    mapping = definition.dimension.rules[0].allocation.mapping

    usage_by_value: dict[str, float] = defaultdict(float)
    unmapped: set[str] = set()
    loaded = load_series(
        session,
        AuthorizedDatasourceId(source.datasource_id),  # metric_lookup only resolves the tenant's datasources
        source.metric_name,
        start=start,
        end=end,
        group_by=[source.dimension],
    )
    tenant_id = tenant.id
    cost_keys = CostStore(engine.store).partition_keys(session, tenant_id)
    release(session)  # the database has given all it holds for this preview; the rest is columnar
    series = loaded.filled()
    totals = series.group_by(source.dimension).aggregate([("value", "sum")])
    for owner, usage in zip(
        totals.column(source.dimension).to_pylist(), totals.column("value_sum").to_pylist(), strict=True
    ):
        value = mapping.apply(None if owner is None else str(owner))
        if value is None:
            if usage:
                unmapped.add(str(owner))
            continue
        usage_by_value[value] += usage

    total_cost = _filtered_cost(engine, tenant_id, cost_keys, condition, start, end)
    positive = {value: usage for value, usage in usage_by_value.items() if usage > 0}
    split = preview_split(positive, total_cost) if positive and total_cost else {}
    rows = [
        PreviewRow(value, usage_by_value[value], *split.get(value, (Decimal(0), Decimal("0.00"))))
        for value in sorted(usage_by_value)
    ]
    return Preview(rows, sum(usage_by_value.values()), total_cost, sorted(unmapped))


def _filtered_cost(
    engine: compute.Engine, tenant_id: str, cost_keys: list[str], condition: Condition, start: date, end: date
) -> Decimal:
    """d: the cost (to cents, per row, as the engine rounds) of the rows the filter matches."""
    matcher = VirtualDimension("preview", (Rule(PREVIEW_RULE, condition, Allocation.fixed("d")),))
    window = (start, end + timedelta(days=1))
    result = compute.allocate_partitions(engine, tenant_id, cost_keys, matcher, {}, window)
    if result is None:
        return Decimal("0.00")
    matched = result.totals().by_rule.get(PREVIEW_RULE)
    return Decimal("0.00") if matched is None else Decimal(matched[0]).quantize(compute.CENT)


def _remap(path: tuple[PathStep, ...]) -> tuple[PathStep, ...]:
    for prefix, replacement in _REMAP.items():
        if path[: len(prefix)] == prefix:
            return (*replacement, *path[len(prefix) :])
    return path
