"""A loopback stand-in for the Cursor Admin API's `POST /teams/filtered-usage-events`: HTTP Basic auth with
the API key as the user name, pages numbered from 1 (`pagination.hasNextPage`, `numPages`), events newest
first, timestamps as strings of epoch milliseconds and `totalCents` as JSON floats, as Cursor sends them."""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from devtools.standins.server import LoopbackApi, Reply, Request

STANDIN_API_KEY = "key_standin"
TOKEN_FIELDS = {
    "input": "inputTokens",
    "output": "outputTokens",
    "cache_write": "cacheWriteTokens",
    "cache_read": "cacheReadTokens",
}


def usage_event(
    when: datetime,
    email: str,
    model: str,
    *,
    tokens: Mapping[str, int] | None = None,
    total_cents: float | None = None,
    chargeable: bool = True,
    kind: str = "Usage-based",
    max_mode: bool = False,
    headless: bool = False,
) -> dict[str, Any]:
    """One event in the API's wire format; ``tokens`` by token type (input, output, cache_write, cache_read)."""
    usage = {field: (tokens or {}).get(token_type, 0) for token_type, field in TOKEN_FIELDS.items()}
    event: dict[str, Any] = {
        "timestamp": str(int(when.timestamp() * 1000)),
        "model": model,
        "kindLabel": kind,
        "maxMode": max_mode,
        "requestsCosts": 1.0,
        "isTokenBasedCall": tokens is not None,
        "isFreeBugbot": False,
        "isHeadless": headless,
        "userEmail": email,
        "isChargeable": chargeable,
    }
    if tokens is not None:
        event["tokenUsage"] = {**usage, "totalCents": total_cents if total_cents is not None else 0.0}
    return event


def cursor_events(
    rows: Iterable[tuple[date, str, str, str, int]],
    prices_per_million: Mapping[str, Mapping[str, Decimal]],
) -> list[dict[str, Any]]:
    """Events from usage rows ``(day, email, model, token_type, tokens)``: one chargeable event per (day, user,
    model) at noon UTC, its `totalCents` the tokens priced per million (in dollars)."""
    grouped: dict[tuple[date, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, email, model, token_type, count in rows:
        grouped[(day, email, model)][token_type] += count
    events = []
    for (day, email, model), tokens in grouped.items():
        dollars = sum(
            (
                Decimal(count) * prices_per_million[model][token_type] / 1_000_000
                for token_type, count in tokens.items()
            ),
            Decimal(0),
        )
        when = datetime.combine(day, time(12), tzinfo=UTC)
        events.append(usage_event(when, email, model, tokens=tokens, total_cents=float(dollars * 100)))
    return events


class CursorStandIn(LoopbackApi):
    """Serves ``events`` (wire-format dicts, see ``usage_event``) to the holder of ``api_key``."""

    def __init__(self, events: list[dict[str, Any]], api_key: str = STANDIN_API_KEY):
        self.events = events
        credential = "Basic " + base64.b64encode(f"{api_key}:".encode()).decode()
        super().__init__(
            {("POST", "/teams/filtered-usage-events"): self._events},
            lambda request: request.headers.get("authorization") == credential,
        )

    def _events(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        start, end = body.get("startDate"), body.get("endDate")
        page, size = body.get("page", 1), body.get("pageSize", 10)
        email = body.get("email")
        for name, value in (("startDate", start), ("endDate", end)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                return Reply(400, {"error": f"{name} must be epoch milliseconds"})
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (page, size)):
            return Reply(400, {"error": "page and pageSize must be positive integers"})
        chosen = sorted(
            (
                event
                for event in self.events
                if _inside(event, start, end) and (email is None or event["userEmail"] == email)
            ),
            key=lambda event: -(_millis(event) or 0),
        )
        pages = max(1, math.ceil(len(chosen) / size))
        return Reply(
            200,
            {
                "totalUsageEventsCount": len(chosen),
                "pagination": {
                    "numPages": pages,
                    "currentPage": page,
                    "pageSize": size,
                    "hasNextPage": page < pages,
                    "hasPreviousPage": page > 1,
                },
                "usageEvents": chosen[(page - 1) * size : page * size],
                "period": {"startDate": start, "endDate": end},
            },
        )


def _millis(event: dict[str, Any]) -> int | None:
    """The event's time, None when a test broke its timestamp on purpose."""
    try:
        return int(event["timestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _inside(event: dict[str, Any], start: int | None, end: int | None) -> bool:
    """Whether the event is in [startDate, endDate] (a broken timestamp: in every window)."""
    millis = _millis(event)
    return millis is None or ((start is None or millis >= start) and (end is None or millis <= end))
