"""Dashboards over REST: the same service as gRPC; bodies checked by their schemas (required fields, the widget
kind enum), widget queries refused with the attribute path in `loc`, status codes and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from control_plane.db import create_engine, create_sessionmaker
from control_plane.rest.app import create_app
from control_plane.services import build_services
from control_plane.tenants.service import create_tenant


@pytest.fixture
def api(settings) -> Iterator[TestClient]:
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


@pytest.fixture
def tenants(api, settings) -> list[tuple[str, dict[str, str]]]:
    """(tenant id, Authorization header) of tenants A and B."""
    engine = create_engine(settings.database_url)
    out = []
    with create_sessionmaker(engine).begin() as session:
        for name in ("A", "B"):
            tenant, token = create_tenant(session, name)
            out.append((tenant.id, {"Authorization": f"Bearer {token}"}))
    engine.dispose()
    return out


def widget(title: str = "By model", kind: str = "PIE", **query) -> dict:
    return {"title": title, "kind": kind, "query": {"preset": "LAST_30_DAYS", **query}}


def test_openapi_has_the_dashboard_routes_with_required_fields_and_the_kind_enum(api):
    spec = api.get("/openapi.json").json()
    assert {p for p in spec["paths"] if p.startswith("/v1/dashboards")} == {
        "/v1/dashboards",
        "/v1/dashboards/{dashboard_id}",
        "/v1/dashboards/{dashboard_id}/data",
    }
    assert set(spec["paths"]["/v1/dashboards/{dashboard_id}"]) == {"get", "patch", "delete"}
    schemas = spec["components"]["schemas"]
    assert schemas["DashboardCreate"]["required"] == ["name"]
    assert schemas["WidgetIn"]["required"] == ["title", "kind", "query"]
    assert schemas["WidgetKind"]["enum"] == ["LINE", "STACKED_BAR", "PIE", "TABLE", "NUMBER"]


def test_dashboard_lifecycle(api, tenants, add_dimension):
    (a_id, a), _ = tenants
    team_id = add_dimension(a_id, "team")
    widgets = [
        widget("By team and model", "STACKED_BAR", group_by=[f"dimension:{team_id}", "x_Model"], granularity="WEEK"),
        widget("Total", "NUMBER", compare=True),
    ]
    created = api.post("/v1/dashboards", json={"name": "AI spend", "widgets": widgets}, headers=a)
    assert created.status_code == 201
    dashboard = created.json()
    assert dashboard == {
        "id": dashboard["id"],
        "name": "AI spend",
        "description": "",
        "widgets": widgets,
        "created_at": dashboard["created_at"],
        "updated_at": dashboard["created_at"],
    }
    url = f"/v1/dashboards/{dashboard['id']}"
    assert api.get(url, headers=a).json() == dashboard

    assert api.patch(url, json={}, headers=a).json() == dashboard  # nothing sent, nothing changes
    patched = api.patch(url, json={"description": "Who spends on which model"}, headers=a).json()
    assert (patched["description"], patched["widgets"], patched["created_at"]) == (
        "Who spends on which model",
        widgets,
        dashboard["created_at"],
    )
    patched = api.patch(url, json={"widgets": widgets[1:], "description": None}, headers=a).json()
    assert (patched["name"], patched["description"], patched["widgets"]) == ("AI spend", "", widgets[1:])
    assert [d["id"] for d in api.get("/v1/dashboards", headers=a).json()["dashboards"]] == [dashboard["id"]]

    deleted = api.delete(url, headers=a)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(url, headers=a).status_code == 404
    assert api.get("/v1/dashboards", headers=a).json() == {}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param({}, [{"loc": ["name"], "msg": "`name`: Field required.", "type": "Invalid Value"}], id="no-name"),
        pytest.param(
            {"name": "x", "widgets": [widget(kind="DONUT")]},
            [
                {
                    "loc": ["widgets", 0, "kind"],
                    "msg": "`widgets.0.kind`: Input should be 'LINE', 'STACKED_BAR', 'PIE', 'TABLE' or 'NUMBER'.",
                    "type": "Invalid Value",
                }
            ],
            id="kind-enum",
        ),
        pytest.param(
            {
                "name": "x",
                "widgets": [
                    widget(),
                    widget(filters=[{"field": "tag:env", "operator": "EQUALS", "values": ["prod", "dev"]}]),
                ],
            },
            [
                {
                    "loc": ["widgets", 1, "query", "filters", 0, "values"],
                    "msg": "EQUALS takes exactly one value (2 given).",
                    "type": "One Value",
                }
            ],
            id="equals-two-values",
        ),
        pytest.param(
            {"name": "x", "widgets": [widget(group_by=["dimension:dim_missing"])]},
            [
                {
                    "loc": ["widgets", 0, "query", "group_by", 0],
                    "msg": "`dimension:dim_missing` names no virtual dimension of this tenant; use `dimension:<id>` "
                    "with the id of one (the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions).",
                    "type": "Unknown Dimension",
                }
            ],
            id="unknown-dimension",
        ),
    ],
)
def test_invalid_dashboard_body_is_400_naming_the_field(api, tenants, body, detail):
    response = api.post("/v1/dashboards", json=body, headers=tenants[0][1])
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_another_tenant_gets_404_everywhere(api, tenants):
    (_, a), (_, b) = tenants
    dashboard_id = api.post("/v1/dashboards", json={"name": "Mine", "widgets": [widget()]}, headers=a).json()["id"]
    url = f"/v1/dashboards/{dashboard_id}"
    responses = [
        api.get(url, headers=b),
        api.patch(url, json={"name": "Theirs"}, headers=b),
        api.delete(url, headers=b),
        api.get(f"{url}/data", headers=b),
    ]
    assert [(r.status_code, r.json()) for r in responses] == [
        (404, {"detail": f"dashboard '{dashboard_id}' not found"})
    ] * 4
    assert api.get("/v1/dashboards", headers=b).json() == {}
    assert api.get(url, headers=a).json()["name"] == "Mine"


def test_without_a_token_is_401(api):
    assert api.get("/v1/dashboards").status_code == 401
