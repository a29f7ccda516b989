"""Anthropic Admin API: the organization's daily cost report, split across API keys.

The cost report says what each workspace was billed per model and token type, but never per API key; the
messages usage report says how many tokens each key used, but no cost. Each cost line is shared among the keys
in proportion to their tokens of that type, so a team's key carries its cost and every line still adds up
exactly to what Anthropic bills. See docs/sources/anthropic.md.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pyarrow as pa

from control_plane.billing.schema import MONEY, source_table
from control_plane.billing.sources.common import (
    count,
    day_start,
    day_start_text,
    day_windows,
    decimal_of,
    exact_money,
    next_cursor,
)
from control_plane.billing.sources.http import ApiClient
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError

PROVIDER = "Anthropic"
SOURCE = "Anthropic Admin API"
API_VERSION = "2023-06-01"
COST_REPORT = "/v1/organizations/cost_report"
USAGE_REPORT = "/v1/organizations/usage_report/messages"
API_KEYS = "/v1/organizations/api_keys"
MAX_BUCKETS = 31
"""The most daily buckets either report returns in one page."""
KEYS_PAGE = 1000

TOKEN_TYPES: dict[str, str] = {
    "uncached_input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cache_read",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write_5m",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
}
"""The cost report's `token_type` -> `x_TokenType`. The same names, read as paths (a dot is nesting), are the
usage report's token fields, which is how a cost line finds the tokens it is split by."""
WEB_SEARCH = "web_search"
WEB_SEARCH_REQUESTS = "server_tool_use.web_search_requests"
"""The usage report's count of the web searches the cost report bills as `cost_type` "web_search"."""
USAGE_FIELDS: dict[str, str] = {**TOKEN_TYPES, WEB_SEARCH_REQUESTS: WEB_SEARCH}
UNITS = {WEB_SEARCH: "Requests", **{kind: "Tokens" for kind in TOKEN_TYPES.values()}}

K = TypeVar("K")


def split_exactly(units: int, weights: Sequence[tuple[K, int]]) -> list[tuple[K, int]]:
    """``units`` shared in proportion to the weights (not negative, not all zero), adding up to exactly ``units``.

    1. Each share is the floor of units x weight / total (on the magnitude, so a credit splits like a charge).
    2. What the floors leave over (fewer units than there are shares) goes one unit each to the shares with
       the largest remainders; ties go to the earlier weight, so the result does not depend on chance.
    """
    total = sum(weight for _, weight in weights)
    if total <= 0 or any(weight < 0 for _, weight in weights):
        raise ValueError("weights must be non-negative and not all zero")
    sign, magnitude = (-1, -units) if units < 0 else (1, units)
    floors = [divmod(magnitude * weight, total) for _, weight in weights]
    left = magnitude - sum(share for share, _ in floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: -floors[i][1])
    extra = set(by_remainder[:left])
    return [(key, sign * (floors[i][0] + (1 if i in extra else 0))) for i, (key, _) in enumerate(weights)]


@dataclass(frozen=True)
class _Usage:
    """One key's quantity of one kind (x_TokenType) in a day, from the usage report."""

    api_key_id: str | None
    model: str | None
    service_tier: str | None
    context_window: str | None
    quantity: int


@dataclass(frozen=True)
class _CostLine:
    """One cost-report result, its amount in 10^-12 USD."""

    workspace_id: str | None
    kind: str | None
    """x_TokenType: the token type, or the cost type for other charges (web_search, code_execution)."""
    model: str | None
    service_tier: str | None
    context_window: str | None
    service_name: str | None
    currency: str
    units: int


@dataclass(frozen=True)
class _RowKey:
    day: date
    api_key_id: str | None
    workspace_id: str | None
    model: str | None
    kind: str | None
    service_name: str | None
    currency: str


