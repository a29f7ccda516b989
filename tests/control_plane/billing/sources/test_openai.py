"""OpenAIReader against the OpenAI stand-in on loopback: exact rows, tokens matched to line items, paging,
retries, a revoked key, and no secret anywhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.openai import OpenAIReader
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError
from devtools.standins.openai import CostLine, OpenAIDataset, OpenAIStandIn, Project, openai_dataset
from devtools.standins.server import Reply

KEY = "sk-admin-SECRET-7f3a9c41d2"
NOV1, NOV2, NOV3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
G4O = "gpt-4o-2024-08-06"
PRICES = {
    G4O: {"input": Decimal("2.50"), "cache_read": Decimal("1.25"), "output": Decimal("10.00")},
    "gpt-4o-mini": {"input": Decimal("0.15"), "output": Decimal("0.60")},
}


def dataset() -> OpenAIDataset:
    """Two days, three projects (one archived):

    day   project  line item                        tokens     $ (per M)        amount
    11-01 proj_a   gpt-4o-2024-08-06, input         1,000,000  2.50             2.5
    11-01 proj_a   gpt-4o-2024-08-06, cached input    400,000  1.25             0.5
    11-01 proj_a   gpt-4o-2024-08-06, output          200,000  10.00            2.0
    11-01 proj_b   gpt-4o-mini, input               2,000,000  0.15             0.3
    11-01 proj_b   gpt-4o-mini, output                500,000  0.60             0.3
    11-02 proj_a   gpt-4o-2024-08-06, output           50,000  10.00            0.5
    11-02 proj_a   web search tool call             -          -                0.25
    11-02 proj_b   o3, output                       (no usage reported)         1.5
    11-02 proj_c   fine-tuning training             -          -                98765.43210987654
    """
    data = openai_dataset(
        [
            (NOV1, "proj_a", "Team A", G4O, "input", 1_000_000),
            (NOV1, "proj_a", "Team A", G4O, "cache_read", 400_000),
            (NOV1, "proj_a", "Team A", G4O, "output", 200_000),
            (NOV1, "proj_b", "Team B", "gpt-4o-mini", "input", 2_000_000),
            (NOV1, "proj_b", "Team B", "gpt-4o-mini", "output", 500_000),
            (NOV2, "proj_a", "Team A", G4O, "output", 50_000),
        ],
        PRICES,
    )
    data.projects.append(Project("proj_c", "Team C (archived)", archived=True))
    data.costs += [
        CostLine(NOV2, "proj_a", "web search tool call", Decimal("0.25")),
        CostLine(NOV2, "proj_b", "o3, output", Decimal("1.5")),
        CostLine(NOV2, "proj_c", "fine-tuning training", Decimal("98765.43210987654")),
    ]
    return data


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def row(
    day: date,
    project: str,
    name: str,
    line_item: str,
    cost: str,
    quantity: float | None = None,
    model: str | None = None,
    token_type: str | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(SOURCE_SCHEMA.names)
    values.update(
        ChargePeriodStart=at(day),
        ChargePeriodEnd=at(date.fromordinal(day.toordinal() + 1)),
        BillingPeriodStart=at(day.replace(day=1)),
        BilledCost=Decimal(cost),
        EffectiveCost=Decimal(cost),
        BillingCurrency="USD",
        Provider="OpenAI",
        ServiceName=line_item,
        ChargeCategory="Usage",
        SubAccountId=project,
        SubAccountName=name,
        ConsumedQuantity=quantity,
        ConsumedUnit="Tokens" if token_type else None,
        x_Model=model,
        x_TokenType=token_type,
    )
    return values


EXPECTED = sorted(
    [
        row(NOV1, "proj_a", "Team A", f"{G4O}, input", "2.500000000000", 1_000_000, G4O, "input"),
        row(NOV1, "proj_a", "Team A", f"{G4O}, cached input", "0.500000000000", 400_000, G4O, "cache_read"),
        row(NOV1, "proj_a", "Team A", f"{G4O}, output", "2.000000000000", 200_000, G4O, "output"),
        row(NOV1, "proj_b", "Team B", "gpt-4o-mini, input", "0.300000000000", 2_000_000, "gpt-4o-mini", "input"),
        row(NOV1, "proj_b", "Team B", "gpt-4o-mini, output", "0.300000000000", 500_000, "gpt-4o-mini", "output"),
        row(NOV2, "proj_a", "Team A", f"{G4O}, output", "0.500000000000", 50_000, G4O, "output"),
        row(NOV2, "proj_a", "Team A", "web search tool call", "0.250000000000"),
        row(NOV2, "proj_b", "Team B", "o3, output", "1.500000000000", None, "o3", "output"),
        # Read from the JSON text: through a float it would be 98765.432109876536.
        row(NOV2, "proj_c", "Team C (archived)", "fine-tuning training", "98765.432109876540"),
    ],
    key=lambda r: (r["ChargePeriodStart"], r["SubAccountId"], r["ServiceName"]),
)


@pytest.fixture
def api() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn(dataset(), admin_api_key=KEY)
    with server:
        yield server


def read_rows(reader: OpenAIReader, start: date = NOV1, end: date = NOV3) -> list[dict[str, Any]]:
    tables = list(reader.read(start, end))
    assert all(table.schema == SOURCE_SCHEMA for table in tables)
    rows = [r for table in tables for r in table.to_pylist()]
    return sorted(rows, key=lambda r: (r["ChargePeriodStart"], r["SubAccountId"], r["ServiceName"]))


class TestRead:
    def test_rows_are_the_line_items_with_their_tokens(self, api: OpenAIStandIn) -> None:
        reader = OpenAIReader(KEY, api.url, sleep=lambda s: None)
        assert reader.provider == "OpenAI"
        assert reader.versions(NOV1, NOV3) is None
        assert read_rows(reader) == EXPECTED

    def test_only_days_of_the_window(self, api: OpenAIStandIn) -> None:
        rows = read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None), NOV2, NOV3)
        assert rows == [r for r in EXPECTED if r["ChargePeriodStart"] == at(NOV2)]
        assert read_rows(OpenAIReader(KEY, api.url), NOV3, NOV1) == []

    def test_each_page_is_read_once(self) -> None:
        with OpenAIStandIn(dataset(), admin_api_key=KEY, page_cap=1) as api:
            assert read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None)) == EXPECTED
            seen = [(r.path, r.one("page") or r.one("after")) for r in api.requests]
        assert seen == [
            ("/v1/organization/projects", None),
            ("/v1/organization/projects", "proj_a"),
            ("/v1/organization/projects", "proj_b"),
            ("/v1/organization/usage/completions", None),
            ("/v1/organization/usage/completions", "page_1"),
            ("/v1/organization/costs", None),
            ("/v1/organization/costs", "page_1"),
        ]

    def test_requests_ask_for_daily_buckets_grouped_by_project(self, api: OpenAIStandIn) -> None:
        read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None, batch_days=1), NOV1, NOV3)
        costs = [r for r in api.requests if r.path == "/v1/organization/costs"]
        assert [(r.one("start_time"), r.one("end_time"), r.one("limit")) for r in costs[:2]] == [
            ("1793491200", "1793577600", "1"),
            ("1793577600", "1793664000", "1"),
        ]
        assert costs[0].query["group_by[]"] == ["project_id", "line_item"]
        assert costs[0].one("bucket_width") == "1d"
        usage = next(r for r in api.requests if r.path == "/v1/organization/usage/completions")
        assert usage.query["group_by[]"] == ["project_id", "model"]
        assert api.requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert api.requests[0].one("include_archived") == "true"


class TestFailures:
    def test_429_waits_retry_after_then_succeeds(self, api: OpenAIStandIn) -> None:
        slept: list[float] = []
        api.fail_next(Reply(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "3"}))
        assert read_rows(OpenAIReader(KEY, api.url, sleep=slept.append)) == EXPECTED
        assert slept == [3.0]

    def test_5xx_is_retried(self, api: OpenAIStandIn) -> None:
        slept: list[float] = []
        api.fail_next(Reply(503, {"error": {"message": "overloaded"}}), Reply(500))
        assert read_rows(OpenAIReader(KEY, api.url, sleep=slept.append)) == EXPECTED
        assert slept == [0.5, 1.0]

    def test_5xx_every_time_is_transient(self, api: OpenAIStandIn) -> None:
        api.fail_next(*[Reply(502)] * 5)
        with pytest.raises(TransientImportError, match="HTTP 502 5 times"):
            read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None))

    def test_revoked_key_names_the_attribute(self, api: OpenAIStandIn) -> None:
        api.revoke()
        with pytest.raises(TerminalImportError, match="`admin_api_key`"):
            read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None))

    def test_empty_key_is_refused_before_any_request(self, api: OpenAIStandIn) -> None:
        with pytest.raises(TerminalImportError, match="`admin_api_key` is empty"):
            OpenAIReader(" ", api.url)
        assert api.requests == []

    def test_an_amount_no_bill_can_hold_is_quarantined(self) -> None:
        data = dataset()
        data.costs.append(CostLine(NOV1, "proj_a", "gpt-4o-2024-08-06, output", Decimal("NaN")))
        with OpenAIStandIn(data, admin_api_key=KEY) as api, pytest.raises(Quarantine, match="is 'nan', not an amount"):
            read_rows(OpenAIReader(KEY, api.url, sleep=lambda s: None))


def test_no_secret_in_logs_errors_or_rows(api: OpenAIStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    reader = OpenAIReader(KEY, api.url, sleep=lambda s: None)
    api.fail_next(Reply(429, {"error": {"message": f"slow down {KEY}"}}, {"Retry-After": "1"}))
    rows = read_rows(reader)
    api.fail_next(Reply(400, {"error": {"message": f"bad request for key {KEY}"}}))
    with pytest.raises(TerminalImportError) as rejected:
        read_rows(reader)
    messages.append(str(rejected.value))
    api.fail_next(*[Reply(503, {"error": {"message": KEY}})] * 5)
    with pytest.raises(TransientImportError) as unavailable:
        read_rows(reader)
    messages.append(str(unavailable.value))
    api.revoke()
    with pytest.raises(TerminalImportError) as revoked:
        read_rows(reader)
    messages.append(str(revoked.value))
    assert "[redacted]" in messages[0]
    assert KEY not in caplog.text
    assert all(KEY not in message for message in messages)
    assert KEY not in repr(rows)
