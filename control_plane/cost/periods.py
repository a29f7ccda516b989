"""Date arithmetic of the query model: presets, the previous period to compare with, and the periods a range
is cut into. Pure functions of dates (the last day with cost data is given), so every case is tested directly."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from control_plane.cost.model import Granularity, Preset

PRESETS: tuple[Preset, ...] = (
    "LAST_7_DAYS",
    "LAST_30_DAYS",
    "LAST_90_DAYS",
    "LAST_MONTH",
    "MONTH_TO_DATE",
    "QUARTER_TO_DATE",
    "YEAR_TO_DATE",
)
GRANULARITIES: tuple[Granularity, ...] = ("DAY", "WEEK", "MONTH", "TOTAL")
_TRAILING = {"LAST_7_DAYS": 7, "LAST_30_DAYS": 30, "LAST_90_DAYS": 90}
_TO_DATE_MONTHS = {"MONTH_TO_DATE": 1, "QUARTER_TO_DATE": 3, "YEAR_TO_DATE": 12}


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later (earlier when negative), clipped to that month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _period_start(day: date, months: int) -> date:
    """The first day of the month, quarter (3) or year (12) holding ``day``."""
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def resolve(preset: Preset, last_day: date) -> tuple[date, date]:
    """The inclusive range a preset names when ``last_day`` is the last day with cost data."""
    if preset in _TRAILING:
        return last_day - timedelta(days=_TRAILING[preset] - 1), last_day
    if preset == "LAST_MONTH":
        first_of_month = last_day.replace(day=1)
        return add_months(first_of_month, -1), first_of_month - timedelta(days=1)
    return _period_start(last_day, _TO_DATE_MONTHS[preset]), last_day


def previous(start: date, end: date, preset: Preset | None = None) -> tuple[date, date]:
    """The period a comparison reads: for LAST_MONTH the month before; for *_TO_DATE the same days of the
    previous month / quarter / year (the end clipped to that month's length); otherwise the same number of days
    just before ``start``."""
    if preset == "LAST_MONTH":
        return add_months(start, -1), start - timedelta(days=1)
    if preset in _TO_DATE_MONTHS:
        months = _TO_DATE_MONTHS[preset]
        return add_months(start, -months), add_months(end, -months)
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def week_of(day: date) -> date:
    """The Monday of the ISO week holding ``day`` (a WEEK period's name)."""
    return day - timedelta(days=day.weekday())


def periods(start: date, end: date, granularity: Granularity) -> list[str]:
    """The names of the periods ``start..end`` is cut into, in order (how a comparison lines previous periods
    up with current ones: by position)."""
    if granularity == "TOTAL":
        return [total_period(start, end)]
    if granularity == "DAY":
        return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    if granularity == "WEEK":
        first, last = week_of(start), week_of(end)
        return [(first + timedelta(weeks=i)).isoformat() for i in range((last - first).days // 7 + 1)]
    months = (end.year - start.year) * 12 + end.month - start.month
    return [add_months(start.replace(day=1), i).strftime("%Y-%m") for i in range(months + 1)]


def total_period(start: date, end: date) -> str:
    """A TOTAL period's name: the range as an ISO 8601 interval, `2026-03-01/2026-03-31`."""
    return f"{start.isoformat()}/{end.isoformat()}"