class AnthropicReader:
    """Reads an organization's daily Anthropic API cost per API key (``SourceReader``)."""

    provider = PROVIDER

    def __init__(
        self,
        admin_api_key: str,
        base_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        page_limit: int = MAX_BUCKETS,
    ):
        if not 1 <= page_limit <= MAX_BUCKETS:
            raise ValueError(f"page_limit must be between 1 and {MAX_BUCKETS} daily buckets, not {page_limit}")
        self.page_limit = page_limit
        self._client = ApiClient(
            source=SOURCE,
            base_url=base_url,
            headers={"x-api-key": admin_api_key, "anthropic-version": API_VERSION},
            credential_attribute="admin_api_key",
            secret=admin_api_key,
            sleep=sleep,
        )

    def versions(self, start: date, end: date) -> dict[date, str] | None:
        """None: the API cannot say which days changed, so the connector re-reads a trailing window."""
        return None

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        """One table per ``page_limit`` days of [start, end): at most one page of daily buckets per report in
        memory at a time. The key names are read once, on the first chunk."""
        names: dict[str, str] | None = None
        for chunk_start, chunk_end in day_windows(start, end, self.page_limit):
            costs = self._cost_lines(chunk_start, chunk_end)
            usage = self._usage(chunk_start, chunk_end)
            if names is None:
                names = self._key_names()
            yield _table(_rows(costs, usage), names)

    def _cost_lines(self, start: date, end: date) -> dict[date, list[_CostLine]]:
        params = [*_window(start, end, self.page_limit), ("group_by[]", "workspace_id"), ("group_by[]", "description")]
        lines: dict[date, list[_CostLine]] = {}
        for day, results in self._buckets(COST_REPORT, params, start, end):
            lines[day] = [_cost_line(day, result) for result in results]
        return lines

    def _usage(self, start: date, end: date) -> dict[date, dict[tuple[str | None, str], list[_Usage]]]:
        """Per day, the usage of each (workspace, kind)."""
        groups = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
        params = [*_window(start, end, self.page_limit), *(("group_by[]", group) for group in groups)]
        usage: dict[date, dict[tuple[str | None, str], list[_Usage]]] = {}
        for day, results in self._buckets(USAGE_REPORT, params, start, end):
            of_day: dict[tuple[str | None, str], list[_Usage]] = defaultdict(list)
            for result in results:
                for path, kind in USAGE_FIELDS.items():
                    quantity = _count(day, result, path)
                    if quantity:
                        of_day[(_text(result, "workspace_id"), kind)].append(
                            _Usage(
                                _text(result, "api_key_id"),
                                _text(result, "model"),
                                _text(result, "service_tier"),
                                _text(result, "context_window"),
                                quantity,
                            )
                        )
            usage[day] = of_day
        return usage

    def _buckets(
        self, path: str, params: list[tuple[str, str]], start: date, end: date
    ) -> Iterator[tuple[date, list[dict[str, Any]]]]:
        """Each daily bucket of [start, end) once, following ``next_page`` while ``has_more``."""
        seen_days: set[date] = set()
        seen_pages: set[str] = set()
        page: str | None = None
        while True:
            body = self._client.get(path, params + ([("page", page)] if page else []))
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise _unknown_shape(path, "no `data` list")
            for bucket in data:
                day = _bucket_day(path, bucket)
                if not start <= day < end:
                    continue
                if day in seen_days:
                    raise TransientImportError(
                        f"{SOURCE} returned the day {day} twice while paging {path}; the import is retried "
                        "automatically."
                    )
                seen_days.add(day)
                results = bucket.get("results")
                if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                    raise _unknown_shape(path, f"the bucket of {day} has no `results` list")
                yield day, results
            if not body.get("has_more"):
                return
            page = next_cursor(SOURCE, path, "next_page", body.get("next_page"), seen_pages)

    def _key_names(self) -> dict[str, str]:
        """Every key's name by id (active, inactive or archived: an old key's cost still has an owner)."""
        names: dict[str, str] = {}
        after: str | None = None
        seen: set[str] = set()
        while True:
            params: list[tuple[str, str]] = [("limit", str(KEYS_PAGE))] + ([("after_id", after)] if after else [])
            body = self._client.get(API_KEYS, params)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise _unknown_shape(API_KEYS, "no `data` list")
            for key in data:
                if isinstance(key, dict) and isinstance(key.get("id"), str) and isinstance(key.get("name"), str):
                    names[key["id"]] = key["name"]
            if not body.get("has_more"):
                return names
            after = next_cursor(SOURCE, API_KEYS, "last_id", body.get("last_id"), seen)


def _rows(
    costs: dict[date, list[_CostLine]], usage: dict[date, dict[tuple[str | None, str], list[_Usage]]]
) -> dict[_RowKey, tuple[int, int | None]]:
    """The cost table's rows of a chunk: (10^-12 USD, quantity) per day, key, workspace, model and kind.

    1. A cost line's usage is the usage of its day, workspace and kind, of its model, service tier and context
       window where both reports name them (a web search line names no model: every model's searches count).
    2. No usage (code execution, or tokens no key reported): the whole line is one row without a key.
    3. Otherwise the line's amount is split exactly across the keys by quantity (``split_exactly``); usage
       without a key (the Console's Workbench) gets its share as a row without a key.
    4. Shares of the same row (a key's standard and batch tokens of a model) are added up.
    """
    rows: dict[_RowKey, tuple[int, int | None]] = {}

    def add(key: _RowKey, units: int, quantity: int | None) -> None:
        old_units, old_quantity = rows.get(key, (0, None))
        rows[key] = (old_units + units, old_quantity if quantity is None else (old_quantity or 0) + quantity)

    for day in sorted(costs):
        for line in costs[day]:
            candidates = usage.get(day, {}).get((line.workspace_id, line.kind or ""), [])
            by_key: dict[str | None, int] = defaultdict(int)
            for use in candidates:
                if (
                    _same(line.model, use.model)
                    and _same(line.service_tier, use.service_tier)
                    and _same(line.context_window, use.context_window)
                ):
                    by_key[use.api_key_id] += use.quantity
            if not by_key:
                add(_row_key(day, line, None), line.units, None)
                continue
            weights = sorted(by_key.items(), key=lambda item: (item[0] is None, item[0] or ""))
            for (key_id, units), (_, quantity) in zip(split_exactly(line.units, weights), weights, strict=True):
                add(_row_key(day, line, key_id), units, quantity)
    return rows


