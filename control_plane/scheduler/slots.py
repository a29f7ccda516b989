"""Daily slots: the instants (one a day, at a fixed UTC hour) at which a datasource's import is due.

Pure arithmetic on UTC-aware datetimes; no database, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DAY = timedelta(days=1)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC. Naive values are taken to be UTC already: SQLite hands back what it was given
    (UTC) without an offset."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def require_utc(now: datetime) -> datetime:
    """``now`` in UTC; a naive clock reading is refused, since its zone can only be guessed."""
    if now.tzinfo is None:
        raise ValueError(f"the scheduler's clock must return timezone-aware datetimes, got naive {now!r}")
    return now.astimezone(UTC)


def first_slot_at_or_after(instant: datetime, hour_utc: int) -> datetime:
    """The first slot (``hour_utc``:00 UTC) at or after ``instant``."""
    instant = as_utc(instant)
    slot = instant.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return slot if slot >= instant else slot + DAY


def last_slot_at_or_before(instant: datetime, hour_utc: int) -> datetime:
    """The latest slot (``hour_utc``:00 UTC) at or before ``instant``."""
    instant = as_utc(instant)
    slot = instant.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    return slot if slot <= instant else slot - DAY


def slots_between(first: datetime, last: datetime) -> list[datetime]:
    """Every slot from ``first`` to ``last``, both included (empty when ``first`` is after ``last``);
    both must be slots of the same hour."""
    count = (last - first) // DAY + 1
    return [first + i * DAY for i in range(max(count, 0))]
