"""Budgets, alerts and reports over REST: the routes, the same results as gRPC on the hand-made March (support.py),
the webhook URL accepted and never returned, field-named 400s, 404 for another tenant's objects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from control_plane.rest.app import create_app
from control_plane.services import build_services
from control_plane.tenants.service import create_tenant
from tests.control_plane.budgets.support import CLAUDE_ONLY, seed_march

WEBHOOK = "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/r3stS3cr3t"


@pytest.fixture
def api(settings) -> Iterator[TestClient]:
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


@pytest.fixture
def headers(api, sessions, settings) -> tuple[dict[str, str], dict[str, str]]:
    """Tenant A (holding the hand-made March) and tenant B."""
    with sessions.begin() as session:
        (a, token_a), (_, token_b) = create_tenant(session, "A"), create_tenant(session, "B")
        tenant_a = a.id
    seed_march(sessions, settings.data_dir, tenant_a)
    return {"Authorization": f"Bearer {token_a}"}, {"Authorization": f"Bearer {token_b}"}


def test_the_routes(api):
    paths = {p: set(v) for p, v in api.get("/openapi.json").json()["paths"].items()}
    assert {p: m for p, m in paths.items() if p.startswith(("/v1/budgets", "/v1/alerts", "/v1/reports"))} == {
        "/v1/budgets": {"get", "post"},
        "/v1/budgets/{budget_id}": {"get", "patch", "delete"},
        "/v1/budgets/{budget_id}/status": {"get"},
        "/v1/alerts": {"get", "post"},
        "/v1/alerts:preview": {"post"},
        "/v1/alerts/{alert_id}": {"get", "patch", "delete"},
        "/v1/reports": {"get", "post"},
        "/v1/reports/{report_id}": {"get", "patch", "delete"},
    }


def test_budget_lifecycle_and_status(api, headers):
    a, b = headers
    body = {
        "name": "Claude API",
        "filters": CLAUDE_ONLY,
        "amount": "5000",
        "thresholds": [{"percent": 30, "of": "ACTUAL"}, {"percent": 100, "of": "FORECAST"}],
        "slack_webhook_url": WEBHOOK,
    }
    created = api.post("/v1/budgets", json=body, headers=a)
    assert created.status_code == 201
    budget = created.json()
    assert WEBHOOK not in created.text and "slack_webhook_url" not in budget
    assert {k: budget[k] for k in ("name", "amount", "period", "metric", "thresholds")} == {
        "name": "Claude API",
        "amount": "5000",
        "period": "MONTH",
        "metric": "BILLED",
        "thresholds": [{"percent": 30.0, "of": "ACTUAL"}, {"percent": 100.0, "of": "FORECAST"}],
    }
    url = f"/v1/budgets/{budget['id']}"
    status = api.get(f"{url}/status", params={"date": "2026-03-11"}, headers=a).json()
    assert status == {
        "budget_id": budget["id"],
        "amount": "5000",
        "actual": "1810.00",
        "forecast": "6340.00",
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "as_of": "2026-03-10",
        "crossed": [
            {"percent": "30", "of": "ACTUAL", "threshold_amount": "1500.00"},
            {"percent": "100", "of": "FORECAST", "threshold_amount": "5000.00"},
        ],
    }
    patched = api.patch(url, json={"amount": "9000"}, headers=a).json()
    assert (patched["amount"], patched["name"]) == ("9000", "Claude API")
    assert [x["id"] for x in api.get("/v1/budgets", headers=a).json()["budgets"]] == [budget["id"]]
    assert api.get(url, headers=b).status_code == 404
    assert api.get(f"{url}/status", headers=b).status_code == 404
    assert api.delete(url, headers=a).status_code == 204
    assert api.get(url, headers=a).status_code == 404


def test_bad_input_is_a_400_naming_the_field(api, headers):
    a, _ = headers
    response = api.post("/v1/budgets", json={"name": "x", "amount": "lots", "slack_webhook_url": "nope"}, headers=a)
    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "loc": ["amount"],
            "msg": "`amount` is `lots`; it must be a positive amount with at most two decimals, such as `5000` or "
            "`1250.50`.",
            "type": "Invalid Value",
        },
        {
            "loc": ["slack_webhook_url"],
            "msg": "`slack_webhook_url` (sensitive, not shown) must be an incoming webhook URL such as "
            "`https://hooks.slack.com/services/T000/B000/XXXX`.",
            "type": "Invalid Value",
        },
    ]
    unknown = api.post("/v1/alerts", json={"name": "x", "condition": "ABOVE_AMOUNT", "amount": "1", "x": 1}, headers=a)
    assert unknown.status_code == 400 and unknown.json()["detail"][0]["loc"] == ["x"]


def test_alert_preview_equals_the_grpc_answer(api, headers):
    a, _ = headers
    alert = {
        "name": "Claude daily",
        "filters": CLAUDE_ONLY,
        "condition": "ABOVE_AMOUNT",
        "amount": "250",
        "dedup_hours": 72,
    }
    preview = api.post("/v1/alerts:preview", json={"alert": alert}, headers=a)
    assert preview.status_code == 200
    assert preview.json() == {
        "start_date": "2025-12-11",
        "end_date": "2026-03-10",
        "firings": [
            {"day": "2026-03-05", "cost": "300.00", "threshold": "250.00"},
            {"day": "2026-03-10", "cost": "400.00", "threshold": "250.00"},
        ],
    }
    created = api.post("/v1/alerts", json=alert, headers=a).json()
    assert (created["dedup_hours"], created["condition"]) == (72, "ABOVE_AMOUNT")
    assert api.get(f"/v1/alerts/{created['id']}", headers=a).json() == created


def test_reports(api, headers):
    a, b = headers
    missing = api.post("/v1/reports", json={"name": "r", "dimension_id": "vd_nope", "frequency": "DAILY"}, headers=a)
    assert missing.status_code == 400
    assert [d["loc"] for d in missing.json()["detail"]] == [["frequency"]]
    assert api.get("/v1/reports", headers=b).json() == {}
