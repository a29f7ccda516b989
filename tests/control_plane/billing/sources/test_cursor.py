"""CursorReader against the Cursor stand-in on loopback: events summed into exact rows, the window's edges,
paging, retries, a revoked key, and no secret anywhere."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.cursor import CursorReader
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError
from devtools.standins.cursor import CursorStandIn, cursor_events, usage_event
from devtools.standins.server import Reply, Request

KEY = "key_SECRET_5be1f0c9a7d3"
NOV1, NOV2, NOV3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
ALICE, BOB = "alice@example.com", "bob@example.com"
SONNET = "claude-4-sonnet"


def at(day: date, hours: float = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hours)


def events() -> list[dict[str, Any]]:
    """Six events, four inside [11-01, 11-03):

    when               user   model   kind / max / headless  tokens (in, out, cache r/w)  cents              charged
    11-01 09:00        alice  sonnet  Usage-based / no / no  1000, 200, 5000, 0           12.5               yes
    11-01 15:30        alice  sonnet  Usage-based / no / no  3000, 800, 0, 2000           7.25               yes
    11-01 10:00        alice  sonnet  Included in Business   500, 100, 0, 0               2.0                no
    11-02 23:59:59.999 bob    gpt-5   Usage-based / yes/ yes 10, 20, 0, 0                 9876543.210987654  yes
    11-03 00:00       bob    gpt-5    (outside: the window's end)
    10-31 23:59:59.999 bob   gpt-5    (outside: before the window)

    alice's two charged events make one group: 12.5 + 7.25 = 19.75 cents = $0.1975 for 2 requests; her event
    included in the plan (not chargeable) is left out.
    """
    return [
        usage_event(
            at(NOV1, 9), ALICE, SONNET, tokens={"input": 1000, "output": 200, "cache_read": 5000}, total_cents=12.5
        ),
        usage_event(
            at(NOV1, 15.5), ALICE, SONNET, tokens={"input": 3000, "output": 800, "cache_write": 2000}, total_cents=7.25
        ),
        usage_event(
            at(NOV1, 10),
            ALICE,
            SONNET,
            tokens={"input": 500, "output": 100},
            total_cents=2.0,
            chargeable=False,
            kind="Included in Business",
        ),
        usage_event(
            at(NOV3) - timedelta(milliseconds=1),
            BOB,
            "gpt-5",
            tokens={"input": 10, "output": 20},
            total_cents=9876543.210987654,
            max_mode=True,
            headless=True,
        ),
        usage_event(at(NOV3), BOB, "gpt-5", tokens={"input": 1}, total_cents=1.0),
        usage_event(at(NOV1) - timedelta(milliseconds=1), BOB, "gpt-5", tokens={"input": 1}, total_cents=1.0),
    ]


def row(
    day: date, email: str, model: str, flag: str, cost: str, quantity: float, token_type: str | None
) -> dict[str, Any]:
    """A row of a "Usage-based" group whose max mode and headless flags are both ``flag``."""
    values: dict[str, Any] = dict.fromkeys(SOURCE_SCHEMA.names)
    values.update(
        ChargePeriodStart=at(day),
        ChargePeriodEnd=at(day) + timedelta(days=1),
        BillingPeriodStart=at(day.replace(day=1)),
        BilledCost=Decimal(cost),
        EffectiveCost=Decimal(cost),
        BillingCurrency="USD",
        Provider="Cursor",
        ServiceName=model,
        ChargeCategory="Usage",
        SubAccountId=email,
        ResourceName=email,
        ConsumedQuantity=quantity,
        ConsumedUnit="Tokens" if token_type else "Requests",
        Tags=[("kind", "Usage-based"), ("max_mode", flag), ("is_headless", flag)],
        x_Model=model,
        x_TokenType=token_type,
    )
    return values


def order(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["ChargePeriodStart"], r["SubAccountId"], r["x_TokenType"] or "")


ZERO = "0E-12"
EXPECTED = sorted(
    [
        row(NOV1, ALICE, SONNET, "false", "0.197500000000", 2, None),
        row(NOV1, ALICE, SONNET, "false", ZERO, 4000, "input"),
        row(NOV1, ALICE, SONNET, "false", ZERO, 1000, "output"),
        row(NOV1, ALICE, SONNET, "false", ZERO, 5000, "cache_read"),
        row(NOV1, ALICE, SONNET, "false", ZERO, 2000, "cache_write"),
        # From the JSON text 9876543.210987654 cents; through a float it would be 98765.432109876536.
        row(NOV2, BOB, "gpt-5", "true", "98765.432109876540", 1, None),
        row(NOV2, BOB, "gpt-5", "true", ZERO, 10, "input"),
        row(NOV2, BOB, "gpt-5", "true", ZERO, 20, "output"),
    ],
    key=order,
)


@pytest.fixture
def api() -> Iterator[CursorStandIn]:
    server = CursorStandIn(events(), api_key=KEY)
    with server:
        yield server


def read_rows(reader: CursorReader, start: date = NOV1, end: date = NOV3) -> list[dict[str, Any]]:
    tables = list(reader.read(start, end))
    assert all(table.schema == SOURCE_SCHEMA for table in tables)
    return sorted((r for table in tables for r in table.to_pylist()), key=order)


class TestRead:
    def test_events_summed_per_day_user_model_and_kind(self, api: CursorStandIn) -> None:
        reader = CursorReader(KEY, api.url, sleep=lambda s: None)
        assert reader.provider == "Cursor"
        assert reader.versions(NOV1, NOV3) is None
        assert read_rows(reader) == EXPECTED

    def test_each_page_is_read_once(self, api: CursorStandIn) -> None:
        assert read_rows(CursorReader(KEY, api.url, sleep=lambda s: None, page_size=2)) == EXPECTED
        start, end = int(at(NOV1).timestamp() * 1000), int(at(NOV3).timestamp() * 1000)
        assert [r.body for r in api.requests] == [
            {"startDate": start, "endDate": end, "page": page, "pageSize": 2} for page in (1, 2, 3)
        ]
        assert api.requests[0].path == "/teams/filtered-usage-events"
        assert api.requests[0].headers["authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()

    def test_an_event_arriving_while_paging_counts_each_event_once(self) -> None:
        """Events newest first, 2 a page: after page 1 ([a, b]) a newer event d arrives, so page 2 is [b, c]."""

        class Busy(CursorStandIn):
            def _events(self, request: Request) -> Reply:
                reply = super()._events(request)
                if len(self.requests) == 1:
                    self.events.append(usage_event(at(NOV2, 11), ALICE, SONNET, tokens={"input": 1}, total_cents=1.0))
                return reply

        a = usage_event(at(NOV2, 10), ALICE, SONNET, tokens={"input": 100}, total_cents=1.5)
        b = usage_event(at(NOV2, 9), ALICE, SONNET, tokens={"input": 20}, total_cents=0.25)
        c = usage_event(at(NOV1, 10), ALICE, SONNET, tokens={"input": 3}, total_cents=2.0)
        with Busy([a, b, c], api_key=KEY) as api:
            rows = read_rows(CursorReader(KEY, api.url, sleep=lambda s: None, page_size=2))
            assert [r.body["page"] for r in api.requests] == [1, 2]
        assert [(r["ChargePeriodStart"], r["BilledCost"], r["ConsumedQuantity"], r["x_TokenType"]) for r in rows] == [
            (at(NOV1), Decimal("0.02"), 1, None),
            (at(NOV1), Decimal(0), 3, "input"),
            (at(NOV2), Decimal("0.0175"), 2, None),  # a and b: 1.5 + 0.25 cents; d is read at the next import
            (at(NOV2), Decimal(0), 120, "input"),
        ]

    def test_batches_of_days(self, api: CursorStandIn) -> None:
        tables = list(CursorReader(KEY, api.url, sleep=lambda s: None, batch_days=1).read(NOV1, NOV3))
        assert [t.num_rows for t in tables] == [5, 3]
        assert [r.body["startDate"] for r in api.requests] == [
            int(at(NOV1).timestamp() * 1000),
            int(at(NOV2).timestamp() * 1000),
        ]

    def test_a_day_without_events_yields_nothing(self, api: CursorStandIn) -> None:
        assert list(CursorReader(KEY, api.url).read(date(2026, 10, 1), date(2026, 10, 2))) == []

    def test_demo_builder_prices_tokens(self) -> None:
        built = cursor_events(
            [(NOV1, ALICE, SONNET, "input", 2_000_000), (NOV1, ALICE, SONNET, "output", 100_000)],
            {SONNET: {"input": Decimal("3"), "output": Decimal("15")}},
        )
        # 2M x $3 + 0.1M x $15 = $7.50 = 750 cents.
        assert [(e["timestamp"], e["tokenUsage"]["totalCents"]) for e in built] == [
            (str(int(at(NOV1, 12).timestamp() * 1000)), 750.0)
        ]


class TestFailures:
    def test_429_waits_retry_after_then_succeeds(self, api: CursorStandIn) -> None:
        slept: list[float] = []
        api.fail_next(Reply(429, {"error": "Too many requests"}, {"Retry-After": "7"}))
        assert read_rows(CursorReader(KEY, api.url, sleep=slept.append)) == EXPECTED
        assert slept == [7.0]

    def test_5xx_is_retried(self, api: CursorStandIn) -> None:
        slept: list[float] = []
        api.fail_next(Reply(500), Reply(502))
        assert read_rows(CursorReader(KEY, api.url, sleep=slept.append)) == EXPECTED
        assert slept == [0.5, 1.0]

    def test_revoked_key_names_the_attribute(self, api: CursorStandIn) -> None:
        api.revoke()
        with pytest.raises(TerminalImportError, match="refused the `admin_api_key`"):
            read_rows(CursorReader(KEY, api.url, sleep=lambda s: None))

    def test_empty_key_is_refused(self, api: CursorStandIn) -> None:
        with pytest.raises(TerminalImportError, match="`admin_api_key` is empty"):
            CursorReader("", api.url)

    def test_unreadable_timestamp_is_quarantined(self) -> None:
        bad = usage_event(at(NOV1, 1), ALICE, SONNET, tokens={"input": 1}, total_cents=1.0)
        with CursorStandIn([bad], api_key=KEY) as api:
            bad["timestamp"] = "yesterday"
            with pytest.raises(Quarantine, match="'yesterday', not epoch milliseconds"):
                read_rows(CursorReader(KEY, api.url, sleep=lambda s: None))


def test_no_secret_in_logs_errors_or_rows(api: CursorStandIn, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    reader = CursorReader(KEY, api.url, sleep=lambda s: None)
    api.fail_next(Reply(429, {"error": f"slow down {KEY}"}, {"Retry-After": "1"}))
    rows = read_rows(reader)
    messages = []
    api.fail_next(Reply(400, {"error": f"bad key {KEY}"}))
    with pytest.raises(TerminalImportError) as rejected:
        read_rows(reader)
    messages.append(str(rejected.value))
    api.fail_next(*[Reply(503, {"message": KEY})] * 5)
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
