"""Elastic Cloud Billing API stand-in: the organization's itemized costs, as the API answers them.

``GET /api/v2/billing/organizations/{organization_id}/costs/items?from=<ISO>&to=<ISO>`` with
``Authorization: ApiKey <key>``. The dataset gives each day's answer body (``{"products": [...]}``, amounts in
ECU as JSON numbers); a request for more than one day gets the period's total, as the real API does: the line
items of the days, those with the same product, kind, name and SKU summed. Its own errors (unknown organization,
bad date range) use Elastic's body ``{"errors": [{"code", "message"}]}``; a refused key is ``LoopbackApi``'s 401.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from devtools.standins.server import LoopbackApi, Reply, Request

ITEMS_PREFIX = "/api/v2/billing/organizations/"
ITEMS_SUFFIX = "/costs/items"


class ElasticStandIn(LoopbackApi):
    """Serves ``dataset`` (``{day: answer body}``) for ``organization_id``, accepting only ``api_key``."""

    def __init__(
        self,
        dataset: Mapping[date, Mapping[str, Any]],
        *,
        organization_id: str = "org-1234",
        api_key: str = "essu_standin_key",
    ):
        self.dataset = dict(dataset)
        self.organization_id = organization_id
        self.api_key = api_key
        super().__init__({("GET", ITEMS_PREFIX + "*"): self._items}, self._authenticate)

    def _authenticate(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"ApiKey {self.api_key}"

    def _items(self, request: Request) -> Reply:
        organization = request.path[len(ITEMS_PREFIX) :].removesuffix(ITEMS_SUFFIX)
        if not request.path.endswith(ITEMS_SUFFIX) or "/" in organization:
            return _error(404, "root.resource_not_found", f"no route {request.path}")
        if organization != self.organization_id:
            return _error(404, "organization.not_found", "The organization was not found.")
        start, end = _instant(request.one("from")), _instant(request.one("to"))
        if start is None or end is None or end <= start:
            return _error(400, "costs.invalid_date_range", "The specified date range is invalid.")
        days = []
        day = start.date()
        while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
            days.append(day)
            day += timedelta(days=1)
        return Reply(200, _total([self.dataset[d] for d in days if d in self.dataset]))


def _instant(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"errors": [{"code": code, "message": message}]})


def _total(bodies: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The answer for a period: one day's body as it is; several days' line items summed per product, kind,
    name and SKU (amounts added as decimals of their JSON text, so the sum is what the API would state)."""
    if len(bodies) == 1:
        return dict(bodies[0])
    products: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for body in bodies:
        for product in body.get("products", []):
            lines = products.setdefault(product["type"], {})
            for line in product["product_line_items"]:
                key = (line.get("kind"), line.get("name"), line.get("sku"))
                if key not in lines:
                    lines[key] = {**line, "quantity": dict(line.get("quantity") or {"value": 0})}
                    continue
                merged = lines[key]
                merged["total_ecu"] = _add(merged["total_ecu"], line["total_ecu"])
                merged["quantity"]["value"] = _add(
                    merged["quantity"]["value"], (line.get("quantity") or {}).get("value", 0)
                )
    answer = [
        {
            "type": kind,
            "total_ecu": _sum(line["total_ecu"] for line in lines.values()),
            "product_line_items": list(lines.values()),
        }
        for kind, lines in products.items()
    ]
    return {"products": answer, "total_ecu": _sum(product["total_ecu"] for product in answer)}


def _add(a: float | int, b: float | int) -> float | int:
    total = Decimal(str(a)) + Decimal(str(b))
    return int(total) if total == total.to_integral_value() else float(total)


def _sum(values: Any) -> float | int:
    total: float | int = 0
    for value in values:
        total = _add(total, value)
    return total
