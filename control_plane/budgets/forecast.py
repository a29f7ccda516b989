"""The forecast of a scope's cost at the end of a period, from its daily series: a pure function (no database, no
clock), documented with worked examples in docs/forecast.md.

Steps:
1. The known days run from the first to the last day with cost in the series (``as_of``); a day in between
   without a row cost nothing. Without any row, nothing is known: actual and forecast are 0.
2. ``actual`` is the cost from the period's first day to ``as_of`` (or to the period's end, when it is over).
3. Each day left in the period (after ``as_of``, from the period's first day on) is estimated:
   - with at least 28 known days, as the mean of the same weekday over the 28 days ending on ``as_of`` (each
     weekday appears exactly four times there, so weekends and weekdays keep their own level);
   - otherwise as the mean of the last 7 known days (fewer when fewer are known): the run rate.
4. ``forecast`` is ``actual`` plus the estimates, rounded to cents once, at the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from control_plane.budgets.models import Period

CENT = Decimal("0.01")
RUN_RATE_DAYS = 7
WEEKDAY_DAYS = 28
"""Four whole weeks: every weekday counted the same number of times."""


class Method(StrEnum):
    NONE = "NONE"
    """No cost data: nothing to project."""
    COMPLETE = "COMPLETE"
    """The period is over: the forecast is the actual."""
    RUN_RATE = "RUN_RATE"
    WEEKDAY = "WEEKDAY"


@dataclass(frozen=True)
class Forecast:
    actual: Decimal
    forecast: Decimal
    as_of: date | None
    """The last day with cost data; None without any."""
    method: Method


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def period_bounds(period: Period | str, day: date) -> tuple[date, date]:
    """The calendar month, quarter or year holding ``day``, as inclusive first and last days."""
    if period == Period.YEAR:
        return date(day.year, 1, 1), date(day.year, 12, 31)
    first_month = day.month if period == Period.MONTH else 3 * ((day.month - 1) // 3) + 1
    months = 1 if period == Period.MONTH else 3
    start = date(day.year, first_month, 1)
    next_month = first_month + months
    after = date(day.year + (next_month - 1) // 12, (next_month - 1) % 12 + 1, 1)
    return start, after - timedelta(days=1)


def forecast(daily: Mapping[date, Decimal], start: date, end: date) -> Forecast:
    """The forecast of the cost from ``start`` to ``end`` (inclusive) given each day's cost (see the module's steps)."""
    if not daily:
        return Forecast(Decimal(0), Decimal(0), None, Method.NONE)
    first, as_of = min(daily), max(daily)
    actual = sum((cost for day, cost in daily.items() if start <= day <= min(as_of, end)), Decimal(0))
    remaining = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    remaining = [day for day in remaining if day > as_of]
    if not remaining:
        return Forecast(cents(actual), cents(actual), as_of, Method.COMPLETE)
    known_days = (as_of - first).days + 1
    if known_days >= WEEKDAY_DAYS:
        window = [as_of - timedelta(days=i) for i in range(WEEKDAY_DAYS)]
        by_weekday: dict[int, Decimal] = {}
        for day in window:
            by_weekday[day.weekday()] = by_weekday.get(day.weekday(), Decimal(0)) + daily.get(day, Decimal(0))
        weeks = WEEKDAY_DAYS // 7
        projected = sum((by_weekday[day.weekday()] / weeks for day in remaining), Decimal(0))
        method = Method.WEEKDAY
    else:
        span = min(RUN_RATE_DAYS, known_days)
        recent = sum((daily.get(as_of - timedelta(days=i), Decimal(0)) for i in range(span)), Decimal(0))
        projected = recent / span * len(remaining)
        method = Method.RUN_RATE
    return Forecast(cents(actual), cents(actual + projected), as_of, method)
