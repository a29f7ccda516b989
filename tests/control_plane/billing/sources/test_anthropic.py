"""The Anthropic reader against the loopback stand-in of the Admin API: exact rows, exact per-key splits that
add up to the cost report, paging, retries, a revoked key, and no secret anywhere."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import requests

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.anthropic import COST_REPORT, USAGE_REPORT, AnthropicReader, split_exactly
from control_plane.imports.errors import ImportFailed, Quarantine, TerminalImportError, TransientImportError
from devtools.standins.anthropic import ADMIN_KEY, API_VERSION, AnthropicStandIn, ApiKey, CostLine, Dataset, Usage
from devtools.standins.server import Reply

SONNET = "claude-sonnet-4-20250514"
HAIKU = "claude-3-5-haiku-20241022"
INPUT = "uncached_input_tokens"
OUTPUT = "output_tokens"
CACHE_READ = "cache_read_input_tokens"
CACHE_WRITE_5M = "cache_creation.ephemeral_5m_input_tokens"
SEARCHES = "web_search_requests"
NOV1, NOV2 = date(2026, 11, 1), date(2026, 11, 2)
ALPHA, BETA = "apikey_01alpha", "apikey_01beta"


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def sleeps() -> list[float]:
    return []


def standin(dataset: Dataset, **options: Any) -> AnthropicStandIn:
    return AnthropicStandIn(dataset, **options)


def read_all(api: AnthropicStandIn, start: date, end: date, **options: Any) -> list[pa.Table]:
    reader = AnthropicReader(api.admin_key, api.url, **options)
    return list(reader.read(start, end))


def rows(tables: list[pa.Table]) -> list[dict[str, Any]]:
    """The tables' rows, sorted (day, model, token type, key; the row without a key last)."""
    for table in tables:
        assert table.schema == SOURCE_SCHEMA
    found = [row for table in tables for row in table.to_pylist()]
    return sorted(
        found,
        key=lambda r: (
            r["ChargePeriodStart"],
            r["x_Model"] or "",
            r["x_TokenType"] or "",
            r["SubAccountId"] is None,
            r["SubAccountId"] or "",
        ),
    )


def row(
    day: date,
    key: str | None,
    name: str | None,
    workspace: str | None,
    model: str | None,
    token_type: str,
    quantity: int | None,
    cost: str,
    *,
    unit: str | None = "Tokens",
    service: str | None = None,
) -> dict[str, Any]:
    """An expected cost-table row (the columns the reader fills; all others null)."""
    expected = dict.fromkeys(SOURCE_SCHEMA.names)
    start = day_start(day)
    expected.update(
        ChargePeriodStart=start,
        ChargePeriodEnd=day_start(date.fromordinal(day.toordinal() + 1)),
        BillingPeriodStart=start.replace(day=1),
        BilledCost=Decimal(cost),
        EffectiveCost=Decimal(cost),
        BillingCurrency="USD",
        Provider="Anthropic",
        ServiceName=service or model,
        ChargeCategory="Usage",
        SubAccountId=key,
        ResourceId=key,
        ResourceName=name,
        ConsumedQuantity=None if quantity is None else float(quantity),
        ConsumedUnit=unit,
        Tags=None if workspace is None else [("workspace_id", workspace)],
        x_Model=model,
        x_TokenType=token_type,
    )
    return expected


def exact(values: list[Decimal]) -> list[str]:
    """Decimals as written with their 12 places, so `0.1` and `0.100000000000` are told apart from `0.1000000001`."""
    return [f"{value:.12f}" for value in values]


