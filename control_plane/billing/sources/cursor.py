"""Cursor team spend as cost rows: the Admin API's chargeable usage events summed per (day, user, model, kind,
max mode, headless).

A user's email is the team handle (`SubAccountId` and `ResourceName`). Each group gives one cost row, the
dollars of its events (`x_TokenType` null, `ConsumedQuantity` = its events, unit "Requests"), and one row per
token type it used (input, output, cache_read, cache_write: the tokens, at zero cost). Cursor states one amount
per event, not per token type, so the cost is never split across token types. Events Cursor marks as not
chargeable (usage included in the plan) are left out. See docs/sources/cursor.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.billing.schema import TIMESTAMP, source_table
from control_plane.billing.sources.common import count, day_start, day_windows, money
from control_plane.billing.sources.http import ApiClient
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError

SOURCE = "Cursor Admin API"
CREDENTIAL = "admin_api_key"
EVENTS_PATH = "/teams/filtered-usage-events"
MAX_PAGES = 100_000

FLAGS = {"max_mode": "maxMode", "is_headless": "isHeadless"}
"""Tag key -> the event's boolean field; with the kind label they tell Chat from Agent, Max mode, headless runs."""
KEYS = ("day", "email", "model", "kind", *FLAGS)
TOKENS = {
    "inputTokens": "input",
    "outputTokens": "output",
    "cacheReadTokens": "cache_read",
    "cacheWriteTokens": "cache_write",
}
"""`tokenUsage` field -> `x_TokenType`."""
SUMMED = ("cost", "events", *TOKENS)
EVENT_COST = pa.decimal128(38, 12)


class CursorReader:
    """Reads [start, end) from the Cursor Admin API (a team admin key, HTTP Basic) in batches of ``batch_days``
    days: the events of a batch are paged through once and summed page by page, so memory holds one page and
    the batch's groups, never the batch's events."""

    provider = "Cursor"

    def __init__(
        self,
        api_key: str,
        base_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        batch_days: int = 7,
        page_size: int = 500,
    ):
        if not api_key or not api_key.strip():
            raise TerminalImportError(f"`{CREDENTIAL}` is empty: set it to a Cursor Admin API key (key_…).")
        self.batch_days = max(1, min(batch_days, 30))
        self.page_size = page_size
        self.client = ApiClient(
            source=SOURCE,
            base_url=base_url,
            headers={},
            auth=(api_key, ""),
            credential_attribute=CREDENTIAL,
            secret=api_key,
            sleep=sleep,
        )

    def versions(self, start: date, end: date) -> dict[date, str] | None:
        """The API cannot say which days changed: the connector re-reads a trailing window."""
        return None

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        for window_start, window_end in day_windows(start, end, self.batch_days):
            groups = self._groups(window_start, window_end)
            if groups is not None and groups.num_rows:
                yield _rows(groups)

    def _groups(self, start: date, end: date) -> pa.Table | None:
        """The events of [start, end) summed per group: each page is summed, then added to the running sums."""
        lo, hi = int(day_start(start).timestamp() * 1000), int(day_start(end).timestamp() * 1000)
        groups: pa.Table | None = None
        previous: set[str] = set()
        page = 1
        while True:
            body = self.client.post(
                EVENTS_PATH, {"startDate": lo, "endDate": hi, "page": page, "pageSize": self.page_size}
            )
            events = body.get("usageEvents") if isinstance(body, dict) else None
            pagination = body.get("pagination") if isinstance(body, dict) else None
            if not isinstance(events, list) or not isinstance(pagination, dict):
                raise TransientImportError(
                    f"{SOURCE} answered {EVENTS_PATH} without `usageEvents` and `pagination`; the import is "
                    "retried automatically."
                )
            page_events, previous = _events(events, lo, hi, previous)
            summed = _sum(page_events)
            groups = summed if groups is None else _sum(pa.concat_tables([groups, summed]))
            if not pagination.get("hasNextPage"):
                return groups
            pages = pagination.get("numPages")
            if page >= MAX_PAGES or (isinstance(pages, int) and page >= pages):
                raise TransientImportError(
                    f"{SOURCE} said page {page} of {EVENTS_PATH} has a next page past its last; the import is "
                    "retried automatically."
                )
            page += 1


