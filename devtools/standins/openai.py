"""A loopback stand-in for the OpenAI Admin API's cost and usage endpoints: `GET /v1/organization/costs`,
`GET /v1/organization/usage/completions` and `GET /v1/organization/projects`, with bearer-key auth, daily
buckets paged by `limit` / `page` (`has_more`, `next_page`), projects paged by `after` (`last_id`), and
amounts sent as JSON numbers as OpenAI sends them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from devtools.standins.server import LoopbackApi, Reply, Request

DAY = 86_400
STANDIN_ADMIN_KEY = "sk-admin-standin"
LINE_ITEM_SUFFIX = {"input": "input", "output": "output", "cache_read": "cached input"}


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    archived: bool = False


@dataclass(frozen=True)
class CostLine:
    """One day's cost of one line item in one project (project None: the default project)."""

    day: date
    project_id: str | None
    line_item: str
    amount: Decimal


@dataclass(frozen=True)
class CompletionUsage:
    day: date
    project_id: str | None
    model: str
    input_tokens: int
    """Every input token, cached ones included (as the Usage API counts them)."""
    output_tokens: int
    input_cached_tokens: int
    num_model_requests: int = 1


@dataclass
class OpenAIDataset:
    projects: list[Project] = field(default_factory=list)
    costs: list[CostLine] = field(default_factory=list)
    usage: list[CompletionUsage] = field(default_factory=list)


def openai_dataset(
    rows: Iterable[tuple[date, str, str, str, str, int]],
    prices_per_million: Mapping[str, Mapping[str, Decimal]],
) -> OpenAIDataset:
    """A dataset from usage rows ``(day, project_id, project_name, model, token_type, tokens)`` (token types
    `input` for uncached input, `output`, `cache_read`) priced per million tokens: a line item
    "<model>, input|output|cached input" per row's key, and the completions usage that adds up to it."""
    projects: dict[str, Project] = {}
    amounts: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
    tokens: dict[tuple[date, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, project_id, project_name, model, token_type, count in rows:
        projects.setdefault(project_id, Project(project_id, project_name))
        line_item = f"{model}, {LINE_ITEM_SUFFIX[token_type]}"
        amounts[(day, project_id, line_item)] += Decimal(count) * prices_per_million[model][token_type] / 1_000_000
        tokens[(day, project_id, model)][token_type] += count
    return OpenAIDataset(
        projects=list(projects.values()),
        costs=[CostLine(day, project, item, amount) for (day, project, item), amount in amounts.items()],
        usage=[
            CompletionUsage(
                day,
                project,
                model,
                input_tokens=by_type["input"] + by_type["cache_read"],
                output_tokens=by_type["output"],
                input_cached_tokens=by_type["cache_read"],
            )
            for (day, project, model), by_type in tokens.items()
        ],
    )


def _error(message: str) -> Reply:
    return Reply(400, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}})


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.one(name)
    if value is None:
        return default
    return int(value)


