"""Elastic Cloud itemized costs -> cost rows, one UTC day at a time.

The Billing API's itemized-costs endpoint totals over the requested period and has no daily breakdown, so each day
is asked on its own (`from` = the day, `to` = the next day): a day's answer is that day's rows. Its amounts are in
ECU (Elastic Consumption Units), converted to dollars at the organization's rate (``ecu_usd``, the setting
``elastic_ecu_usd``); the ECU amount is kept as ``PricingCurrencyEffectiveCost``. docs/sources/elastic_cloud.md
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from control_plane.billing.schema import MONEY, TIMESTAMP, source_table
from control_plane.billing.sources.common import day_start, day_start_text, each_day, exact_money
from control_plane.billing.sources.http import ApiClient
from control_plane.imports.errors import Quarantine, TerminalImportError

PROVIDER = "Elastic"
SOURCE = "Elastic Cloud Billing API"
ITEMS_PATH = "/api/v2/billing/organizations/{organization}/costs/items"
DATA_TRANSFER_AND_STORAGE = "Data transfer and storage"

KINDS = {
    "elasticsearch": "Elasticsearch",
    "kibana": "Kibana",
    "apm": "APM",
    "integrations_server": "Integrations Server",
    "enterprise_search": "Enterprise Search",
    "appsearch": "App Search",
    "data_transfer_and_storage": DATA_TRANSFER_AND_STORAGE,
}
"""How a resource kind is named in `ServiceName`; a kind not listed is kept as the API writes it."""
UNITS = {"hour": "Hours", "hours": "Hours", "gb": "GB", "gigabytes": "GB"}
"""A line item's unit as `ConsumedUnit`; other units are kept as written."""


@dataclass(frozen=True)
class _Item:
    """One itemized cost of a day, in ECU."""

    service: str | None
    name: str | None
    sku: str | None
    ecu: Decimal
    quantity: Decimal | None
    unit: str | None
    resource_id: str | None


