from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from control_plane.scheduler.slots import (
    first_slot_at_or_after,
    last_slot_at_or_before,
    require_utc,
    slots_between,
)
from tests.control_plane.scheduler.support import at


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param("2026-01-01 10:00", "2026-01-02 06:00", id="after-the-hour-next-day"),
        pytest.param("2026-01-01 06:00", "2026-01-01 06:00", id="exactly-on-the-slot"),
        pytest.param("2026-01-01 05:59:59.999999", "2026-01-01 06:00", id="just-before"),
        pytest.param("2026-12-31 06:00:01", "2027-01-01 06:00", id="across-the-year"),
    ],
)
def test_first_slot_at_or_after(instant, expected):
    assert first_slot_at_or_after(at(instant), 6) == at(expected)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        pytest.param("2026-01-05 07:00", "2026-01-05 06:00", id="after-the-hour-same-day"),
        pytest.param("2026-01-05 06:00", "2026-01-05 06:00", id="exactly-on-the-slot"),
        pytest.param("2026-01-05 05:59", "2026-01-04 06:00", id="before-the-hour-day-before"),
    ],
)
def test_last_slot_at_or_before(instant, expected):
    assert last_slot_at_or_before(at(instant), 6) == at(expected)


def test_other_offsets_are_converted_to_utc():
    paris = timezone(timedelta(hours=1))
    # 07:30+01:00 is 06:30 UTC, past that day's slot.
    assert first_slot_at_or_after(datetime(2026, 1, 1, 7, 30, tzinfo=paris), 6) == at("2026-01-02 06:00")
    assert require_utc(datetime(2026, 1, 1, 7, 0, tzinfo=paris)) == at("2026-01-01 06:00")


def test_naive_clock_readings_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        require_utc(datetime(2026, 1, 1, 7, 0))


def test_slots_between_includes_both_ends():
    assert slots_between(at("2026-01-02 06:00"), at("2026-01-04 06:00")) == [
        at("2026-01-02 06:00"),
        at("2026-01-03 06:00"),
        at("2026-01-04 06:00"),
    ]
    assert slots_between(at("2026-01-05 06:00"), at("2026-01-04 06:00")) == []
    assert at("2026-01-02 06:00").tzinfo is UTC