class OpenAIStandIn(LoopbackApi):
    """Serves ``dataset`` to the bearer of ``admin_api_key``. ``page_cap`` serves at most that many buckets
    (or projects) a page whatever `limit` asks, so a test sees several pages of a short window."""

    def __init__(self, dataset: OpenAIDataset, admin_api_key: str = STANDIN_ADMIN_KEY, *, page_cap: int = 1000):
        self.dataset = dataset
        self.page_cap = page_cap
        super().__init__(
            {
                ("GET", "/v1/organization/costs"): self._costs,
                ("GET", "/v1/organization/usage/completions"): self._usage,
                ("GET", "/v1/organization/projects"): self._projects,
            },
            lambda request: request.headers.get("authorization") == f"Bearer {admin_api_key}",
        )

    def _costs(self, request: Request) -> Reply:
        def results(start: int, group_by: set[str]) -> list[dict[str, Any]]:
            totals: dict[tuple[str | None, str | None], Decimal] = defaultdict(Decimal)
            for line in self.dataset.costs:
                if _seconds(line.day) == start:
                    key = (
                        line.project_id if "project_id" in group_by else None,
                        line.line_item if "line_item" in group_by else None,
                    )
                    totals[key] += line.amount
            return [
                {
                    "object": "organization.costs.result",
                    "amount": {"value": float(amount), "currency": "usd"},
                    "line_item": line_item,
                    "project_id": project_id,
                }
                for (project_id, line_item), amount in totals.items()
            ]

        return _bucket_page(request, results, {"project_id", "line_item"}, max_limit=180, page_cap=self.page_cap)

    def _usage(self, request: Request) -> Reply:
        def results(start: int, group_by: set[str]) -> list[dict[str, Any]]:
            totals: dict[tuple[str | None, str | None], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
            for usage in self.dataset.usage:
                if _seconds(usage.day) == start:
                    key = (
                        usage.project_id if "project_id" in group_by else None,
                        usage.model if "model" in group_by else None,
                    )
                    sums = totals[key]
                    sums[0] += usage.input_tokens
                    sums[1] += usage.output_tokens
                    sums[2] += usage.input_cached_tokens
                    sums[3] += usage.num_model_requests
            return [
                {
                    "object": "organization.usage.completions.result",
                    "input_tokens": sums[0],
                    "output_tokens": sums[1],
                    "input_cached_tokens": sums[2],
                    "input_audio_tokens": 0,
                    "output_audio_tokens": 0,
                    "num_model_requests": sums[3],
                    "project_id": project_id,
                    "user_id": None,
                    "api_key_id": None,
                    "model": model,
                    "batch": None,
                }
                for (project_id, model), sums in totals.items()
            ]

        return _bucket_page(
            request,
            results,
            {"project_id", "user_id", "api_key_id", "model", "batch", "service_tier"},
            max_limit=31,
            page_cap=self.page_cap,
        )

    def _projects(self, request: Request) -> Reply:
        try:
            limit = _int(request, "limit", 20) or 20
        except ValueError:
            return _error("limit must be an integer")
        if not 1 <= limit <= 100:
            return _error("limit must be between 1 and 100")
        archived = request.one("include_archived", "false") == "true"
        projects = [p for p in self.dataset.projects if archived or not p.archived]
        after = request.one("after")
        if after is not None:
            ids = [p.id for p in projects]
            if after not in ids:
                return _error(f"no project {after}")
            projects = projects[ids.index(after) + 1 :]
        limit = min(limit, self.page_cap)
        page = projects[:limit]
        return Reply(
            200,
            {
                "object": "list",
                "data": [
                    {
                        "id": p.id,
                        "object": "organization.project",
                        "name": p.name,
                        "created_at": 1_711_471_533,
                        "archived_at": 1_711_471_533 if p.archived else None,
                        "status": "archived" if p.archived else "active",
                    }
                    for p in page
                ],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": len(projects) > limit,
            },
        )


def _seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _bucket_page(
    request: Request,
    results: Callable[[int, set[str]], list[dict[str, Any]]],
    groups: set[str],
    *,
    max_limit: int,
    page_cap: int,
) -> Reply:
    """One page of daily buckets from `start_time` to `end_time` (empty days included), `limit` buckets a
    page; `page` is the opaque cursor a previous page's `next_page` gave."""
    try:
        start = _int(request, "start_time")
        end = _int(request, "end_time")
        limit = _int(request, "limit", 7) or 7
        offset = int((request.one("page") or "page_0").removeprefix("page_"))
    except ValueError:
        return _error("start_time, end_time and limit must be integers, page a next_page value")
    if start is None:
        return _error("start_time is required")
    if request.one("bucket_width", "1d") != "1d":
        return _error("bucket_width must be 1d")
    if not 1 <= limit <= max_limit:
        return _error(f"limit must be between 1 and {max_limit}")
    group_by = set(request.query.get("group_by[]", []))
    if group_by - groups:
        return _error(f"cannot group by {', '.join(sorted(group_by - groups))}")
    end = end if end is not None else int(datetime.now(UTC).timestamp())
    limit = min(limit, page_cap)
    starts = list(range(start, end, DAY))
    page = starts[offset : offset + limit]
    has_more = offset + limit < len(starts)
    return Reply(
        200,
        {
            "object": "page",
            "data": [
                {
                    "object": "bucket",
                    "start_time": bucket,
                    "end_time": bucket + DAY,
                    "results": results(bucket, group_by),
                }
                for bucket in page
            ],
            "has_more": has_more,
            "next_page": f"page_{offset + limit}" if has_more else None,
        },
    )
