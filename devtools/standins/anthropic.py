"""A loopback stand-in for the Anthropic Admin API's cost report, messages usage report and API key list.

It speaks the wire format of the real endpoints (daily buckets, one per day including empty ones; amounts as
decimal strings of cents; `has_more`/`next_page` paging; `after_id` paging of keys) from a small in-memory
dataset, so the production reader is what talks to it. Build the dataset from per-key usage and prices with
``Dataset.from_usage``: the cost report is then what Anthropic would bill for that usage.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from devtools.standins.server import LoopbackApi, Reply, Request

API_VERSION = "2023-06-01"
ADMIN_KEY = "sk-ant-admin01-standin"
MAX_BUCKETS = 31
DEFAULT_BUCKETS = 7

TOKEN_TYPES = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_read_input_tokens": "Cache Read Input Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "5m Cache Write Input Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "1h Cache Write Input Tokens",
}
"""The cost report's `token_type` values (the usage report's token fields, a dot being nesting), and how the
cost line's description names them."""
WEB_SEARCH_REQUESTS = "web_search_requests"
"""A usage record's `token_type` for web searches (`server_tool_use.web_search_requests` on the wire)."""

USAGE_GROUPS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
COST_GROUPS = ("workspace_id", "description")

PRICES: dict[tuple[str, str], Decimal] = {
    **{
        ("claude-sonnet-4-20250514", token_type): Decimal(price)
        for token_type, price in zip(TOKEN_TYPES, ("3", "15", "0.30", "3.75", "6"), strict=True)
    },
    **{
        ("claude-3-5-haiku-20241022", token_type): Decimal(price)
        for token_type, price in zip(TOKEN_TYPES, ("0.80", "4", "0.08", "1", "1.6"), strict=True)
    },
    ("claude-sonnet-4-20250514", WEB_SEARCH_REQUESTS): Decimal("10000"),
    ("claude-3-5-haiku-20241022", WEB_SEARCH_REQUESTS): Decimal("10000"),
}
"""Illustrative list prices in USD per million tokens (web search: per million requests, $10 per 1,000)."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    workspace_id: str | None = None
    """None: the default workspace."""
    status: str = "active"


@dataclass(frozen=True)
class Usage:
    """What one key used of one token type (or web search requests) on one day."""

    day: date
    api_key_id: str | None
    """None: usage from the Console's Workbench, which no key made."""
    workspace_id: str | None
    model: str
    token_type: str
    """A key of ``TOKEN_TYPES``, or ``WEB_SEARCH_REQUESTS``."""
    quantity: int
    service_tier: str = "standard"
    context_window: str = "0-200k"


@dataclass(frozen=True)
class CostLine:
    """One line of the cost report (grouped by workspace and description), its amount in cents."""

    day: date
    workspace_id: str | None
    amount: Decimal
    cost_type: str = "tokens"
    model: str | None = None
    token_type: str | None = None
    service_tier: str | None = None
    context_window: str | None = None
    description: str | None = None


@dataclass
class Dataset:
    keys: list[ApiKey] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    costs: list[CostLine] = field(default_factory=list)

    @classmethod
    def from_usage(
        cls,
        rows: Iterable[tuple[date, str | None, str | None, str | None, str, str, int]],
        prices: Mapping[tuple[str, str], Decimal] = PRICES,
        *,
        extra_costs: Iterable[CostLine] = (),
    ) -> Dataset:
        """A dataset from (day, key id, key name, workspace, model, token type, quantity) rows and prices per
        million (``PRICES``' shape): the cost report bills each (day, workspace, model, token type) its
        tokens x price, and each (day, workspace) its web searches in one line without a model, as Anthropic
        does. ``extra_costs`` adds lines no usage explains (code execution, say)."""
        keys: dict[str, ApiKey] = {}
        usage: list[Usage] = []
        for day, key_id, key_name, workspace_id, model, token_type, quantity in rows:
            if token_type not in TOKEN_TYPES and token_type != WEB_SEARCH_REQUESTS:
                raise ValueError(f"unknown token type {token_type!r}: use one of {[*TOKEN_TYPES, WEB_SEARCH_REQUESTS]}")
            if key_id is not None:
                keys.setdefault(key_id, ApiKey(key_id, key_name or key_id, workspace_id))
            usage.append(Usage(day, key_id, workspace_id, model, token_type, quantity))
        billed: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
        for use in usage:
            cents = Decimal(use.quantity) * prices[(use.model, use.token_type)] / Decimal(10_000)
            if use.token_type == WEB_SEARCH_REQUESTS:
                billed[(use.day, use.workspace_id, "web_search", None, None, None, None, "Web Search Usage")] += cents
            else:
                description = f"{use.model} Usage - {TOKEN_TYPES[use.token_type]}"
                line = ("tokens", use.model, use.token_type, use.service_tier, use.context_window, description)
                billed[(use.day, use.workspace_id, *line)] += cents
        costs = [CostLine(day, workspace, amount, *line) for (day, workspace, *line), amount in billed.items()]
        return cls(list(keys.values()), usage, costs + list(extra_costs))


