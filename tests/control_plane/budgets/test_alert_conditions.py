"""When an alert fires over a hand-worked daily series: the two conditions, days without rows, the de-duplication
window, and the warning `terraform plan` shows."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from control_plane.budgets.models import Condition
from control_plane.budgets.preview import AlertRule, Firing, Preview, firings, preview_finding

D = Decimal
MARCH = date(2026, 3, 1)
# March 1-10: 100 100 100 100 300 100 260 250 100 400
COSTS = ["100", "100", "100", "100", "300", "100", "260", "250", "100", "400"]
SERIES = {MARCH + timedelta(days=i): D(c) for i, c in enumerate(COSTS)}
END = date(2026, 3, 10)


def days(found: list[Firing]) -> list[int]:
    return [f.day.day for f in found]


@pytest.mark.parametrize(
    ("dedup_hours", "fired"),
    [(24, [5, 7, 10]), (48, [5, 7, 10]), (72, [5, 10]), (24 * 6, [5])],
    ids=["24h", "48h", "72h", "6-days"],
)
def test_above_amount_with_its_dedup_window(dedup_hours, fired):
    # Above 250: the 5th (300), 7th (260) and 10th (400); the 8th (250) is not above.
    # 72 h: after the 5th, the 7th is 48 h later (quiet); the 10th is 120 h later.
    rule = AlertRule(Condition.ABOVE_AMOUNT, amount=D("250"), dedup_hours=dedup_hours)
    assert days(firings(SERIES, rule, MARCH, END)) == fired


def test_above_the_trailing_average_by_a_percent():
    # 3 days, +50%: the 4th is the first day with 3 known days before it.
    #  4th: mean 100      -> 150.00, 100 no      5th: mean 100      -> 150.00, 300 fires
    #  6th: mean 500/3    -> 250.00, 100 no      7th: mean 500/3    -> 250.00, 260 fires
    #  8th: mean 660/3    -> 330.00, 250 no      9th: mean 610/3    -> 305.00, 100 no
    # 10th: mean 610/3    -> 305.00, 400 fires
    rule = AlertRule(Condition.ABOVE_TRAILING_AVERAGE, trailing_days=3, percent=D("50"))
    assert firings(SERIES, rule, MARCH, END) == [
        Firing(date(2026, 3, 5), D("300"), D("150.00")),
        Firing(date(2026, 3, 7), D("260"), D("250.00")),
        Firing(date(2026, 3, 10), D("400"), D("305.00")),
    ]


def test_a_known_day_without_a_row_costs_nothing():
    # Without a row on the 9th the mean before the 10th is (260 + 250 + 0) / 3 = 170, raised 50%: 255.
    series = {day: cost for day, cost in SERIES.items() if day.day != 9}
    rule = AlertRule(Condition.ABOVE_TRAILING_AVERAGE, trailing_days=3, percent=D("50"))
    assert firings(series, rule, date(2026, 3, 10), END) == [Firing(date(2026, 3, 10), D("400"), D("255.00"))]


def test_the_window_runs_from_the_last_firing_before_the_range():
    # Fired on the 4th; 48 h: the 5th (24 h later) stays quiet, the 7th (72 h) fires, and the 10th.
    rule = AlertRule(Condition.ABOVE_AMOUNT, amount=D("250"), dedup_hours=48)
    assert days(firings(SERIES, rule, date(2026, 3, 5), END, last_fired=date(2026, 3, 4))) == [7, 10]


def test_no_data_never_fires():
    rule = AlertRule(Condition.ABOVE_TRAILING_AVERAGE, trailing_days=1, percent=D("0"))
    assert firings({}, rule, MARCH, END) == []


def test_rule_from_an_alerts_fields():
    data = {"condition": "ABOVE_TRAILING_AVERAGE", "trailing_days": 7, "percent": 12.5}
    assert AlertRule.of(data) == AlertRule(Condition.ABOVE_TRAILING_AVERAGE, None, 7, D("12.5"), 24)


def test_the_plan_warning_lists_the_last_firings_newest_first():
    fired = [Firing(MARCH + timedelta(days=i), D("300") + i, D("250.00")) for i in range(7)]
    finding = preview_finding(Preview(date(2025, 12, 11), END, fired))
    assert (finding.is_error, finding.summary) == (False, "Alert Preview (Last 90 Days)")
    assert finding.detail == (
        "Over 2025-12-11 – 2026-03-10 this alert would have fired on 7 days; the last:\n"
        "  2026-03-07: $306.00 (above $250.00)\n"
        "  2026-03-06: $305.00 (above $250.00)\n"
        "  2026-03-05: $304.00 (above $250.00)\n"
        "  2026-03-04: $303.00 (above $250.00)\n"
        "  2026-03-03: $302.00 (above $250.00)"
    )


def test_the_plan_warning_when_it_would_not_have_fired_or_without_data():
    assert preview_finding(Preview(date(2025, 12, 11), END, [])).detail == (
        "Over 2025-12-11 – 2026-03-10 this alert would not have fired."
    )
    assert preview_finding(Preview(None, None, [])).detail == (
        "No cost data yet: the alert's past firings cannot be previewed."
    )
