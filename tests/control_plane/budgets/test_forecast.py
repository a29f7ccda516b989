"""The period-end forecast on hand-worked daily series (the worked examples of docs/forecast.md)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from control_plane.budgets.forecast import Forecast, Method, forecast, period_bounds
from control_plane.budgets.models import Period

D = Decimal


def series(first: date, costs: list[str]) -> dict[date, Decimal]:
    return {first + timedelta(days=i): D(c) for i, c in enumerate(costs)}


@pytest.mark.parametrize(
    ("period", "day", "bounds"),
    [
        (Period.MONTH, date(2026, 2, 14), (date(2026, 2, 1), date(2026, 2, 28))),
        (Period.MONTH, date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
        (Period.QUARTER, date(2026, 5, 20), (date(2026, 4, 1), date(2026, 6, 30))),
        (Period.QUARTER, date(2026, 11, 2), (date(2026, 10, 1), date(2026, 12, 31))),
        (Period.YEAR, date(2028, 2, 29), (date(2028, 1, 1), date(2028, 12, 31))),
    ],
    ids=["month", "december", "q2", "q4", "leap-year"],
)
def test_period_bounds(period, day, bounds):
    assert period_bounds(period, day) == bounds


def test_run_rate_when_fewer_than_28_days_are_known():
    # June 1-5 cost 10, 20, 30, 40, 50: actual 150; run rate (5 days known) 150 / 5 = 30 a day;
    # June 6-30 is 25 days: 150 + 25 × 30 = 900.
    daily = series(date(2026, 6, 1), ["10", "20", "30", "40", "50"])
    assert forecast(daily, date(2026, 6, 1), date(2026, 6, 30)) == Forecast(
        D("150.00"), D("900.00"), date(2026, 6, 5), Method.RUN_RATE
    )


def test_run_rate_takes_the_last_seven_days_and_days_without_rows_cost_nothing():
    # May 20-31 known (12 days); the last 7 (May 25-31) are 70, 0 (no row on May 27), 70 × 5 = 420: 60 a day.
    # June has no cost yet: actual 0; 30 days × 60 = 1800.
    daily = series(date(2026, 5, 20), ["999"] * 5 + ["70", "70"])
    daily.update(series(date(2026, 5, 28), ["70", "70", "70", "70"]))
    assert forecast(daily, date(2026, 6, 1), date(2026, 6, 30)) == Forecast(
        D("0.00"), D("1800.00"), date(2026, 5, 31), Method.RUN_RATE
    )


def test_weekday_means_over_four_weeks():
    # 2026-02-12 (Thu) .. 2026-03-11 (Wed): Mon-Fri 100, Sat 40, Sun 20, except Monday Feb 16 at 140, so the
    # Monday mean is (140 + 3 × 100) / 4 = 110.
    # Actual, March 1-11: Sun 20 + Mon-Fri 500 + Sat 40 + Sun 20 + Mon-Wed 300 = 880.
    # March 12-31: Mon ×3 (16, 23, 30) 330, Tue ×3 300, Wed ×2 200, Thu ×3 300, Fri ×3 300, Sat ×3 120,
    # Sun ×3 60 = 1610. Forecast 880 + 1610 = 2490 (the 7-day run rate, 80 a day, would say 2480).
    level = {5: "40", 6: "20"}
    first = date(2026, 2, 12)
    daily = {first + timedelta(days=i): D(level.get((first + timedelta(days=i)).weekday(), "100")) for i in range(28)}
    daily[date(2026, 2, 16)] = D("140")
    assert forecast(daily, date(2026, 3, 1), date(2026, 3, 31)) == Forecast(
        D("880.00"), D("2490.00"), date(2026, 3, 11), Method.WEEKDAY
    )


def test_rounded_to_cents_once_at_the_end():
    # 10 + 10 + 10.01 = 30.01; run rate 10.00333…; two days left: 30.01 + 20.00666… = 50.01666… -> 50.02.
    daily = series(date(2026, 4, 28), ["10", "10", "10.01"])
    assert forecast(daily, date(2026, 4, 1), date(2026, 5, 2)).forecast == D("50.02")


def test_a_period_that_is_over_forecasts_its_actual():
    daily = series(date(2026, 1, 30), ["5", "6", "7", "8"])  # Jan 30 - Feb 2
    assert forecast(daily, date(2026, 1, 1), date(2026, 1, 31)) == Forecast(
        D("11.00"), D("11.00"), date(2026, 2, 2), Method.COMPLETE
    )


def test_without_cost_data_nothing_is_forecast():
    assert forecast({}, date(2026, 1, 1), date(2026, 1, 31)) == Forecast(D(0), D(0), None, Method.NONE)