class AnthropicStandIn(LoopbackApi):
    """The three endpoints on 127.0.0.1, accepting ``admin_key`` with `anthropic-version: 2023-06-01`.
    ``page_buckets`` caps the buckets of a page below `limit` (the real API may return fewer)."""

    def __init__(self, dataset: Dataset, *, admin_key: str = ADMIN_KEY, page_buckets: int | None = None):
        self.dataset = dataset
        self.admin_key = admin_key
        self.page_buckets = page_buckets
        super().__init__(
            {
                ("GET", "/v1/organizations/cost_report"): self._cost_report,
                ("GET", "/v1/organizations/usage_report/messages"): self._usage_report,
                ("GET", "/v1/organizations/api_keys"): self._api_keys,
            },
            self._authenticate,
        )

    def _authenticate(self, request: Request) -> bool:
        return (
            request.headers.get("x-api-key") == self.admin_key
            and request.headers.get("anthropic-version") == API_VERSION
        )

    def _cost_report(self, request: Request) -> Reply:
        groups = request.query.get("group_by[]", [])
        if bad := [group for group in groups if group not in COST_GROUPS]:
            return _invalid(f"group_by[]: {bad[0]!r} is not one of {', '.join(COST_GROUPS)}")
        by_description = "description" in groups
        by_workspace = "workspace_id" in groups

        def results(day: date) -> list[dict[str, Any]]:
            summed: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
            for line in self.dataset.costs:
                if line.day != day:
                    continue
                detail = (
                    (
                        line.cost_type,
                        line.model,
                        line.token_type,
                        line.service_tier,
                        line.context_window,
                        line.description,
                    )
                    if by_description
                    else (None,) * 6
                )
                summed[(line.workspace_id if by_workspace else None, *detail)] += line.amount
            names = ("cost_type", "model", "token_type", "service_tier", "context_window", "description")
            return [
                {
                    "amount": format(amount, "f"),
                    "currency": "USD",
                    "workspace_id": workspace_id,
                    **dict(zip(names, detail, strict=True)),
                    "inference_geo": None,
                }
                for (workspace_id, *detail), amount in summed.items()
            ]

        return self._buckets(request, results)

    def _usage_report(self, request: Request) -> Reply:
        groups = request.query.get("group_by[]", [])
        if bad := [group for group in groups if group not in USAGE_GROUPS]:
            return _invalid(f"group_by[]: {bad[0]!r} is not one of {', '.join(USAGE_GROUPS)}")

        def results(day: date) -> list[dict[str, Any]]:
            summed: dict[tuple[str | None, ...], dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for use in self.dataset.usage:
                if use.day == day:
                    dimensions = tuple(getattr(use, group) if group in groups else None for group in USAGE_GROUPS)
                    summed[dimensions][use.token_type] += use.quantity
            return [
                {
                    **dict(zip(USAGE_GROUPS, dimensions, strict=True)),
                    "inference_geo": None,
                    "uncached_input_tokens": counts["uncached_input_tokens"],
                    "cache_read_input_tokens": counts["cache_read_input_tokens"],
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": counts["cache_creation.ephemeral_5m_input_tokens"],
                        "ephemeral_1h_input_tokens": counts["cache_creation.ephemeral_1h_input_tokens"],
                    },
                    "output_tokens": counts["output_tokens"],
                    "server_tool_use": {"web_search_requests": counts[WEB_SEARCH_REQUESTS]},
                }
                for dimensions, counts in summed.items()
            ]

        return self._buckets(request, results)

    def _buckets(self, request: Request, results: Any) -> Reply:
        """A page of daily buckets: from `page` (or `starting_at`, snapped to its day) up to the last day that
        ends by `ending_at`, `limit` at a time."""
        if request.one("bucket_width", "1d") != "1d":
            return _invalid("bucket_width: this stand-in serves daily buckets (1d) only")
        try:
            limit = int(request.one("limit", str(DEFAULT_BUCKETS)) or "")
        except ValueError:
            return _invalid("limit: not a number")
        if not 1 <= limit <= MAX_BUCKETS:
            return _invalid(f"limit: must be between 1 and {MAX_BUCKETS} for 1d buckets")
        starting_at = _moment(request.one("starting_at"))
        if starting_at is None:
            return _invalid("starting_at: an RFC 3339 time is required")
        first = starting_at.date()
        ending_at = _moment(request.one("ending_at"))
        if request.one("ending_at") is not None and ending_at is None:
            return _invalid("ending_at: not an RFC 3339 time")
        # Buckets end at midnight: those ending by `ending_at` are the days before its date.
        end = first + timedelta(days=limit) if ending_at is None else ending_at.date()
        if end <= first:
            return _invalid("ending_at: must be at least one day after starting_at")
        page = request.one("page")
        day = first
        if page:
            cursor = _decode_page(page)
            if cursor is None or not first <= cursor < end:
                return _invalid("page: not a page of this report")
            day = cursor
        count = min(limit, self.page_buckets or limit, (end - day).days)
        data = [
            {
                "starting_at": _rfc3339(day + timedelta(days=i)),
                "ending_at": _rfc3339(day + timedelta(days=i + 1)),
                "results": results(day + timedelta(days=i)),
            }
            for i in range(count)
        ]
        following = day + timedelta(days=count)
        more = following < end
        return Reply(200, {"data": data, "has_more": more, "next_page": _encode_page(following) if more else None})

    def _api_keys(self, request: Request) -> Reply:
        try:
            limit = int(request.one("limit", "20") or "")
        except ValueError:
            return _invalid("limit: not a number")
        if not 1 <= limit <= 1000:
            return _invalid("limit: must be between 1 and 1000")
        keys = [
            key
            for key in self.dataset.keys
            if request.one("status") in (None, key.status) and request.one("workspace_id") in (None, key.workspace_id)
        ]
        after = request.one("after_id")
        start = 0
        if after is not None:
            ids = [key.id for key in keys]
            if after not in ids:
                return _invalid(f"after_id: no API key {after!r}")
            start = ids.index(after) + 1
        page = keys[start : start + limit]
        return Reply(
            200,
            {
                "data": [_api_key(key) for key in page],
                "has_more": start + limit < len(keys),
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
            },
        )


def _api_key(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "type": "api_key",
        "name": key.name,
        "workspace_id": key.workspace_id,
        "status": key.status,
        "created_at": "2026-01-05T09:30:00Z",
        "created_by": {"id": "user_standin", "type": "user"},
        "partial_key_hint": f"sk-ant-api03-{key.id[-3:]}...AAAA",
    }


def _invalid(message: str) -> Reply:
    return Reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _rfc3339(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _encode_page(day: date) -> str:
    return "page_" + base64.urlsafe_b64encode(_rfc3339(day).encode()).decode()


def _decode_page(page: str) -> date | None:
    if not page.startswith("page_"):
        return None
    try:
        moment = _moment(base64.urlsafe_b64decode(page[len("page_") :].encode()).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return moment.date() if moment is not None else None
