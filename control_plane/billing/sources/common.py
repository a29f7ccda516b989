"""What the billing readers share, each once: exact money (an amount from an API answer, or a cost column from an
export file), counts, UTC days, and the check of a paged API's cursor.

Money is exact end to end: an amount is read from its text (or a decimal), held on the cost table's 12 decimal
places (half to even past them), and refused when no bill can hold it (not finite, or 10^16 or more)."""

from __future__ import annotations

import decimal
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from control_plane.billing.schema import MONEY
from control_plane.imports.errors import Quarantine, TransientImportError

T = TypeVar("T")

MONEY_PLACES = Decimal(1).scaleb(-MONEY.scale)
"""The cost table's last decimal place, 10^-12."""
MONEY_LIMIT = Decimal(10) ** (MONEY.precision - MONEY.scale)
"""Amounts stay below 10^16 in absolute value: what MONEY holds before the point, and more than any bill."""
EXACT_DOUBLE_BELOW = 1024.0
"""Below this a double is within half a 10^-12 of the 12-place decimal it was written from, so a rounding cast
recovers it; larger doubles go through their shortest round-trip text (slower, and rare on a bill)."""
WIDE_MONEY = pa.decimal128(38, 38 - (MONEY.precision - MONEY.scale))
"""Amounts below 10^16 with up to 22 decimals: text is parsed at this width, then rounded to MONEY's 12 places."""
_ROUNDING = decimal.Context(prec=MONEY.precision + 1, rounding=ROUND_HALF_EVEN)
"""Room for an amount just below the limit rounded up to it, which is then refused."""


def exact_money(amount: Decimal, *, scale: int = 0) -> Decimal | None:
    """``amount`` / 10^``scale`` (2: cents to dollars) on 12 decimal places, rounded half to even past them;
    None when no bill can hold it. Never rounds before the last place (the division is a shift of the point)."""
    if not amount.is_finite() or abs(amount) >= MONEY_LIMIT.scaleb(scale):
        return None
    rounded = amount.quantize(MONEY_PLACES.scaleb(scale), context=_ROUNDING).scaleb(-scale, context=_ROUNDING)
    return rounded if abs(rounded) < MONEY_LIMIT else None


def decimal_of(value: object) -> Decimal | None:
    """A number from an API answer as a Decimal: a Decimal (a JSON number ``ApiClient`` read from its text), an
    int, or decimal text; None for anything else (booleans included)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return Decimal(value)
    except decimal.InvalidOperation:
        return None


def money(value: object, what: str, *, scale: int = 0) -> Decimal:
    """An amount from an API answer (see ``decimal_of``) as ``exact_money``; anything else is data no bill can
    hold, quarantined with ``what`` naming the amount."""
    amount = decimal_of(value)
    exact = None if amount is None else exact_money(amount, scale=scale)
    if exact is None:
        raise Quarantine(f"{what} is {str(value)[:40]!r}, not an amount a bill can hold.")
    return exact


def count(value: object, what: str) -> int:
    """A count from an API answer (tokens, requests): absent is 0; anything but a whole number of zero or more is
    data no bill can hold, quarantined with ``what`` naming the count."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Quarantine(f"{what} is {str(value)[:40]!r}, not a count.")
    return value


class NotAnAmount(ValueError):
    """A cost column holds something no bill can; the message names the column and how many rows."""