def _events(events: list[Any], lo: int, hi: int, previous: set[str]) -> tuple[pa.Table, set[str]]:
    """One page of events as columns (one pass over the page building column lists), those in [lo, hi) ms,
    and the page's event fingerprints.

    Cursor lists events newest first: one that arrives while the reader pages pushes the older ones down, so
    the last events of a page come again at the top of the next. An event already on the previous page
    (the same time to the millisecond, user, model, tokens and amount) is not counted twice."""
    seen: set[str] = set()
    columns: dict[str, list[Any]] = {
        name: [] for name in ("timestamp", "email", "model", "kind", *FLAGS, "cost", *TOKENS)
    }
    for event in events:
        if not isinstance(event, dict) or event.get("isChargeable") is not True:
            continue
        fingerprint = json.dumps(event, sort_keys=True, default=str)
        if fingerprint in previous:
            continue
        seen.add(fingerprint)
        stamp = event.get("timestamp")
        try:
            millis = int(stamp) if isinstance(stamp, str | int) and not isinstance(stamp, bool) else None
        except ValueError:
            millis = None
        if millis is None:
            raise Quarantine(f"{SOURCE}: a usage event has the timestamp {str(stamp)[:40]!r}, not epoch milliseconds.")
        token_usage = event.get("tokenUsage")
        usage: dict[str, Any] = token_usage if isinstance(token_usage, dict) else {}
        cents = usage.get("totalCents")
        columns["timestamp"].append(millis)
        columns["email"].append(_text(event.get("userEmail")))
        columns["model"].append(_text(event.get("model")))
        columns["kind"].append(_text(event.get("kindLabel")) or _text(event.get("kind")))
        for tag, name in FLAGS.items():
            flag = event.get(name)
            columns[tag].append(flag if isinstance(flag, bool) else None)
        columns["cost"].append(
            Decimal(0) if cents is None else money(cents, "the totalCents of a Cursor usage event", scale=2)
        )
        for name in TOKENS:
            columns[name].append(count(usage.get(name), f"{SOURCE}: `{name}` of a usage event"))
    timestamps = pa.array(columns.pop("timestamp"), pa.int64())
    table = pa.table(
        {
            "day": pc.floor_temporal(timestamps.cast(pa.timestamp("ms", tz="UTC")), unit="day").cast(TIMESTAMP),
            "email": pa.array(columns["email"], pa.string()),
            "model": pa.array(columns["model"], pa.string()),
            "kind": pa.array(columns["kind"], pa.string()),
            **{tag: pa.array(columns[tag], pa.bool_()) for tag in FLAGS},
            "cost": pa.array(columns["cost"], EVENT_COST),
            "events": pa.array(np.ones(len(timestamps), dtype=np.int64)),
            **{name: pa.array(columns[name], pa.int64()) for name in TOKENS},
        }
    )
    inside = pc.and_(pc.greater_equal(timestamps, lo), pc.less(timestamps, hi))
    return table.filter(inside), seen


def _sum(table: pa.Table) -> pa.Table:
    """Rows with the same group keys added up (the sums keep their column names)."""
    summed = table.group_by(list(KEYS), use_threads=False).aggregate([(name, "sum") for name in SUMMED])
    return pa.table(
        {
            **{key: summed.column(key) for key in KEYS},
            **{name: summed.column(f"{name}_sum").cast(table.schema.field(name).type) for name in SUMMED},
        }
    )


def _rows(groups: pa.Table) -> pa.Table:
    """The cost table's rows of a batch's groups: each group's cost row, and a row per token type it used."""
    parts = [_part(groups, groups.column("cost"), groups.column("events"), "Requests", None)]
    for name, token_type in TOKENS.items():
        used = groups.filter(pc.greater(groups.column(name), 0))
        zero = pa.array(np.zeros(used.num_rows, dtype=np.int64)).cast(EVENT_COST)
        parts.append(_part(used, zero, used.column(name), "Tokens", token_type))
    return pa.concat_tables(part for part in parts if part.num_rows)


def _part(
    groups: pa.Table,
    cost: pa.Array | pa.ChunkedArray,
    quantity: pa.Array | pa.ChunkedArray,
    unit: str,
    token_type: str | None,
) -> pa.Table:
    rows = groups.num_rows
    day = groups.column("day")
    email = groups.column("email")
    model = groups.column("model")
    return source_table(
        {
            "ChargePeriodStart": day,
            "ChargePeriodEnd": pc.add(day, pa.scalar(np.timedelta64(1, "D").astype("timedelta64[us]"))),
            "BillingPeriodStart": pc.floor_temporal(day, unit="month"),
            "BilledCost": cost,
            "EffectiveCost": cost,
            "BillingCurrency": ["USD"] * rows,
            "Provider": ["Cursor"] * rows,
            "ServiceName": model,
            "ChargeCategory": ["Usage"] * rows,
            "SubAccountId": email,
            "ResourceName": email,
            "ConsumedQuantity": quantity,
            "ConsumedUnit": [unit] * rows,
            "Tags": _tags(groups),
            "x_Model": model,
            "x_TokenType": pa.array([token_type] * rows, pa.string()),
        },
        rows,
    )


def _tags(groups: pa.Table) -> pa.Array:
    """{"kind": the kind label, "max_mode": "true"/"false", "is_headless": "true"/"false"} per group."""
    names = ["kind", *FLAGS]
    rows = groups.num_rows
    values = np.empty(len(names) * rows, dtype=object)
    for i, name in enumerate(names):
        values[i :: len(names)] = groups.column(name).cast(pa.string()).to_numpy(zero_copy_only=False)
    return pa.MapArray.from_arrays(
        pa.array(np.arange(0, len(names) * rows + 1, len(names), dtype=np.int32)),
        pa.array(np.tile(np.array(names, dtype=object), rows), pa.string()),
        pa.array(values, pa.string()),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