class ElasticCloudReader:
    """Reads an Elastic Cloud organization's itemized costs (``SourceReader``)."""

    provider = PROVIDER

    def __init__(
        self,
        organization_id: str,
        api_key: str,
        base_url: str,
        *,
        ecu_usd: Decimal | str,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not organization_id or not organization_id.strip():
            raise TerminalImportError("`organization_id` is empty: set it to the Elastic Cloud organization's id.")
        if not api_key:
            raise TerminalImportError(
                "`api_key` is empty: set it to an Elastic Cloud API key with billing read access."
            )
        self.organization_id = organization_id.strip()
        self.ecu_usd = _rate(ecu_usd)
        self._path = ITEMS_PATH.format(organization=quote(self.organization_id, safe=""))
        self._client = ApiClient(
            source=SOURCE,
            base_url=base_url,
            headers={"Authorization": f"ApiKey {api_key}", "Accept": "application/json"},
            credential_attribute="api_key",
            secret=api_key,
            sleep=sleep,
        )

    def versions(self, start: date, end: date) -> dict[date, str] | None:
        """None: the API cannot say what changed, so the connector re-reads a trailing window."""
        return None

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        """One table per day of [start, end) that has costs (one request per day)."""
        for day in each_day(start, end):
            following = day + timedelta(days=1)
            body = self._client.get(self._path, params={"from": day_start_text(day), "to": day_start_text(following)})
            items = _items(body, day)
            if items:
                yield self._table(items, day)

    def _table(self, items: list[_Item], day: date) -> pa.Table:
        start = day_start(day)
        n = len(items)
        ecu = [exact_money(item.ecu) for item in items]
        usd = [exact_money(item.ecu * self.ecu_usd) for item in items]
        if None in usd:
            raise Quarantine(
                f"{SOURCE} answered the itemized costs of {day} with an amount that, at {self.ecu_usd} USD per ECU, "
                "is too large for a bill. Check `elastic_ecu_usd`."
            )
        columns: dict[str, pa.Array | list] = {
            "ChargePeriodStart": pa.array([start] * n, TIMESTAMP),
            "ChargePeriodEnd": pa.array([start + timedelta(days=1)] * n, TIMESTAMP),
            "BillingPeriodStart": pa.array([start.replace(day=1)] * n, TIMESTAMP),
            "BilledCost": pa.array(usd, MONEY),
            "EffectiveCost": pa.array(usd, MONEY),
            "BillingCurrency": ["USD"] * n,
            "PricingCurrency": ["ECU"] * n,
            "PricingCurrencyEffectiveCost": pa.array(ecu, MONEY),
            "Provider": [PROVIDER] * n,
            "ServiceName": [item.service for item in items],
            "ChargeCategory": ["Usage"] * n,
            "SubAccountId": [self.organization_id] * n,
            "ResourceId": [item.resource_id for item in items],
            "ResourceName": [item.name for item in items],
            "x_UsageType": [item.sku for item in items],
            "ConsumedQuantity": pa.array(
                [None if item.quantity is None else float(item.quantity) for item in items], pa.float64()
            ),
            "ConsumedUnit": [item.unit for item in items],
        }
        return source_table(columns, n)


def _rate(value: Decimal | str) -> Decimal:
    try:
        rate = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        rate = Decimal("NaN")
    if not rate.is_finite() or rate <= 0:
        raise TerminalImportError(
            f"`elastic_ecu_usd` is {str(value)[:40]!r}: set it to the dollar price of one ECU, a positive number "
            "such as 1.0."
        )
    return rate


def _items(body: Any, day: date) -> list[_Item]:
    """The day's itemized costs, from either shape the API has documented: `products[].product_line_items[]`
    (the v2 API) or `resources[]` and `data_transfer_and_storage[]` (the earlier itemized costs)."""
    if not isinstance(body, Mapping) or not any(
        key in body for key in ("products", "resources", "data_transfer_and_storage")
    ):
        raise Quarantine(
            f"{SOURCE} answered the itemized costs of {day} without `products` or `resources`; the answer cannot be "
            "read as costs. Check the API version behind `elastic_api_url`."
        )
    items: list[_Item] = []
    for product in _list(body, "products", day):
        for line in _list(product, "product_line_items", day):
            kind = _text(line.get("kind")) or _text(product.get("type"))
            items.append(
                _Item(
                    service=_service(kind),
                    name=_text(line.get("name")),
                    sku=_text(line.get("sku")),
                    ecu=_amount(line.get("total_ecu"), "total_ecu", day),
                    quantity=_quantity(line.get("quantity"), day),
                    unit=_unit(_text(line.get("unit"))),
                    resource_id=_resource_id(line),
                )
            )
    for resource in _list(body, "resources", day):
        items.append(
            _Item(
                service=_service(_text(resource.get("kind")) or _text(resource.get("type"))),
                name=_text(resource.get("name")),
                sku=_text(resource.get("sku")),
                ecu=_amount(resource.get("price"), "price", day),
                quantity=_number(resource.get("hours"), "hours", day),
                unit="Hours",
                resource_id=_resource_id(resource),
            )
        )
    for dts in _list(body, "data_transfer_and_storage", day):
        kind = _text(dts.get("type"))
        items.append(
            _Item(
                service=DATA_TRANSFER_AND_STORAGE,
                name=_text(dts.get("name")),
                sku=_text(dts.get("sku")),
                ecu=_amount(dts.get("cost"), "cost", day),
                quantity=_quantity(dts.get("quantity"), day),
                unit="Requests" if kind == "storage_api" else "GB",
                resource_id=_resource_id(dts),
            )
        )
    return items


def _list(container: Mapping[str, Any], key: str, day: date) -> list[Mapping[str, Any]]:
    values = container.get(key)
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(value, Mapping) for value in values):
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with `{key}` not a list of objects.")
    return values


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _service(kind: str | None) -> str | None:
    return KINDS.get(kind.lower(), kind) if kind else None


def _unit(unit: str | None) -> str | None:
    return UNITS.get(unit.lower(), unit) if unit else None


def _resource_id(item: Mapping[str, Any]) -> str | None:
    for key in ("deployment_id", "instance_id", "id"):
        value = _text(item.get(key))
        if value:
            return value
    return None


def _number(value: Any, field: str, day: date) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with `{field}` not a number.")
    number = Decimal(value)
    if not number.is_finite():
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with `{field}` not a finite number.")
    return number


def _amount(value: Any, field: str, day: date) -> Decimal:
    amount = _number(value, field, day)
    if amount is None:
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with an item without `{field}`.")
    if exact_money(amount) is None:
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with `{field}` too large for a bill.")
    return amount


def _quantity(value: Any, day: date) -> Decimal | None:
    """`quantity` is an object `{value, formatted_value}`."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Quarantine(f"{SOURCE} answered the itemized costs of {day} with `quantity` not an object.")
    return _number(value.get("value"), "quantity.value", day)