# --- a small dataset: two keys sharing a workspace, two days, two models ---------------------------------------
#
#  day    key    model   type            tokens     price/M   cost
#  Nov 1  alpha  sonnet  input         1,000,000    $3.00     $3.000000
#  Nov 1  beta   sonnet  input           500,000    $3.00     $1.500000   line: $4.50 (450 cents), split 2:1
#  Nov 1  alpha  sonnet  output          200,000   $15.00     $3.000000
#  Nov 1  beta   sonnet  cache_read    1,000,000    $0.30     $0.300000
#  Nov 1  alpha  sonnet  cache_write_5m  100,000    $3.75     $0.375000
#  Nov 2  alpha  haiku   input           300,000    $0.80     $0.240000
#  Nov 2  beta   haiku   input           700,000    $0.80     $0.560000   line: $0.80, split 3:7
#  Nov 2  alpha  haiku   output          123,457    $4.00     $0.493828
#  Nov 2  beta   haiku   output                1    $4.00     $0.000004   line: $0.493832, split 123457:1
SMALL = [
    (NOV1, ALPHA, "team-search", "wrkspc_prod", SONNET, INPUT, 1_000_000),
    (NOV1, BETA, "team-ads", "wrkspc_prod", SONNET, INPUT, 500_000),
    (NOV1, ALPHA, "team-search", "wrkspc_prod", SONNET, OUTPUT, 200_000),
    (NOV1, BETA, "team-ads", "wrkspc_prod", SONNET, CACHE_READ, 1_000_000),
    (NOV1, ALPHA, "team-search", "wrkspc_prod", SONNET, CACHE_WRITE_5M, 100_000),
    (NOV2, ALPHA, "team-search", "wrkspc_prod", HAIKU, INPUT, 300_000),
    (NOV2, BETA, "team-ads", "wrkspc_prod", HAIKU, INPUT, 700_000),
    (NOV2, ALPHA, "team-search", "wrkspc_prod", HAIKU, OUTPUT, 123_457),
    (NOV2, BETA, "team-ads", "wrkspc_prod", HAIKU, OUTPUT, 1),
]


def test_small_dataset_gives_one_exact_row_per_day_key_model_and_token_type(sleeps):
    with standin(Dataset.from_usage(SMALL)) as api:
        tables = read_all(api, NOV1, date(2026, 11, 3), sleep=sleeps.append)

    ws = "wrkspc_prod"
    assert rows(tables) == [
        row(NOV1, BETA, "team-ads", ws, SONNET, "cache_read", 1_000_000, "0.300000000000"),
        row(NOV1, ALPHA, "team-search", ws, SONNET, "cache_write_5m", 100_000, "0.375000000000"),
        row(NOV1, ALPHA, "team-search", ws, SONNET, "input", 1_000_000, "3.000000000000"),
        row(NOV1, BETA, "team-ads", ws, SONNET, "input", 500_000, "1.500000000000"),
        row(NOV1, ALPHA, "team-search", ws, SONNET, "output", 200_000, "3.000000000000"),
        row(NOV2, ALPHA, "team-search", ws, HAIKU, "input", 300_000, "0.240000000000"),
        row(NOV2, BETA, "team-ads", ws, HAIKU, "input", 700_000, "0.560000000000"),
        row(NOV2, ALPHA, "team-search", ws, HAIKU, "output", 123_457, "0.493828000000"),
        row(NOV2, BETA, "team-ads", ws, HAIKU, "output", 1, "0.000004000000"),
    ]
    assert len(tables) == 1
    assert sleeps == []
    sent = [(r.path, r.headers["anthropic-version"]) for r in api.requests]
    assert sent == [
        (COST_REPORT, API_VERSION),
        (USAGE_REPORT, API_VERSION),
        ("/v1/organizations/api_keys", API_VERSION),
    ]
    cost, usage, _ = api.requests
    assert cost.query == {
        "starting_at": ["2026-11-01T00:00:00Z"],
        "ending_at": ["2026-11-03T00:00:00Z"],
        "bucket_width": ["1d"],
        "limit": ["31"],
        "group_by[]": ["workspace_id", "description"],
    }
    assert usage.query["group_by[]"] == ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]


