"""ElasticCloudReader against the Elastic Cloud Billing API stand-in on loopback: exact daily rows from ECU,
the ECU rate, both documented answer shapes, retries, a revoked key, bad input, and no secret anywhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import requests

from control_plane.billing.schema import SOURCE_SCHEMA
from control_plane.billing.sources.elastic import ElasticCloudReader
from control_plane.imports.errors import Quarantine, TerminalImportError
from devtools.standins.elastic import ElasticStandIn
from devtools.standins.server import Reply

KEY = "essu_SECRET_Zm9vYmFyOmJheg4417"
ORG = "org-1234"
NOV1, NOV2, NOV3, NOV4 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 4)


def line(kind: str | None, name: str, sku: str, hours: float, ecu: float, unit: str = "hour") -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": name,
        "type": "capacity",
        "sku": sku,
        "unit": unit,
        "quantity": {"value": hours, "formatted_value": f"{hours} {unit}"},
        "display_quantity": {"value": hours, "formatted_value": f"{hours} {unit}", "type": "default"},
        "rate": {"value": 0, "formatted_value": ""},
        "total_ecu": ecu,
        "quantities": [],
    }
    if kind:
        item["kind"] = kind
    return item


DATASET = {
    # day   deployment   kind           hours/GB  ECU
    # 11-01 search-prod  elasticsearch  24 h      10.1112  (24 x 0.4213)
    # 11-01 search-prod  kibana         24 h       0.8472  (24 x 0.0353)
    # 11-01 data out     (DTS)          12.5 GB    0.396
    # 11-02 search-prod  elasticsearch  24 h      10.1112
    # 11-02 logs         elasticsearch  12 h       1.23456789012345  (more than 12 places: rounded half-even)
    # 11-03 nothing
    NOV1: {
        "total_ecu": 11.3544,
        "products": [
            {
                "type": "hosted",
                "total_ecu": 10.9584,
                "product_line_items": [
                    line("elasticsearch", "search-prod", "gcp.es.datahot.n2.68x10x45", 24, 10.1112),
                    line("kibana", "search-prod", "gcp.kibana.n2.68x32x45", 24, 0.8472),
                ],
            },
            {
                "type": "data_transfer_and_storage",
                "total_ecu": 0.396,
                "product_line_items": [line(None, "Data out", "gcp.data-out", 12.5, 0.396, unit="GB")],
            },
        ],
    },
    NOV2: {
        "total_ecu": 11.34576789012345,
        "products": [
            {
                "type": "hosted",
                "total_ecu": 11.34576789012345,
                "product_line_items": [
                    line("elasticsearch", "search-prod", "gcp.es.datahot.n2.68x10x45", 24, 10.1112),
                    line("elasticsearch", "logs", "gcp.es.datahot.n2.68x10x45", 12, 1.23456789012345),
                ],
            }
        ],
    },
}


@pytest.fixture
def api() -> Iterator[ElasticStandIn]:
    with ElasticStandIn(DATASET, organization_id=ORG, api_key=KEY) as server:
        yield server


def reader(api: ElasticStandIn, sleeps: list[float] | None = None, ecu_usd: str = "1.0") -> ElasticCloudReader:
    record = sleeps if sleeps is not None else []
    return ElasticCloudReader(ORG, KEY, api.url, ecu_usd=Decimal(ecu_usd), sleep=record.append)


def rows(tables: list[pa.Table]) -> list[dict[str, Any]]:
    for table in tables:
        assert table.schema == SOURCE_SCHEMA
    return [row for table in tables for row in table.to_pylist()]


SHORT = ("ChargePeriodStart", "ServiceName", "ResourceName", "x_UsageType", "ConsumedQuantity", "ConsumedUnit")


def short(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*(row[name] for name in SHORT), row["PricingCurrencyEffectiveCost"], row["BilledCost"])


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_two_days_become_exact_daily_rows_asked_one_day_at_a_time(api):
    tables = list(reader(api).read(NOV1, NOV4))
    assert len(tables) == 2  # 11-03 has no costs
    got = rows(tables)
    es, kibana = "gcp.es.datahot.n2.68x10x45", "gcp.kibana.n2.68x32x45"
    assert [short(row) for row in got] == [
        (
            at(NOV1),
            "Elasticsearch",
            "search-prod",
            es,
            24.0,
            "Hours",
            Decimal("10.111200000000"),
            Decimal("10.111200000000"),
        ),
        (
            at(NOV1),
            "Kibana",
            "search-prod",
            kibana,
            24.0,
            "Hours",
            Decimal("0.847200000000"),
            Decimal("0.847200000000"),
        ),
        (
            at(NOV1),
            "Data transfer and storage",
            "Data out",
            "gcp.data-out",
            12.5,
            "GB",
            Decimal("0.396000000000"),
            Decimal("0.396000000000"),
        ),
        (
            at(NOV2),
            "Elasticsearch",
            "search-prod",
            es,
            24.0,
            "Hours",
            Decimal("10.111200000000"),
            Decimal("10.111200000000"),
        ),
        (at(NOV2), "Elasticsearch", "logs", es, 12.0, "Hours", Decimal("1.234567890123"), Decimal("1.234567890123")),
    ]
    assert got[0] == {
        "ChargePeriodStart": at(NOV1),
        "ChargePeriodEnd": at(NOV2),
        "BillingPeriodStart": at(NOV1),
        "BilledCost": Decimal("10.111200000000"),
        "EffectiveCost": Decimal("10.111200000000"),
        "ListCost": None,
        "BillingCurrency": "USD",
        "Provider": "Elastic",
        "ServiceName": "Elasticsearch",
        "ServiceCategory": None,
        "ChargeCategory": "Usage",
        "SubAccountId": ORG,
        "BillingAccountId": None,
        "ResourceId": None,
        "RegionId": None,
        "ConsumedQuantity": 24.0,
        "Tags": None,
        "ResourceName": "search-prod",
        "SubAccountName": None,
        "ConsumedUnit": "Hours",
        "PricingCurrency": "ECU",
        "PricingCurrencyEffectiveCost": Decimal("10.111200000000"),
        "x_ProductCode": None,
        "x_UsageType": es,
        "x_Operation": None,
        "x_LineItemType": None,
        "x_IamPrincipal": None,
        "x_Model": None,
        "x_TokenType": None,
    }
    assert [(r.path, r.query) for r in api.requests] == [
        (
            f"/api/v2/billing/organizations/{ORG}/costs/items",
            {"from": [f"{day.isoformat()}T00:00:00Z"], "to": [f"{following.isoformat()}T00:00:00Z"]},
        )
        for day, following in ((NOV1, NOV2), (NOV2, NOV3), (NOV3, NOV4))
    ]
    assert reader(api).versions(NOV1, NOV4) is None


def test_ecu_are_converted_at_the_organizations_rate(api):
    """At $0.85 per ECU: 10.1112 -> 8.59452; 0.8472 -> 0.72012; 0.396 -> 0.3366;
    1.23456789012345 -> 1.0493827066049325 -> 1.049382706605 (12 places, half-even)."""
    got = rows(list(reader(api, ecu_usd="0.85").read(NOV1, NOV3)))
    assert [(row["PricingCurrencyEffectiveCost"], row["BilledCost"], row["EffectiveCost"]) for row in got] == [
        (Decimal("10.111200000000"), Decimal("8.594520000000"), Decimal("8.594520000000")),
        (Decimal("0.847200000000"), Decimal("0.720120000000"), Decimal("0.720120000000")),
        (Decimal("0.396000000000"), Decimal("0.336600000000"), Decimal("0.336600000000")),
        (Decimal("10.111200000000"), Decimal("8.594520000000"), Decimal("8.594520000000")),
        (Decimal("1.234567890123"), Decimal("1.049382706605"), Decimal("1.049382706605")),
    ]
    assert {(row["BillingCurrency"], row["PricingCurrency"]) for row in got} == {("USD", "ECU")}


def test_the_earlier_resources_and_data_transfer_shape_is_read_too():
    earlier = {
        "costs": {
            "total": 10.5072,
            "dimensions": [{"type": "capacity", "cost": 10.1112}, {"type": "data_out", "cost": 0.396}],
        },
        "resources": [
            {
                "name": "search-prod",
                "kind": "elasticsearch",
                "sku": "gcp.es.datahot.n2.68x10x45",
                "price": 10.1112,
                "price_per_hour": 0.4213,
                "hours": 24,
                "instance_count": 1,
                "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
                "deployment_id": "d41c0ffee",
            }
        ],
        "data_transfer_and_storage": [
            {
                "name": "Data out",
                "type": "data_out",
                "sku": "gcp.data-out",
                "cost": 0.396,
                "quantity": {"value": 12.5, "formatted_value": "12.5 GB"},
                "rate": {"value": 0.03168, "formatted_value": "0.03168 per GB"},
            },
            {
                "name": "Snapshot API requests",
                "type": "storage_api",
                "sku": "gcp.snapshot-api",
                "cost": 0.0021,
                "quantity": {"value": 4200, "formatted_value": "4200 requests"},
            },
        ],
    }
    with ElasticStandIn({NOV1: earlier}, organization_id=ORG, api_key=KEY) as api:
        got = rows(list(reader(api).read(NOV1, NOV2)))
    assert [
        (
            row["ServiceName"],
            row["ResourceId"],
            row["ResourceName"],
            row["ConsumedQuantity"],
            row["ConsumedUnit"],
            row["BilledCost"],
        )
        for row in got
    ] == [
        ("Elasticsearch", "d41c0ffee", "search-prod", 24.0, "Hours", Decimal("10.111200000000")),
        ("Data transfer and storage", None, "Data out", 12.5, "GB", Decimal("0.396000000000")),
        ("Data transfer and storage", None, "Snapshot API requests", 4200.0, "Requests", Decimal("0.002100000000")),
    ]


def test_a_429_is_retried_after_the_seconds_it_asks(api):
    api.fail_next(Reply(429, {"errors": [{"code": "rate_limited", "message": "slow down"}]}, {"Retry-After": "7"}))
    sleeps: list[float] = []
    got = rows(list(reader(api, sleeps).read(NOV1, NOV2)))
    assert sleeps == [7.0]
    assert len(got) == 3 and len(api.requests) == 2


def test_5xx_answers_are_retried_with_backoff(api):
    api.fail_next(Reply(503, {"errors": [{"code": "unavailable", "message": "try later"}]}), Reply(500))
    sleeps: list[float] = []
    got = rows(list(reader(api, sleeps).read(NOV2, NOV3)))
    assert sleeps == [0.5, 1.0]
    assert [row["ResourceName"] for row in got] == ["search-prod", "logs"]


def test_a_revoked_key_is_terminal_and_names_api_key(api):
    api.revoke()
    with pytest.raises(TerminalImportError) as caught:
        list(reader(api).read(NOV1, NOV2))
    assert "`api_key`" in caught.value.message
    assert "HTTP 401" in caught.value.message


def test_an_answer_without_costs_is_quarantined_naming_the_day(api):
    api.fail_next(Reply(200, {"message": "maintenance"}))
    with pytest.raises(Quarantine, match="itemized costs of 2026-11-01 without `products` or `resources`"):
        list(reader(api).read(NOV1, NOV2))


def test_a_cost_that_is_not_a_number_is_quarantined(api):
    api.fail_next(
        Reply(200, {"products": [{"type": "hosted", "product_line_items": [{"name": "x", "total_ecu": "12"}]}]})
    )
    with pytest.raises(Quarantine, match="`total_ecu` not a number"):
        list(reader(api).read(NOV1, NOV2))


@pytest.mark.parametrize(
    ("organization_id", "api_key", "ecu_usd", "message"),
    [
        ("", KEY, "1", "`organization_id` is empty"),
        (ORG, "", "1", "`api_key` is empty"),
        (ORG, KEY, "0", "`elastic_ecu_usd` is '0': set it to the dollar price of one ECU"),
        (ORG, KEY, "-1.5", "`elastic_ecu_usd` is '-1.5'"),
        (ORG, KEY, "one dollar", "`elastic_ecu_usd` is 'one dollar'"),
    ],
    ids=["no-organization", "no-key", "zero-rate", "negative-rate", "not-a-number"],
)
def test_bad_settings_say_what_to_change(organization_id, api_key, ecu_usd, message):
    with pytest.raises(TerminalImportError, match=message):
        ElasticCloudReader(organization_id, api_key, "http://127.0.0.1:9", ecu_usd=ecu_usd)


def test_the_stand_in_totals_a_longer_period_like_the_api():
    with ElasticStandIn(DATASET, organization_id=ORG, api_key=KEY) as api:
        body = requests.get(
            f"{api.url}/api/v2/billing/organizations/{ORG}/costs/items",
            params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-03T00:00:00Z"},
            headers={"Authorization": f"ApiKey {KEY}"},
            timeout=10,
        ).json(parse_float=Decimal)
    lines = {
        (i.get("kind"), i["name"]): (i["total_ecu"], i["quantity"]["value"])
        for p in body["products"]
        for i in p["product_line_items"]
    }
    assert lines == {
        ("elasticsearch", "search-prod"): (Decimal("20.2224"), 48),
        ("kibana", "search-prod"): (Decimal("0.8472"), 24),
        (None, "Data out"): (Decimal("0.396"), Decimal("12.5")),
        ("elasticsearch", "logs"): (Decimal("1.23456789012345"), 12),
    }
    assert body["total_ecu"] == Decimal("22.70016789012345")


def test_the_key_appears_in_no_log_and_no_error(api, caplog):
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    api.fail_next(Reply(429, {"errors": [{"code": "rate_limited", "message": "slow"}]}, {"Retry-After": "1"}))
    list(reader(api).read(NOV1, NOV3))
    # An API that echoes the credential back in its error text.
    api.fail_next(Reply(400, {"errors": [{"code": "costs.invalid", "message": f"bad request for ApiKey {KEY}"}]}))
    with pytest.raises(TerminalImportError) as rejected:
        list(reader(api).read(NOV1, NOV2))
    messages.append(str(rejected.value))
    api.fail_next(*[Reply(503, {"errors": [{"message": KEY}]})] * 5)
    with pytest.raises(Exception) as exhausted:
        list(reader(api).read(NOV1, NOV2))
    messages.append(str(exhausted.value))
    api.revoke()
    with pytest.raises(TerminalImportError) as revoked:
        list(reader(api).read(NOV1, NOV2))
    messages.append(str(revoked.value))
    assert "[redacted]" in messages[0]
    assert all(KEY not in message for message in messages)
    assert KEY not in caplog.text
    assert caplog.records  # the retries were logged, so the check above saw real log lines
