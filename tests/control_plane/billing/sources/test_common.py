"""The readers' shared helpers: exact money (one amount, a cost column), counts, UTC days and page cursors, with
hand-worked values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from control_plane.billing.sources.common import (
    NotAnAmount,
    count,
    day_start,
    day_start_text,
    day_windows,
    each_day,
    exact_money,
    money,
    money_column,
    next_cursor,
)
from control_plane.imports.errors import Quarantine, TransientImportError


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        pytest.param(Decimal("0.0000000000125"), 0, "0.000000000012", id="half-to-even-down"),
        pytest.param("0.0000000000135", 0, "0.000000000014", id="half-to-even-up"),
        pytest.param(Decimal("1234.5"), 2, "12.345000000000", id="cents"),
        pytest.param(7, 0, "7.000000000000", id="int"),
        pytest.param("-9999999999999999.999999999999", 0, "-9999999999999999.999999999999", id="largest"),
        pytest.param("123456789012345678.9", 2, "1234567890123456.789000000000", id="largest-in-cents"),
    ],
)
def test_money_is_exact_on_twelve_places(value: object, scale: int, expected: str) -> None:
    assert f"{money(value, 'the amount', scale=scale):f}" == expected


@pytest.mark.parametrize(
    "value",
    [True, 1.5, None, "12.3.4", "NaN", "Infinity", "10000000000000000", "9999999999999999.9999999999995"],
    ids=["bool", "float", "none", "text", "nan", "infinite", "1e16", "rounds-up-to-1e16"],
)
def test_money_refuses_what_no_bill_holds(value: object) -> None:
    with pytest.raises(Quarantine) as caught:
        money(value, "the amount of x")
    assert caught.value.reason == f"the amount of x is {str(value)[:40]!r}, not an amount a bill can hold."


def test_exact_money_says_none_rather_than_raising() -> None:
    assert exact_money(Decimal("1e30")) is None
    assert exact_money(Decimal("-0.5"), scale=2) == Decimal("-0.005000000000")


def test_a_double_column_is_the_decimals_it_was_written_from() -> None:
    values = pa.array([98765.4321, 0.1, 260.98, None, 1e15])
    assert [str(v) if v is not None else None for v in money_column(values, "cost").to_pylist()] == [
        "98765.432100000000",
        "0.100000000000",
        "260.980000000000",
        None,
        "1000000000000000.000000000000",
    ]


def test_a_text_column_is_parsed_as_decimals() -> None:
    values = pa.array([" 1.0000000000005 ", "", "2", "-3.0000000000015", None, "1.5e-3"]).dictionary_encode()
    assert money_column(values, "cost").to_pylist() == [
        Decimal("1.000000000000"),
        None,
        Decimal("2.000000000000"),
        Decimal("-3.000000000002"),
        None,
        Decimal("0.001500000000"),
    ]


def test_text_past_22_decimals_rounds_on_every_digit() -> None:
    """Just above half of the last place (the 23rd decimal says so) rounds up; exactly half rounds to even."""
    values = pa.array(["0.00000000000050000000001", "0.0000000000005", "9999999999999999.9999999999994999999"])
    assert money_column(values, "cost").to_pylist() == [
        Decimal("0.000000000001"),
        Decimal("0.000000000000"),
        Decimal("9999999999999999.999999999999"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param(
            pa.array([1.0, float("nan")]), "1 row(s) with NaN in `cost`; a cost is a finite amount of money", id="nan"
        ),
        pytest.param(
            pa.array([float("-inf"), float("inf")]),
            "2 row(s) with an infinite amount in `cost`; a cost is a finite amount of money",
            id="inf",
        ),
        pytest.param(
            pa.array([1e300]),
            "1 row(s) with an amount of 1e+16 or more (e.g. 1e+300) in `cost`; a cost is a finite amount of money",
            id="huge",
        ),
        *(
            pytest.param(
                pa.array(["1", text]),
                "a value in `cost` that is not an amount below 10^16 with at most 38 decimals",
                id=f"text-{text}",
            )
            for text in ("12.3.4", "10000000000000000", "1e-40")
        ),
        pytest.param(pa.array([True]), "`cost` is bool, not an amount", id="bool"),
    ],
)
def test_a_column_no_bill_holds_is_refused_naming_it(values: pa.Array, message: str) -> None:
    with pytest.raises(NotAnAmount) as caught:
        money_column(values, "cost")
    assert str(caught.value) == message


def test_days() -> None:
    nov1, nov3, nov10 = date(2026, 11, 1), date(2026, 11, 3), date(2026, 11, 10)
    assert day_start(nov1) == datetime(2026, 11, 1, tzinfo=UTC)
    assert day_start_text(nov1) == "2026-11-01T00:00:00Z"
    assert list(each_day(nov1, nov3)) == [nov1, date(2026, 11, 2)]
    assert list(each_day(nov3, nov1)) == []
    assert list(day_windows(nov1, nov10, 4)) == [
        (nov1, date(2026, 11, 5)),
        (date(2026, 11, 5), date(2026, 11, 9)),
        (date(2026, 11, 9), nov10),
    ]


def test_next_cursor_refuses_a_cursor_that_would_page_forever() -> None:
    seen: set[str] = set()
    assert next_cursor("Test API", "/v1/things", "next_page", "page_2", seen) == "page_2"
    assert seen == {"page_2"}
    for cursor in ("page_2", "", None, 3):
        with pytest.raises(TransientImportError) as caught:
            next_cursor("Test API", "/v1/things", "next_page", cursor, seen)
        assert caught.value.message == (
            "Test API said more of /v1/things follows but gave no new `next_page`; the import is retried automatically."
        )


def test_a_count_is_a_whole_number_of_zero_or_more() -> None:
    assert (count(None, "tokens"), count(0, "tokens"), count(1_500_000, "tokens")) == (0, 0, 1_500_000)
    for value, shown in ((-1, "'-1'"), (True, "'True'"), (Decimal("1.5"), "'1.5'"), ("12", "'12'")):
        with pytest.raises(Quarantine) as caught:
            count(value, "X: `output_tokens` of a usage event")
        assert caught.value.reason == f"X: `output_tokens` of a usage event is {shown}, not a count."