# --- reconciliation: splits that do not divide evenly, and lines no key explains -----------------------------
#
#  Nov 1, workspace wrkspc_prod                                   amount (cents)   per key (USD, 12 places)
#  sonnet input: k1, k2, k3 1,000 tokens each                      10             k1 0.033333333334 (largest
#                                                                                  remainder, tie -> first key),
#                                                                                  k2 0.033333333333, k3 0.033333333333
#  sonnet output: k1 2 tokens, Workbench (no key) 1 token          1              k1 0.006666666667,
#                                                                                  no key 0.003333333333
#  web search (no model): no key searched in wrkspc_prod           2.5            no key 0.025000000000
#  code execution                                                  7.25           no key 0.072500000000
#  Nov 1, workspace wrkspc_lab
#  web search (no model): k2 3 searches (sonnet), k3 1 (haiku)     4              k2 0.030000000000,
#                                                                                  k3 0.010000000000
#  total: 10 + 1 + 2.5 + 7.25 + 4 = 24.75 cents = $0.2475
def uneven_dataset() -> Dataset:
    prod, lab = "wrkspc_prod", "wrkspc_lab"
    usage = [
        Usage(NOV1, "k1", prod, SONNET, INPUT, 1_000),
        Usage(NOV1, "k2", prod, SONNET, INPUT, 1_000),
        Usage(NOV1, "k3", prod, SONNET, INPUT, 1_000),
        Usage(NOV1, "k1", prod, SONNET, OUTPUT, 2),
        Usage(NOV1, None, prod, SONNET, OUTPUT, 1),
        Usage(NOV1, "k2", lab, SONNET, SEARCHES, 3),
        Usage(NOV1, "k3", lab, HAIKU, SEARCHES, 1),
    ]
    tokens = {"model": SONNET, "service_tier": "standard", "context_window": "0-200k"}
    costs = [
        CostLine(
            NOV1, prod, Decimal("10"), token_type=INPUT, description="Claude Sonnet 4 Usage - Input Tokens", **tokens
        ),
        CostLine(
            NOV1, prod, Decimal("1"), token_type=OUTPUT, description="Claude Sonnet 4 Usage - Output Tokens", **tokens
        ),
        CostLine(NOV1, prod, Decimal("2.5"), cost_type="web_search", description="Web Search Usage"),
        CostLine(NOV1, prod, Decimal("7.25"), cost_type="code_execution", description="Code Execution Usage"),
        CostLine(NOV1, lab, Decimal("4"), cost_type="web_search", description="Web Search Usage"),
    ]
    keys = [ApiKey("k1", "team-a", prod), ApiKey("k2", "team-b", prod), ApiKey("k3", "team-c", prod)]
    return Dataset(keys, usage, costs)


def test_per_key_costs_add_up_exactly_to_the_cost_report():
    with standin(uneven_dataset()) as api:
        found = rows(read_all(api, NOV1, NOV2))

    prod, lab = "wrkspc_prod", "wrkspc_lab"
    web, code = "Web Search Usage", "Code Execution Usage"
    assert found == [
        row(NOV1, None, None, prod, None, "code_execution", None, "0.0725", unit=None, service=code),
        row(NOV1, "k2", "team-b", lab, None, "web_search", 3, "0.03", unit="Requests", service=web),
        row(NOV1, "k3", "team-c", lab, None, "web_search", 1, "0.01", unit="Requests", service=web),
        row(NOV1, None, None, prod, None, "web_search", None, "0.025", unit="Requests", service=web),
        row(NOV1, "k1", "team-a", prod, SONNET, "input", 1_000, "0.033333333334"),
        row(NOV1, "k2", "team-b", prod, SONNET, "input", 1_000, "0.033333333333"),
        row(NOV1, "k3", "team-c", prod, SONNET, "input", 1_000, "0.033333333333"),
        row(NOV1, "k1", "team-a", prod, SONNET, "output", 2, "0.006666666667"),
        row(NOV1, None, None, prod, SONNET, "output", 1, "0.003333333333"),
    ]
    assert exact([r["BilledCost"] for r in found]) == [
        "0.072500000000",
        "0.030000000000",
        "0.010000000000",
        "0.025000000000",
        "0.033333333334",
        "0.033333333333",
        "0.033333333333",
        "0.006666666667",
        "0.003333333333",
    ]
    # $0.10 over three keys is $0.10 again, and the whole day is the cost report's 24.75 cents to the last place.
    input_rows = [r["BilledCost"] for r in found if r["x_TokenType"] == "input"]
    assert sum(input_rows) == Decimal("0.1")
    assert sum(r["BilledCost"] for r in found) == Decimal("0.2475")
    assert sum(r["EffectiveCost"] for r in found) == Decimal("0.2475")
    assert round(sum(r["BilledCost"] for r in found), 2) == Decimal("0.25")


