"""OpenAI organization costs as cost rows: one row per (day, project, line item), the dollars from the Costs
API and, for line items that name a model and a token type, the tokens from the Completions Usage API.

A project is the team handle (one project and key per team): its id is `SubAccountId`, its name
`SubAccountName`. Amounts arrive as JSON numbers; ``ApiClient`` reads them from their text as decimals, never
through a float.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from control_plane.billing.schema import MONEY, source_table
from control_plane.billing.sources.common import day_start, day_windows, money, next_cursor
from control_plane.billing.sources.http import ApiClient
from control_plane.imports.errors import TerminalImportError, TransientImportError

SOURCE = "OpenAI Admin API"
CREDENTIAL = "admin_api_key"
COSTS_PATH = "/v1/organization/costs"
USAGE_PATH = "/v1/organization/usage/completions"
PROJECTS_PATH = "/v1/organization/projects"
MAX_USAGE_BUCKETS = 31
"""The Usage API returns at most 31 daily buckets a page (the Costs API 180): a batch never spans more days."""
PROJECTS_PAGE = 100

TOKEN_LINE_ITEM = re.compile(r"^(?P<model>[^,|]+), (?P<kind>input|output|cached input)$")
"""Line items such as "gpt-4o-2024-08-06, input" / ", output" / ", cached input"; others ("web search tool
call", "evals | gpt-4o, input", "gpt-image-1, image input") name no (model, token type) we can match."""
TOKEN_TYPES = {"input": "input", "output": "output", "cached input": "cache_read"}


@dataclass(frozen=True)
class _Tokens:
    input: int
    output: int
    cached: int

    def of(self, token_type: str) -> int:
        """The tokens a line item bills: "input" is the uncached input (the Usage API counts cached tokens
        inside `input_tokens`), "cached input" the cached ones."""
        if token_type == "input":
            return self.input - self.cached
        return self.output if token_type == "output" else self.cached

    def __add__(self, other: _Tokens) -> _Tokens:
        return _Tokens(self.input + other.input, self.output + other.output, self.cached + other.cached)


class OpenAIReader:
    """Reads [start, end) from the OpenAI Admin API (an admin key, `sk-admin-…`) in batches of ``batch_days``
    days: per batch one walk through the Usage API pages, one through the Costs API pages."""

    provider = "OpenAI"

    def __init__(
        self,
        admin_api_key: str,
        base_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        batch_days: int = 7,
    ):
        if not admin_api_key or not admin_api_key.strip():
            raise TerminalImportError(f"`{CREDENTIAL}` is empty: set it to an OpenAI admin key (sk-admin-…).")
        self.batch_days = max(1, min(batch_days, MAX_USAGE_BUCKETS))
        self.client = ApiClient(
            source=SOURCE,
            base_url=base_url,
            headers={"Authorization": f"Bearer {admin_api_key}"},
            credential_attribute=CREDENTIAL,
            secret=admin_api_key,
            sleep=sleep,
        )

    def versions(self, start: date, end: date) -> dict[date, str] | None:
        """The API cannot say which days changed: the connector re-reads a trailing window."""
        return None

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        if start >= end:
            return
        names = self._project_names()
        for window_start, window_end in day_windows(start, end, self.batch_days):
            tokens = self._tokens(window_start, window_end)
            table = self._costs(window_start, window_end, names, tokens)
            if table.num_rows:
                yield table

    def _project_names(self) -> dict[str, str | None]:
        """Every project's name by id, archived ones included (their past costs still need a name)."""
        names: dict[str, str | None] = {}
        after: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": PROJECTS_PAGE, "include_archived": "true"}
            if after:
                params["after"] = after
            body = self.client.get(PROJECTS_PATH, params)
            for project in _objects(body, "data", PROJECTS_PATH):
                if isinstance(project.get("id"), str):
                    names[project["id"]] = project.get("name")
            if not body.get("has_more"):
                return names
            after = next_cursor(SOURCE, PROJECTS_PATH, "last_id", body.get("last_id"), seen)

    def _buckets(self, path: str, start: date, end: date, group_by: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """The daily buckets of [start, end), following `next_page` while `has_more`."""
        params: list[tuple[str, Any]] = [
            ("start_time", int(day_start(start).timestamp())),
            ("end_time", int(day_start(end).timestamp())),
            ("bucket_width", "1d"),
            *(("group_by[]", field) for field in group_by),
            ("limit", (end - start).days),
        ]
        page: str | None = None
        seen: set[str] = set()
        while True:
            body = self.client.get(path, [*params, ("page", page)] if page else params)
            yield from _objects(body, "data", path)
            if not body.get("has_more"):
                return
            page = next_cursor(SOURCE, path, "next_page", body.get("next_page"), seen)

    def _tokens(self, start: date, end: date) -> dict[tuple[int, str | None, str], _Tokens]:
        """Completion tokens by (bucket start, project, model); results of the same key (the API may split them
        further, e.g. by batch) are added up."""
        tokens: dict[tuple[int, str | None, str], _Tokens] = {}
        for bucket in self._buckets(USAGE_PATH, start, end, ("project_id", "model")):
            for result in _objects(bucket, "results", USAGE_PATH):
                model = result.get("model")
                if not isinstance(model, str):
                    continue
                key = (_seconds(bucket, "start_time"), result.get("project_id"), model)
                counted = _Tokens(
                    input=_count(result.get("input_tokens")),
                    output=_count(result.get("output_tokens")),
                    cached=_count(result.get("input_cached_tokens")),
                )
                tokens[key] = tokens[key] + counted if key in tokens else counted
        return tokens

    def _costs(
        self,
        start: date,
        end: date,
        names: dict[str, str | None],
        tokens: dict[tuple[int, str | None, str], _Tokens],
    ) -> pa.Table:
        lo, hi = int(day_start(start).timestamp()), int(day_start(end).timestamp())
        columns: dict[str, list[Any]] = {
            name: []
            for name in (
                "ChargePeriodStart",
                "ChargePeriodEnd",
                "BillingPeriodStart",
                "BilledCost",
                "BillingCurrency",
                "ServiceName",
                "SubAccountId",
                "SubAccountName",
                "ConsumedQuantity",
                "ConsumedUnit",
                "x_Model",
                "x_TokenType",
            )
        }
        for bucket in self._buckets(COSTS_PATH, start, end, ("project_id", "line_item")):
            bucket_start = _seconds(bucket, "start_time")
            if not lo <= bucket_start < hi:
                continue
            period_start = datetime.fromtimestamp(bucket_start, UTC)
            period_end = datetime.fromtimestamp(_seconds(bucket, "end_time"), UTC)
            billing_period = period_start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            for result in _objects(bucket, "results", COSTS_PATH):
                amount = result.get("amount") or {}
                line_item, project = result.get("line_item"), result.get("project_id")
                matched = TOKEN_LINE_ITEM.match(line_item) if isinstance(line_item, str) else None
                model = matched["model"].strip() if matched else None
                token_type = matched["kind"] if matched else None
                usage = tokens.get((bucket_start, project, model)) if model else None
                columns["ChargePeriodStart"].append(period_start)
                columns["ChargePeriodEnd"].append(period_end)
                columns["BillingPeriodStart"].append(billing_period)
                columns["BilledCost"].append(money(amount.get("value"), f"an OpenAI cost of {line_item!r}"))
                columns["BillingCurrency"].append(str(amount.get("currency") or "usd").upper())
                columns["ServiceName"].append(line_item)
                columns["SubAccountId"].append(project)
                columns["SubAccountName"].append(names.get(project) if project else None)
                columns["ConsumedQuantity"].append(usage.of(token_type) if usage and token_type else None)
                columns["ConsumedUnit"].append("Tokens" if token_type else None)
                columns["x_Model"].append(model)
                columns["x_TokenType"].append(TOKEN_TYPES[token_type] if token_type else None)
        rows = len(columns["BilledCost"])
        cost = pa.array(columns.pop("BilledCost"), MONEY)
        return source_table(
            {
                **columns,
                "BilledCost": cost,
                "EffectiveCost": cost,
                "Provider": ["OpenAI"] * rows,
                "ChargeCategory": ["Usage"] * rows,
                "ConsumedQuantity": pa.array(columns["ConsumedQuantity"], pa.float64()),
            },
            rows,
        )


def _objects(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    """The objects of the list ``body[key]``; a body without that list is an unexpected answer."""
    values = body.get(key) if isinstance(body, dict) else None
    if not isinstance(values, list):
        raise TransientImportError(
            f"{SOURCE} answered {path} without a `{key}` list; the import is retried automatically."
        )
    return [value for value in values if isinstance(value, dict)]


def _seconds(bucket: dict[str, Any], key: str) -> int:
    value = bucket.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TransientImportError(
            f"{SOURCE} answered a bucket without an integer `{key}`; the import is retried automatically."
        )
    return value


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