def _same(line_value: str | None, usage_value: str | None) -> bool:
    return line_value is None or usage_value is None or line_value == usage_value


def _row_key(day: date, line: _CostLine, api_key_id: str | None) -> _RowKey:
    return _RowKey(day, api_key_id, line.workspace_id, line.model, line.kind, line.service_name, line.currency)


def _table(rows: dict[_RowKey, tuple[int, int | None]], names: dict[str, str]) -> pa.Table:
    """The rows as SOURCE_SCHEMA columns (one pass over the chunk's rows building column lists)."""
    columns: dict[str, list[Any]] = defaultdict(list)
    for key, (units, quantity) in rows.items():
        start = day_start(key.day)
        cost = Decimal(units).scaleb(-MONEY.scale)
        columns["ChargePeriodStart"].append(start)
        columns["ChargePeriodEnd"].append(start + timedelta(days=1))
        columns["BillingPeriodStart"].append(start.replace(day=1))
        columns["BilledCost"].append(cost)
        columns["EffectiveCost"].append(cost)
        columns["BillingCurrency"].append(key.currency)
        columns["ServiceName"].append(key.service_name)
        columns["SubAccountId"].append(key.api_key_id)
        columns["ResourceId"].append(key.api_key_id)
        columns["ResourceName"].append(None if key.api_key_id is None else names.get(key.api_key_id, key.api_key_id))
        columns["ConsumedQuantity"].append(quantity)
        columns["ConsumedUnit"].append(UNITS.get(key.kind or ""))
        columns["Tags"].append(None if key.workspace_id is None else [("workspace_id", key.workspace_id)])
        columns["x_Model"].append(key.model)
        columns["x_TokenType"].append(key.kind)
    count = len(rows)
    columns["Provider"] = [PROVIDER] * count
    columns["ChargeCategory"] = ["Usage"] * count
    typed: dict[str, pa.Array | list[Any]] = dict(columns)
    typed["Tags"] = pa.array(columns["Tags"], pa.map_(pa.string(), pa.string()))
    typed["ConsumedQuantity"] = pa.array(columns["ConsumedQuantity"], pa.float64())
    for money in ("BilledCost", "EffectiveCost"):
        typed[money] = pa.array(columns[money], MONEY)
    return source_table(typed, count)


def _window(start: date, end: date, limit: int) -> list[tuple[str, str]]:
    return [
        ("starting_at", day_start_text(start)),
        ("ending_at", day_start_text(end)),
        ("bucket_width", "1d"),
        ("limit", str(limit)),
    ]


def _cost_line(day: date, result: dict[str, Any]) -> _CostLine:
    amount = result.get("amount")
    units = _pico_usd(amount)
    if units is None:
        raise Quarantine(
            f"{SOURCE}: a cost line of {day} has the amount {str(amount)[:40]!r}, not a decimal number of cents a "
            "bill can hold. Report it to Anthropic support if it persists."
        )
    token_type = _text(result, "token_type")
    cost_type = _text(result, "cost_type")
    if token_type is not None:
        kind: str | None = TOKEN_TYPES.get(token_type, token_type)
    else:
        kind = cost_type.lower() if cost_type else None
    model = _text(result, "model")
    return _CostLine(
        workspace_id=_text(result, "workspace_id"),
        kind=kind,
        model=model,
        service_tier=_text(result, "service_tier"),
        context_window=_text(result, "context_window"),
        service_name=model or _text(result, "description") or cost_type,
        currency=_text(result, "currency") or "USD",
        units=units,
    )


def _pico_usd(cents: Any) -> int | None:
    """A decimal string of cents as 10^-12 USD (half to even below that), None when it is not an amount a bill
    can hold."""
    amount = decimal_of(cents) if isinstance(cents, str) else None
    dollars = None if amount is None else exact_money(amount, scale=2)
    return None if dollars is None else int(dollars.scaleb(MONEY.scale))


def _count(day: date, result: dict[str, Any], path: str) -> int:
    """A usage field by its dotted path; absent is zero."""
    value: Any = result
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return count(value, f"{SOURCE}: `{path}` in the usage of {day}")


def _text(result: dict[str, Any], name: str) -> str | None:
    value = result.get(name)
    return value if isinstance(value, str) and value else None


def _bucket_day(path: str, bucket: Any) -> date:
    starting_at = bucket.get("starting_at") if isinstance(bucket, dict) else None
    try:
        moment = datetime.fromisoformat(starting_at) if isinstance(starting_at, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _unknown_shape(path, f"a bucket starts at {str(starting_at)[:40]!r}, not an RFC 3339 time")
    return moment.astimezone(UTC).date()


def _unknown_shape(path: str, what: str) -> TerminalImportError:
    return TerminalImportError(
        f"{SOURCE} answered {path} in a shape this version does not read ({what}); upgrade the control plane, "
        "or report it if you run the latest version."
    )