def test_batch_and_standard_tokens_are_split_by_their_own_lines():
    """Batch tokens cost half: alpha's standard tokens carry the standard line, beta's batch tokens the batch
    line (one line for both would give each $2.25). Priority tokens are not in the cost report and change
    nothing."""
    usage = [
        Usage(NOV1, ALPHA, None, SONNET, INPUT, 1_000_000, service_tier="standard"),
        Usage(NOV1, BETA, None, SONNET, INPUT, 1_000_000, service_tier="batch"),
        Usage(NOV1, BETA, None, SONNET, INPUT, 5_000_000, service_tier="priority"),
    ]
    line = {"model": SONNET, "token_type": INPUT, "context_window": "0-200k"}
    costs = [
        CostLine(NOV1, None, Decimal("300"), service_tier="standard", **line),
        CostLine(NOV1, None, Decimal("150"), service_tier="batch", **line),
    ]
    with standin(Dataset([ApiKey(ALPHA, "team-search"), ApiKey(BETA, "team-ads")], usage, costs)) as api:
        found = rows(read_all(api, NOV1, NOV2))
    assert found == [
        row(NOV1, ALPHA, "team-search", None, SONNET, "input", 1_000_000, "3"),
        row(NOV1, BETA, "team-ads", None, SONNET, "input", 1_000_000, "1.5"),
    ]


def test_usage_without_tier_or_context_window_still_matches():
    """Where the usage report leaves a dimension out, every line of the model and type matches it."""
    with standin(Dataset.from_usage(SMALL)) as api:
        served = api.routes[("GET", USAGE_REPORT)]

        def without_tiers(request):
            reply = served(request)
            for bucket in reply.body["data"]:
                for result in bucket["results"]:
                    del result["service_tier"], result["context_window"]
            return reply

        api.routes[("GET", USAGE_REPORT)] = without_tiers
        stripped = rows(read_all(api, NOV1, date(2026, 11, 3)))
    with standin(Dataset.from_usage(SMALL)) as api:
        assert stripped == rows(read_all(api, NOV1, date(2026, 11, 3)))
    assert len(stripped) == 9


@pytest.mark.parametrize(
    ("units", "weights", "expected"),
    [
        (10**11, [("a", 1), ("b", 1), ("c", 1)], [("a", 33333333334), ("b", 33333333333), ("c", 33333333333)]),
        (10, [("a", 1), ("b", 1), ("c", 1), ("d", 1)], [("a", 3), ("b", 3), ("c", 2), ("d", 2)]),
        # 7 x 5/10 = 3.5, 7 x 3/10 = 2.1, 7 x 2/10 = 1.4: one unit left, to the largest remainder (a).
        (7, [("a", 5), ("b", 3), ("c", 2)], [("a", 4), ("b", 2), ("c", 1)]),
        # 7 x 2/10 = 1.4 (c) has a larger remainder than 7 x 3/10 = 2.1 (b).
        (8, [("a", 5), ("b", 3), ("c", 2)], [("a", 4), ("b", 2), ("c", 2)]),
        (-10, [("a", 1), ("b", 2)], [("a", -3), ("b", -7)]),
        (5, [("a", 0), ("b", 4)], [("a", 0), ("b", 5)]),
    ],
    ids=["a-tenth-of-a-dollar-over-three", "ties-go-first", "largest-remainder", "remainder-order", "credit", "zero"],
)
def test_split_exactly(units, weights, expected):
    assert split_exactly(units, weights) == expected
    assert sum(share for _, share in expected) == units


def test_split_refuses_no_weight():
    with pytest.raises(ValueError, match="not all zero"):
        split_exactly(1, [("a", 0)])


# --- paging -------------------------------------------------------------------------------------------------
def week_dataset() -> Dataset:
    """One key, Nov 1-7, 1,000 x the day's number of input tokens at $3/M, except Nov 5 (no usage)."""
    usage = [(date(2026, 11, d), ALPHA, "team-search", None, SONNET, INPUT, 1_000 * d) for d in range(1, 8) if d != 5]
    return Dataset.from_usage(usage)


