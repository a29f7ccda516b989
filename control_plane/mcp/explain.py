"""Why one value of a virtual dimension got its cost: the rules that gave it cost (with their definitions:
conditions, the column or metric they read), where that cost came from (per provider, service, account and
model), and the dimension's leftover. Read from the allocation's summary, never the results themselves.

1. The dimension (the tenant's, else NotFound as everywhere) and its result pointer; the connection goes back
   to the pool before the columnar work.
2. The summary's core rows of the value, summed per rule; its rows per summary column, summed per column value.
3. The totals (per value) give the value's share and the leftover's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from control_plane.db import release
from control_plane.dimensions import compute
from control_plane.dimensions import service as dimensions
from control_plane.dimensions import summary as summaries
from control_plane.errors import FailedPrecondition, InvalidArgument
from control_plane.models import Tenant
from costory_schema.problems import Problem

SOURCES_SHOWN = 10
"""Column values listed per summary column (the largest); the rest are counted."""
VALUES_NAMED = 20
"""Values named in the error for a value the dimension does not have."""
NO_RULE = "(no rule matched)"


def explain(session: Session, tenant: Tenant, engine: compute.Engine, dimension_id: str, value: str) -> dict[str, Any]:
    row = dimensions.get_dimension(session, tenant, dimension_id)
    release(session)
    keys = compute.result_keys(row.tenant_id, row.id, row.allocation_file)
    table = compute.read_summary(engine.store, keys)
    totals = compute.read_totals(engine.store, keys)
    if table is None or totals is None:
        raise FailedPrecondition(
            f"virtual dimension {row.name!r} has no computed allocation (status {row.status}): import cost data or "
            "recompute it, then ask again"
        )
    if value not in totals.by_value:
        known = sorted(totals.by_value, key=lambda v: (-totals.by_value[v], v))
        shown = ", ".join(known[:VALUES_NAMED]) + (
            f" and {len(known) - VALUES_NAMED} more" if len(known) > VALUES_NAMED else ""
        )
        raise InvalidArgument(
            [
                Problem(
                    ("value",),
                    "Unknown Value",
                    f"`value` is `{value}`: virtual dimension {row.name!r} gave it no cost; its values are "
                    f"{shown or 'none'} (list_dimension_values lists them).",
                )
            ]
        )
    cost = totals.by_value[value]
    definitions = {rule.get("name"): rule for rule in row.rules}
    rules = [
        {
            "rule": rule if rule is not None else NO_RULE,
            "cost": f"{amount:.2f}",
            **({"definition": definitions[rule]} if rule in definitions else {}),
        }
        for rule, amount in _sums(summaries.core(table), value, "rule")
    ]
    sources = {}
    for column in summaries.SUMMARY_COLUMNS:
        amounts = _sums(summaries.by_column(table, column), value, "column_value")
        sources[column] = [{"value": v or "", "cost": f"{a:.2f}"} for v, a in amounts[:SOURCES_SHOWN]]
        if len(amounts) > SOURCES_SHOWN:
            rest = sum((a for _, a in amounts[SOURCES_SHOWN:]), Decimal(0))
            sources[column].append({"value": f"{len(amounts) - SOURCES_SHOWN} more", "cost": f"{rest:.2f}"})
    leftover = totals.by_value.get(row.leftover_value, Decimal(0))
    return {
        "dimension_id": row.id,
        "dimension_name": row.name,
        "value": value,
        "start_date": totals.first_day.isoformat() if totals.first_day else "",
        "end_date": totals.last_day.isoformat() if totals.last_day else "",
        "cost": f"{cost:.2f}",
        "percent": f"{compute.percent(cost, totals.total)}",
        "total_cost": f"{totals.total:.2f}",
        "rules": rules,
        "sources": sources,
        "leftover": {
            "value": row.leftover_value,
            "cost": f"{leftover:.2f}",
            "percent": f"{compute.percent(leftover, totals.total)}",
        },
    }


def _sums(rows: pa.Table, value: str, key: str) -> list[tuple[Any, Decimal]]:
    """The value's cents summed per ``key``, largest first (ties by key), as money."""
    mine = rows.filter(pc.equal(rows.column("value"), value))
    grouped = mine.group_by(key, use_threads=False).aggregate([("cents", "sum")])
    pairs = zip(grouped.column(key).to_pylist(), grouped.column("cents_sum").to_pylist(), strict=True)
    amounts = [(k, Decimal(int(c)).scaleb(-2)) for k, c in pairs if c]
    return sorted(amounts, key=lambda kv: (-kv[1], str(kv[0])))