def money_column(values: pa.Array | pa.ChunkedArray, column: str) -> pa.Array:
    """A cost column as MONEY, exactly: text is parsed as a decimal (at most 38 decimals, rounded to 12); a
    decimal is rounded to 12 places; an integer is taken as it is; a double becomes the 12-place decimal it was
    written from (see EXACT_DOUBLE_BELOW). Nulls stay null. Raises NotAnAmount for NaN, infinite amounts,
    amounts of 10^16 or more and text that is not a number, naming ``column``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    try:
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            text = blank_to_null(pc.utf8_trim_whitespace(values).cast(pa.string()))
            try:
                wide = text.cast(WIDE_MONEY)
            except pa.ArrowInvalid:  # more decimals than WIDE_MONEY holds (or 10^16 and more: refused below)
                wide = text.cast(pa.decimal256(76, 38))
            return pc.round(wide, 12, round_mode="half_to_even").cast(MONEY)
        if pa.types.is_decimal(values.type):
            return pc.round(values, 12).cast(MONEY) if values.type.scale > 12 else values.cast(MONEY)
        if pa.types.is_integer(values.type):
            return values.cast(pa.decimal128(38, 12)).cast(MONEY)
        if pa.types.is_floating(values.type):
            return _money_from_double(values.cast(pa.float64()), column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise NotAnAmount(f"a value in `{column}` that is not an amount below 10^16 with at most 38 decimals") from None
    raise NotAnAmount(f"`{column}` is {values.type}, not an amount")


def _money_from_double(numbers: pa.Array, column: str) -> pa.Array:
    magnitude = pc.abs(numbers)
    problems = [
        (pc.is_nan(numbers), "NaN"),
        (pc.is_inf(numbers), "an infinite amount"),
        (pc.and_(pc.is_finite(numbers), pc.greater_equal(magnitude, float(MONEY_LIMIT))), None),
    ]
    for mask, what in problems:
        found = pc.fill_null(mask, False)
        count = pc.sum(pc.cast(found, pa.int64())).as_py() or 0
        if count:
            first = pc.filter(numbers, found)[0].as_py()
            what = what or f"an amount of {MONEY_LIMIT:.0e} or more (e.g. {first:.6g})"
            raise NotAnAmount(f"{count} row(s) with {what} in `{column}`; a cost is a finite amount of money")
    exact = numbers.cast(MONEY)  # rounds to 12 places: exact below EXACT_DOUBLE_BELOW
    large = pc.fill_null(pc.greater_equal(magnitude, EXACT_DOUBLE_BELOW), False)
    if pc.any(large).as_py():
        shortest = pc.filter(numbers, large).cast(pa.string())  # the shortest text that reads back as the double
        exact = pc.replace_with_mask(exact, large, pc.round(shortest.cast(pa.decimal128(38, 20)), 12).cast(MONEY))
    return exact


def blank_to_null(values: pa.Array) -> pa.Array:
    """Text with empty strings as nulls (exports write a missing value either way)."""
    blank = pc.equal(values, "")
    if not pc.any(blank).as_py():
        return values
    return pc.if_else(blank, pa.scalar(None, values.type), values)


def day_start(day: date) -> datetime:
    """The first instant of ``day`` in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_start_text(day: date) -> str:
    """The first instant of ``day`` as RFC 3339 text in UTC, as the billing APIs take it: `2026-11-01T00:00:00Z`."""
    return f"{day.isoformat()}T00:00:00Z"


def each_day(start: date, end: date) -> Iterator[date]:
    """Each day of [start, end)."""
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def day_windows(start: date, end: date, size: int) -> Iterator[tuple[date, date]]:
    """[start, end) cut into windows of at most ``size`` days."""
    while start < end:
        stop = min(start + timedelta(days=size), end)
        yield start, stop
        start = stop


def next_cursor(source: str, what: str, name: str, cursor: object, seen: set[str]) -> str:
    """The cursor ``name`` of the next page of ``what``, added to ``seen``; none, or one already followed, would
    page forever: a transient failure (the API said more follows)."""
    if not isinstance(cursor, str) or not cursor or cursor in seen:
        raise TransientImportError(
            f"{source} said more of {what} follows but gave no new `{name}`; the import is retried automatically."
        )
    seen.add(cursor)
    return cursor


NORMALIZE_THREADS = max(1, min(4, os.cpu_count() or 1))
"""Threads normalising a source's batches: Arrow kernels release the GIL, so batches overlap on the cores."""


def normalized_in_order(
    normalize: Callable[[T], pa.Table], batches: Iterable[T], threads: int = NORMALIZE_THREADS
) -> Iterator[pa.Table]:
    """``normalize`` over ``batches`` on ``threads`` threads, results in the batches' order, with at most
    ``threads`` batches in flight (memory stays bounded by the batch size); empty tables are dropped. A failure
    of one batch is raised in order, as if run one after the other."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="normalize") as pool:
        pending: deque[Future[pa.Table]] = deque()
        for batch in batches:
            pending.append(pool.submit(normalize, batch))
            if len(pending) >= threads:
                table = pending.popleft().result()
                if table.num_rows:
                    yield table
        while pending:
            table = pending.popleft().result()
            if table.num_rows:
                yield table