def week_rows() -> list[dict[str, Any]]:
    return [
        row(date(2026, 11, d), ALPHA, "team-search", None, SONNET, "input", 1_000 * d, f"{Decimal('0.003') * d}")
        for d in range(1, 8)
        if d != 5
    ]


def test_more_days_than_a_page_are_each_read_exactly_once():
    with standin(week_dataset(), page_buckets=2) as api:
        tables = read_all(api, NOV1, date(2026, 11, 8), page_limit=3)

    assert rows(tables) == week_rows()
    assert [t.num_rows for t in tables] == [3, 2, 1]
    pages = [
        (r.one("starting_at")[8:10], r.one("ending_at")[8:10], r.one("limit"), r.one("page") is not None)
        for r in api.requests
        if r.path == COST_REPORT
    ]
    # Chunks of three days (Nov 1-3, 4-6, 7); the stand-in serves two buckets a page, so a chunk takes two.
    assert pages == [
        ("01", "04", "3", False),
        ("01", "04", "3", True),
        ("04", "07", "3", False),
        ("04", "07", "3", True),
        ("07", "08", "3", False),
    ]
    assert sum(r.path == USAGE_REPORT for r in api.requests) == 5
    assert sum(r.path == "/v1/organizations/api_keys" for r in api.requests) == 1


def test_api_keys_are_paged_by_after_id(monkeypatch):
    monkeypatch.setattr("control_plane.billing.sources.anthropic.KEYS_PAGE", 2)
    names = [f"team-{i}" for i in range(5)]
    usage = [(NOV1, f"apikey_{i}", names[i], None, HAIKU, OUTPUT, 250_000) for i in range(5)]
    with standin(Dataset.from_usage(usage)) as api:
        found = rows(read_all(api, NOV1, NOV2))

    assert [(r["SubAccountId"], r["ResourceName"], r["BilledCost"]) for r in found] == [
        (f"apikey_{i}", f"team-{i}", Decimal("1")) for i in range(5)
    ]
    after = [r.one("after_id") for r in api.requests if r.path == "/v1/organizations/api_keys"]
    assert after == [None, "apikey_1", "apikey_3"]


def test_a_key_no_longer_listed_is_named_by_its_id():
    dataset = Dataset.from_usage([(NOV1, "apikey_gone", "old", None, HAIKU, INPUT, 1_000_000)])
    dataset.keys.clear()
    with standin(dataset) as api:
        (found,) = rows(read_all(api, NOV1, NOV2))
    assert (found["SubAccountId"], found["ResourceName"], found["BilledCost"]) == (
        "apikey_gone",
        "apikey_gone",
        Decimal("0.8"),
    )


def test_an_empty_window_reads_nothing():
    with standin(week_dataset()) as api:
        assert read_all(api, NOV2, NOV2) == []
        assert api.requests == []
        (table,) = read_all(api, date(2026, 11, 5), date(2026, 11, 6))
    assert table.num_rows == 0
    assert table.schema == SOURCE_SCHEMA


def test_page_limit_out_of_range_is_refused():
    with pytest.raises(ValueError, match="page_limit must be between 1 and 31 daily buckets, not 32"):
        AnthropicReader(ADMIN_KEY, "http://127.0.0.1:9", page_limit=32)


# --- failures -------------------------------------------------------------------------------------------------
def test_rate_limit_waits_retry_after_and_server_errors_are_retried(sleeps):
    with standin(week_dataset()) as api:
        api.fail_next(
            Reply(429, {"error": {"type": "rate_limit_error", "message": "slow down"}}, {"Retry-After": "7"}),
            Reply(503, {"error": {"type": "overloaded_error", "message": "overloaded"}}),
        )
        tables = read_all(api, NOV1, date(2026, 11, 8), sleep=sleeps.append)

    assert rows(tables) == week_rows()
    assert sleeps == [7.0, 1.0]  # Retry-After, then the second attempt's backoff
    assert [r.path for r in api.requests][:3] == [COST_REPORT] * 3


