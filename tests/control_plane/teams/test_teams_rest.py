"""Teams over REST: the same service as gRPC, bodies checked by their schemas (required fields, enums),
field-named errors, status codes, member deletion by id, cascade and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

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
def tokens(api, settings) -> tuple[dict[str, str], dict[str, str]]:
    """Authorization headers of tenants A and B."""
    from control_plane.db import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    with create_sessionmaker(engine).begin() as session:
        headers = tuple({"Authorization": f"Bearer {create_tenant(session, name)[1]}"} for name in ("A", "B"))
    engine.dispose()
    return headers[0], headers[1]


def test_openapi_has_the_team_routes_with_required_fields_and_enums(api):
    spec = api.get("/openapi.json").json()
    assert {p for p in spec["paths"] if p.startswith("/v1/teams")} == {
        "/v1/teams",
        "/v1/teams/{team_id}",
        "/v1/teams/{team_id}/members",
        "/v1/teams/{team_id}/members/{member_id}",
    }
    assert set(spec["paths"]["/v1/teams/{team_id}"]) == {"get", "patch", "delete"}
    schemas = spec["components"]["schemas"]
    assert schemas["TeamCreate"]["required"] == ["name"]
    assert schemas["Visibility"]["enum"] == ["PRIVATE", "PUBLIC"]
    assert schemas["Role"]["enum"] == ["OWNER", "MEMBER"]


def test_team_lifecycle(api, tokens):
    a, _ = tokens
    created = api.post("/v1/teams", json={"name": "Platform"}, headers=a)
    assert created.status_code == 201
    team = created.json()
    assert {k: team[k] for k in ("name", "description", "visibility")} == {
        "name": "Platform",
        "description": "",
        "visibility": "PRIVATE",
    }
    assert api.get(f"/v1/teams/{team['id']}", headers=a).json() == team

    assert api.patch(f"/v1/teams/{team['id']}", json={}, headers=a).json() == team  # nothing sent, nothing changes
    patched = api.patch(f"/v1/teams/{team['id']}", json={"visibility": "PUBLIC"}, headers=a).json()
    assert (patched["name"], patched["visibility"], patched["created_at"]) == ("Platform", "PUBLIC", team["created_at"])
    patched = api.patch(f"/v1/teams/{team['id']}", json={"visibility": None, "description": "d"}, headers=a).json()
    assert (patched["description"], patched["visibility"]) == ("d", "PRIVATE")
    assert [t["id"] for t in api.get("/v1/teams", headers=a).json()["teams"]] == [team["id"]]

    deleted = api.delete(f"/v1/teams/{team['id']}", headers=a)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.get(f"/v1/teams/{team['id']}", headers=a).status_code == 404
    assert api.get("/v1/teams", headers=a).json() == {}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param({}, [{"loc": ["name"], "msg": "`name`: Field required.", "type": "Invalid Value"}], id="no-name"),
        pytest.param(
            {"name": "x", "visibility": "SECRET"},
            [
                {
                    "loc": ["visibility"],
                    "msg": "`visibility`: Input should be 'PRIVATE' or 'PUBLIC'.",
                    "type": "Invalid Value",
                }
            ],
            id="enum",
        ),
        pytest.param(
            {"name": "   "},
            [{"loc": ["name"], "msg": "`name` must not be empty.", "type": "Empty Value"}],
            id="blank-name",
        ),
        pytest.param(
            {"name": "x", "owner": "me"},
            [{"loc": ["owner"], "msg": "`owner`: Extra inputs are not permitted.", "type": "Invalid Value"}],
            id="unknown-field",
        ),
    ],
)
def test_invalid_team_body_is_400_naming_the_field(api, tokens, body, detail):
    response = api.post("/v1/teams", json=body, headers=tokens[0])
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_members(api, tokens):
    a, _ = tokens
    team_id = api.post("/v1/teams", json={"name": "Platform"}, headers=a).json()["id"]
    url = f"/v1/teams/{team_id}/members"
    first = api.post(url, json={"user_id": "u-1"}, headers=a)
    assert (first.status_code, first.json()) == (
        201,
        {"id": f"{team_id}:u-1", "team_id": team_id, "user_id": "u-1", "role": "MEMBER"},
    )
    second = api.post(url, json={"email": "ada@example.com", "role": "OWNER"}, headers=a).json()
    assert second == {
        "id": f"{team_id}:ada@example.com",
        "team_id": team_id,
        "email": "ada@example.com",
        "role": "OWNER",
    }

    duplicate = api.post(url, json={"user_id": "u-1"}, headers=a)
    assert (duplicate.status_code, duplicate.json()) == (
        409,
        {"detail": f"user `u-1` is already a member of team '{team_id}' (member id '{team_id}:u-1')."},
    )
    both = api.post(url, json={"user_id": "u-2", "email": "b@example.com"}, headers=a)
    assert (both.status_code, both.json()["detail"]) == (
        400,
        [
            {
                "loc": ["email"],
                "msg": "`user_id` and `email` are both set; set exactly one of them to name the member.",
                "type": "Conflicting Attributes",
            }
        ],
    )
    assert [m["id"] for m in api.get(url, headers=a).json()["team_members"]] == [first.json()["id"], second["id"]]

    assert api.delete(f"{url}/{team_id}:u-1", headers=a).status_code == 204  # by id
    assert api.delete(f"{url}/ada@example.com", headers=a).status_code == 204  # by email alone
    assert api.delete(f"{url}/u-1", headers=a).status_code == 404
    assert api.get(url, headers=a).json() == {}


def test_deleting_a_team_deletes_its_members(api, tokens):
    a, _ = tokens
    team_id = api.post("/v1/teams", json={"name": "Platform"}, headers=a).json()["id"]
    api.post(f"/v1/teams/{team_id}/members", json={"user_id": "u-1"}, headers=a)
    api.delete(f"/v1/teams/{team_id}", headers=a)
    response = api.get(f"/v1/teams/{team_id}/members", headers=a)
    assert (response.status_code, response.json()) == (404, {"detail": f"team '{team_id}' not found"})


def test_another_tenant_gets_404_everywhere(api, tokens):
    a, b = tokens
    team_id = api.post("/v1/teams", json={"name": "Platform"}, headers=a).json()["id"]
    api.post(f"/v1/teams/{team_id}/members", json={"user_id": "u-1"}, headers=a)
    responses = [
        api.get(f"/v1/teams/{team_id}", headers=b),
        api.patch(f"/v1/teams/{team_id}", json={"name": "Mine"}, headers=b),
        api.delete(f"/v1/teams/{team_id}", headers=b),
        api.get(f"/v1/teams/{team_id}/members", headers=b),
        api.post(f"/v1/teams/{team_id}/members", json={"user_id": "x"}, headers=b),
        api.delete(f"/v1/teams/{team_id}/members/u-1", headers=b),
    ]
    assert [r.status_code for r in responses] == [404] * 6
    assert api.get("/v1/teams", headers=b).json() == {}
    assert api.get(f"/v1/teams/{team_id}", headers=a).json()["name"] == "Platform"
    assert len(api.get(f"/v1/teams/{team_id}/members", headers=a).json()["team_members"]) == 1


def test_without_a_token_is_401(api):
    assert api.get("/v1/teams").status_code == 401
