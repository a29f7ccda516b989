"""The REST API: same tokens, same tenant isolation, proto3 JSON bodies, field-named errors, OpenAPI."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from control_plane.rest.app import create_app
from control_plane.services import build_services
from tests.control_plane.metrics.test_metrics_imports import imported, settings  # noqa: F401 - fixtures


@pytest.fixture
def api(settings, imported):  # noqa: F811
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


def auth(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


def test_openapi_lists_every_route(api):
    paths = set(api.get("/openapi.json").json()["paths"])
    assert paths == {
        "/v1/metrics-datasources",
        "/v1/metrics-datasources/{datasource_id}",
        "/v1/metrics-datasources/{datasource_id}/import",
        "/v1/metrics-datasources/{datasource_id}/imports",
        "/v1/metrics-datasources/{datasource_id}/files",
        "/v1/metrics-datasources/{datasource_id}/metrics/{metric_name}/values",
        "/v1/billing-datasources",
        "/v1/billing-datasources/{datasource_id}",
        "/v1/billing-datasources/{datasource_id}/import",
        "/v1/billing-datasources/{datasource_id}/billing-periods",
        "/v1/virtual-dimensions",
        "/v1/virtual-dimensions/{dimension_id}",
        "/v1/virtual-dimensions/{dimension_id}/allocation",
        "/v1/virtual-dimensions/{dimension_id}/recompute",
        "/v1/costs:preview-split",
        "/v1/costs:query",
        "/v1/teams",
        "/v1/teams/{team_id}",
        "/v1/teams/{team_id}/members",
        "/v1/teams/{team_id}/members/{member_id}",
        "/v1/budgets",
        "/v1/budgets/{budget_id}",
        "/v1/budgets/{budget_id}/status",
        "/v1/alerts",
        "/v1/alerts:preview",
        "/v1/alerts/{alert_id}",
        "/v1/reports",
        "/v1/reports/{report_id}",
        "/v1/notifications",
        "/v1/dashboards",
        "/v1/dashboards/{dashboard_id}",
        "/v1/dashboards/{dashboard_id}/data",
    }


def test_without_a_token_is_401(api, imported):  # noqa: F811
    response = api.get(f"/v1/metrics-datasources/{imported[0]}")
    assert (response.status_code, response.json(), response.headers["www-authenticate"]) == (
        401,
        {"detail": "invalid or missing API token"},
        "Bearer",
    )


def test_another_tenant_gets_404(api, imported, tenant_b):  # noqa: F811
    response = api.get(f"/v1/metrics-datasources/{imported[0]}", headers=auth(tenant_b))
    assert (response.status_code, response.json()) == (404, {"detail": f"metrics datasource {imported[0]!r} not found"})


def test_datasource_and_files(api, imported, tenant_a):  # noqa: F811
    datasource = api.get(f"/v1/metrics-datasources/{imported[0]}", headers=auth(tenant_a)).json()
    assert (datasource["status"], datasource["type"], datasource["metrics_definition"][0]["dimensions"]) == (
        "WARNING",
        "AwsS3V2",
        ["team"],
    )
    files = api.get(f"/v1/metrics-datasources/{imported[0]}/files", headers=auth(tenant_a)).json()["files"]
    assert [(f["key"], f["status"]) for f in files] == [
        ("daily/broken.parquet", "QUARANTINED"),
        ("daily/2026-01-03.parquet", "LOADED"),
        ("daily/2026-01-01.parquet", "LOADED"),
    ]


def test_values_and_field_named_errors(api, imported, tenant_a):  # noqa: F811
    url = f"/v1/metrics-datasources/{imported[0]}/metrics/api_calls/values"
    rows = api.get(url, params={"start": "2026-01-01", "end": "2026-01-01"}, headers=auth(tenant_a)).json()["rows"]
    assert rows == [{"day": "2026-01-01", "value": 14.0}]
    params = {"start": "2026-01-01", "end": "2026-01-01", "group_by": "region"}
    bad = api.get(url, params=params, headers=auth(tenant_a))
    assert bad.status_code == 400
    assert [(d["loc"], d["type"]) for d in bad.json()["detail"]] == [(["group_by", 0], "Unknown Dimension")]
    files = f"/v1/metrics-datasources/{imported[0]}/files"
    status = api.get(files, params={"status": "BROKEN"}, headers=auth(tenant_a))
    assert (status.status_code, status.json()["detail"][0]["loc"]) == (400, ["status"])
