"""When an alert fires, over a daily series: the pure core shared by the scheduler's evaluation and the plan-time
preview (how often it would have fired over the last 90 days), and the one read of a scope's daily cost.

An alert looks at one day's cost at a time:
1. ``ABOVE_AMOUNT``: the day's cost is above ``amount``.
   ``ABOVE_TRAILING_AVERAGE``: the day's cost is above the mean of the ``trailing_days`` days before it, raised by
   ``percent``; a day is only judged once that many days before it are known (on or after the first day with cost).
   Known days without a row cost nothing.
2. De-duplication: after firing on a day, the alert fires again only on a day at least ``dedup_hours`` later
   (days are whole: 24 hours apart each).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy.orm import Session

from control_plane.budgets.forecast import cents
from control_plane.budgets.models import DEFAULT_DEDUP_HOURS, DEFAULT_METRIC, Condition
from control_plane.budgets.service import scope_of
from control_plane.cost.model import Filter, Query
from control_plane.dimensions.compute import Engine, money
from control_plane.models import Tenant
from costory_schema.problems import Problem

PREVIEW_DAYS = 90
SHOWN_FIRINGS = 5
"""The most recent firings the plan's warning lists."""


@dataclass(frozen=True)
class AlertRule:
    """An alert's condition, as numbers."""

    condition: Condition
    amount: Decimal | None = None
    trailing_days: int = 0
    percent: Decimal = Decimal(0)
    dedup_hours: int = DEFAULT_DEDUP_HOURS

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> AlertRule:
        """From an alert's plain-Python view (or its row's values): a checked alert's fields are all valid."""
        amount, percent = data.get("amount"), data.get("percent")
        return cls(
            Condition(data["condition"]),
            Decimal(amount) if amount is not None else None,
            data.get("trailing_days") or 0,
            Decimal(str(percent)) if percent is not None else Decimal(0),
            data.get("dedup_hours") or DEFAULT_DEDUP_HOURS,
        )


@dataclass(frozen=True)
class Firing:
    day: date
    cost: Decimal
    threshold: Decimal
    """What the cost was compared with: the amount, or the trailing mean raised by the percent (rounded to cents
    for display; the comparison itself is exact)."""


def firings(
    daily: Mapping[date, Decimal], rule: AlertRule, start: date, end: date, last_fired: date | None = None
) -> list[Firing]:
    """The days from ``start`` to ``end`` (inclusive) the alert fires on, oldest first, given the day it last fired
    before ``start`` (see the module's steps)."""
    first_known = min(daily) if daily else None
    out: list[Firing] = []
    day = start
    while day <= end:
        cost = daily.get(day, Decimal(0))
        threshold = _threshold(daily, rule, day, first_known)
        quiet = last_fired is not None and (day - last_fired).days * 24 < rule.dedup_hours
        if threshold is not None and cost > threshold and not quiet:
            out.append(Firing(day, cost, cents(threshold)))
            last_fired = day
        day += timedelta(days=1)
    return out


def _threshold(daily: Mapping[date, Decimal], rule: AlertRule, day: date, first_known: date | None) -> Decimal | None:
    if rule.condition == Condition.ABOVE_AMOUNT:
        return rule.amount
    window_start = day - timedelta(days=rule.trailing_days)
    if first_known is None or window_start < first_known:
        return None
    total = sum(
        (daily.get(window_start + timedelta(days=i), Decimal(0)) for i in range(rule.trailing_days)), Decimal(0)
    )
    return total / rule.trailing_days * (1 + rule.percent / 100)


# -- reading the series ----------------------------------------------------------------------------------------


def daily_costs(
    session: Session,
    tenant: Tenant,
    engine: Engine,
    filters: tuple[Filter, ...],
    metric: str,
    start: date | None = None,
    end: date | None = None,
    preset: str | None = None,
) -> tuple[date, date, dict[date, Decimal]]:
    """The scope's cost per day (days with cost only) over ``start``..``end`` or a preset, and the range read.
    Gives the session's connection back (as every cost read does)."""
    from control_plane.cost import query

    asked = Query(
        filters=filters, granularity="DAY", metric=cast(Any, metric), start=start, end=end, preset=cast(Any, preset)
    )
    result = query.run(session, tenant, engine, asked)
    return result.start, result.end, {date.fromisoformat(row.period): row.cost for row in result.rows}


@dataclass(frozen=True)
class Preview:
    start: date | None
    end: date | None
    """The days looked at; None without cost data."""
    firings: list[Firing]


def preview(session: Session, tenant: Tenant, engine: Engine, data: Mapping[str, Any], days: int = 0) -> Preview:
    """The days the alert in ``data`` (checked) would have fired on over the last ``days`` (90 when 0) days of cost
    data: the preset range ends on the last day with cost data."""
    days = days or PREVIEW_DAYS
    rule = AlertRule.of(data)
    filters, metric = scope_of(data), data.get("metric") or DEFAULT_METRIC.value
    _, end, recent = daily_costs(session, tenant, engine, filters, metric, preset="LAST_90_DAYS")
    if not recent:
        return Preview(None, None, [])
    start = end - timedelta(days=days - 1)
    history_start = start - timedelta(days=rule.trailing_days)
    with Session(bind=session.get_bind()) as again:  # the first read gave the caller's session back
        _, _, daily = daily_costs(again, tenant, engine, filters, metric, start=history_start, end=end)
    return Preview(start, end, firings(daily, rule, start, end))


def preview_finding(result: Preview) -> Problem:
    """The preview as the WARNING `terraform plan` shows."""
    if result.start is None or result.end is None:
        return Problem.warning(
            (), "Alert Preview (Last 90 Days)", "No cost data yet: the alert's past firings cannot be previewed."
        )
    span = f"{result.start.isoformat()} – {result.end.isoformat()}"
    if not result.firings:
        return Problem.warning((), "Alert Preview (Last 90 Days)", f"Over {span} this alert would not have fired.")
    count = len(result.firings)
    lines = [f"Over {span} this alert would have fired on {count} day{'s' if count > 1 else ''}; the last:"]
    for firing in reversed(result.firings[-SHOWN_FIRINGS:]):
        lines.append(f"  {firing.day.isoformat()}: {money(firing.cost)} (above {money(firing.threshold)})")
    return Problem.warning((), "Alert Preview (Last 90 Days)", "\n".join(lines))