def test_rate_limit_every_time_is_transient(sleeps):
    with standin(week_dataset()) as api:
        api.fail_next(*[Reply(429, {}, {"Retry-After": "2"})] * 5)
        with pytest.raises(TransientImportError, match="rate limited the import .* 5 times"):
            read_all(api, NOV1, NOV2, sleep=sleeps.append)
    assert sleeps == [2.0] * 4


def test_a_revoked_key_is_terminal_and_names_admin_api_key(sleeps):
    with standin(week_dataset()) as api:
        api.revoke()
        with pytest.raises(TerminalImportError) as refused:
            read_all(api, NOV1, NOV2, sleep=sleeps.append)
    message = refused.value.message
    assert "Anthropic Admin API refused the `admin_api_key` (HTTP 401: invalid x-api-key)" in message
    assert "create a new one and set `admin_api_key`" in message
    assert sleeps == []


def test_the_stand_in_requires_the_api_version_header():
    with standin(week_dataset()) as api:
        url = f"{api.url}{COST_REPORT}?starting_at=2026-11-01T00:00:00Z"
        assert requests.get(url, headers={"x-api-key": ADMIN_KEY}, timeout=10).status_code == 401
        answer = requests.get(url, headers={"x-api-key": ADMIN_KEY, "anthropic-version": API_VERSION}, timeout=10)
    assert answer.status_code == 200
    assert [bucket["starting_at"][:10] for bucket in answer.json()["data"]] == [f"2026-11-0{d}" for d in range(1, 8)]


def test_an_amount_that_is_not_a_number_is_quarantined():
    with standin(week_dataset()) as api:
        bucket = {
            "starting_at": "2026-11-01T00:00:00Z",
            "ending_at": "2026-11-02T00:00:00Z",
            "results": [{"amount": "12.3.4", "currency": "USD", "cost_type": "tokens"}],
        }
        api.routes[("GET", COST_REPORT)] = lambda request: Reply(200, {"data": [bucket], "has_more": False})
        with pytest.raises(Quarantine, match=r"a cost line of 2026-11-01 has the amount '12\.3\.4'"):
            read_all(api, NOV1, NOV2)


def test_a_page_that_never_ends_is_transient():
    with standin(week_dataset()) as api:
        page = {"data": [], "has_more": True, "next_page": "page_same"}
        api.routes[("GET", COST_REPORT)] = lambda request: Reply(200, page)
        with pytest.raises(TransientImportError, match="gave no new `next_page`"):
            read_all(api, NOV1, NOV2)


SECRET = "sk-ant-admin01-ZQX9-distinctive-secret-7f3c"


def test_the_admin_key_appears_in_no_log_error_or_row(caplog, sleeps):
    """Success with retries, a wrong key, a revoked key, a rejected request, an unreachable API: the secret is
    sent as the `x-api-key` header and nowhere else."""
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    found: list[dict[str, Any]] = []

    def attempt(api_url: str, key: str = SECRET, **options: Any) -> None:
        try:
            for table in AnthropicReader(key, api_url, sleep=sleeps.append, **options).read(NOV1, NOV2):
                found.extend(table.to_pylist())
        except ImportFailed as error:
            messages.extend([error.message, str(error), repr(error)])

    with standin(week_dataset(), admin_key=SECRET) as api:
        api.fail_next(Reply(429, {"error": {"message": f"key {SECRET} is throttled"}}, {"Retry-After": "1"}))
        attempt(api.url)
        attempt(api.url, key=SECRET + "-wrong")
        api.fail_next(Reply(400, {"type": "error", "error": {"message": f"bad request for {SECRET}"}}))
        attempt(api.url)
        api.revoke()
        attempt(api.url)
        assert all(r.headers["x-api-key"].startswith(SECRET) for r in api.requests)
    attempt(api.url)  # stopped: nothing listens there any more

    assert len(found) == 1
    assert len(messages) == 4 * 3
    assert (
        "rejected the request GET /v1/organizations/cost_report (HTTP 400: bad request for [redacted])" in messages[3]
    )
    assert SECRET not in caplog.text
    assert not [m for m in messages if SECRET in m or "distinctive-secret" in m]
    assert SECRET not in repr(found)
