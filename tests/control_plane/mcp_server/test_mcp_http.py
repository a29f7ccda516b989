"""MCP over streamable HTTP at /mcp on the REST app, served by uvicorn on 127.0.0.1: the SDK's own HTTP client
lists the tools and gets the REST API's answers; requests without a valid tenant token are refused as REST
refuses them (401, `WWW-Authenticate: Bearer`) before the MCP transport reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from control_plane.admission import Admission
from control_plane.server import bind_http, start_http
from control_plane.tenants.service import revoke_token
from tests.control_plane.mcp_server.conftest import answer, error_text, tool_annotations
from tests.control_plane.mcp_server.test_mcp_tools import READ_ONLY_TOOLS, WRITING_TOOLS

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.fixture
def base_url(services, world) -> Iterator[str]:
    """The REST app (with /mcp) served as `serve` serves it, on a loopback port picked by the kernel."""
    sock = bind_http("127.0.0.1:0")
    thread, server = start_http(services, Admission.from_settings(services.settings), sock)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


def over_http(base_url: str, token: str, body) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as client,
            streamable_http_client(f"{base_url}/mcp", http_client=client) as (read, write, _session_id),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await body(session)

    return anyio.run(main)


def test_the_tools_are_listed_over_http(base_url, world):
    assert over_http(base_url, world.token_a, tool_annotations) == {
        **{name: True for name in READ_ONLY_TOOLS},
        **{name: False for name in WRITING_TOOLS},
    }


def test_a_query_over_http_equals_rest(base_url, world):
    query = {"start_date": "2026-01-01", "end_date": "2026-01-31", "group_by": [f"dimension:{world.dimension_a}"]}
    query["granularity"] = "MONTH"
    expected = httpx.post(f"{base_url}/v1/costs:query", json={"query": query}, headers=world.headers()).json()
    got = answer(over_http(base_url, world.token_a, lambda s: s.call_tool("query_costs", {"query": query})))
    assert got == expected
    field = f"dimension:{world.dimension_a}"
    assert [(r["period"], r["group"][field], r["cost"]) for r in got["rows"]] == [
        ("2026-01", "Team_A", "860.01"),
        ("2026-01", "Team_B", "298.99"),
        ("2026-01", "Unallocated", "12.00"),
    ]


def test_another_tenants_dimension_is_not_found_over_http(base_url, world):
    url = f"{base_url}/v1/virtual-dimensions/{world.dimension_a}/allocation"
    over_rest = httpx.get(url, headers=world.headers(world.token_b))
    assert over_rest.status_code == 404
    arguments = {"dimension_id": world.dimension_a}
    result = over_http(base_url, world.token_b, lambda s: s.call_tool("list_dimension_values", arguments))
    assert error_text(result) == f"Error executing tool list_dimension_values: NOT_FOUND: {over_rest.json()['detail']}"


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer cst_not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["none", "wrong", "not-bearer"],
)
def test_a_request_without_a_valid_token_is_refused(base_url, world, authorization):
    headers = {**ACCEPT, **({"Authorization": authorization} if authorization else {})}
    response = httpx.post(f"{base_url}/mcp", json=INITIALIZE, headers=headers)
    assert (response.status_code, response.json(), response.headers["www-authenticate"]) == (
        401,
        {"detail": "invalid or missing API token"},
        "Bearer",
    )


def test_a_revoked_token_is_refused(base_url, world, services):
    headers = {**ACCEPT, "Authorization": f"Bearer {world.token_a}"}
    assert httpx.post(f"{base_url}/mcp", json=INITIALIZE, headers=headers).status_code == 200
    with services.sessions.begin() as session:
        revoke_token(session, "Tenant A")
    response = httpx.post(f"{base_url}/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"].startswith("this API token was revoked on ")
    assert world.token_a not in response.text


def test_mcp_is_not_an_api_route_in_the_openapi_document(base_url):
    assert "/mcp" not in httpx.get(f"{base_url}/openapi.json").json()["paths"]
