"""A hand-made world for the MCP tests: tenant A holds the guide's January bill ($1,171.00), the `team` dimension
computed over it, a team, a metrics datasource and an Anthropic billing datasource with a secret key; tenant B
holds a dimension of its own. The services and the REST app are the production ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from control_plane.billing import sources_service
from control_plane.billing.cur import normalize
from control_plane.billing.kinds import BY_KIND
from control_plane.dimensions import service as dimensions
from control_plane.models import MetricDefinition, MetricsDatasource, Tenant
from control_plane.rest.app import create_app
from control_plane.secrets import secret_box
from control_plane.services import Services, build_services
from control_plane.settings import Settings
from control_plane.teams import service as teams
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month

ANTHROPIC_KEY = "sk-ant-admin01-very-secret-key-for-the-mcp-test"

TEAM = {
    "name": "team",
    "rules": [
        {
            "name": "tagged",
            "conditions": [{"column": "tag:team", "operator": "EXISTS"}],
            "from_column": {"column": "tag:team"},
        },
        {
            "name": "gateway",
            "conditions": [{"column": "x_ProductCode", "operator": "EQUALS", "values": ["AmazonApiGateway"]}],
            "split_percent": {"Team_A": 75.0, "Team_B": 25.0},
        },
    ],
}


@dataclass(frozen=True)
class World:
    token_a: str
    token_b: str
    dimension_a: str
    dimension_b: str
    team_a: str

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token_a}"}


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        trust_validation="skip",
        data_dir=tmp_path / "data",
        token_cache_seconds=0,  # a revoked token is refused at once
    )


@pytest.fixture
def services(settings) -> Iterator[Services]:
    services = build_services(settings)
    yield services
    services.close()


@pytest.fixture
def world(services, settings) -> World:
    with services.sessions.begin() as session:
        tenant_a, token_a = create_tenant(session, "Tenant A")
        tenant_b, token_b = create_tenant(session, "Tenant B")
        ids = tenant_a.id, tenant_b.id
        session.add(
            MetricsDatasource(
                id="mds_usage", tenant_id=tenant_a.id, name="usage", bucket_name="b", prefix="", role_arn="arn:r"
            )
        )
        session.add(
            MetricDefinition(
                datasource_id="mds_usage",
                position=0,
                metric_name="api_calls",
                gap_filling="ZERO",
                aggregation="SUM",
                value_column="api_calls",
                date_column="date",
                dimensions=["team"],
            )
        )
        sources_service.create(
            session,
            tenant_a,
            BY_KIND["ANTHROPIC"],
            {"name": "claude", "admin_api_key": ANTHROPIC_KEY},
            secret_box(settings),
        )
        team_a = teams.create_team(session, tenant_a, {"name": "Platform", "description": "runs the gateway"}).id
    for tenant_id in ids:
        costs = normalize(
            guide_cur(), datasource_id=f"bds_guide_{tenant_id[-6:]}", billing_period="2026-01", partition_id=1
        )
        seed_month(services.sessions, settings.data_dir, tenant_id, f"bds_guide_{tenant_id[-6:]}", "2026-01", costs)
    dimension_ids = []
    for tenant_id in ids:
        with services.sessions.begin() as session:
            row, _ = dimensions.create_dimension(session, session.get(Tenant, tenant_id), TEAM, services.engine)
            dimension_ids.append(row.id)
    return World(token_a, token_b, dimension_ids[0], dimension_ids[1], team_a)


@pytest.fixture
def rest(services, world) -> Iterator[TestClient]:
    """The REST API over the same services, for the answers the tools must equal."""
    with TestClient(create_app(services)) as client:
        yield client


def answer(result: CallToolResult) -> Any:
    """A successful tool call's JSON answer (its structured content, which its text repeats)."""
    assert not result.isError, result.content
    assert isinstance(result.content[0], TextContent)
    assert json.loads(result.content[0].text) == result.structuredContent
    return result.structuredContent


def error_text(result: CallToolResult) -> str:
    assert result.isError
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent)
    return result.content[0].text


async def tool_annotations(session: ClientSession) -> dict[str, bool | None]:
    """Tool name -> its readOnlyHint."""
    listed = await session.list_tools()
    return {tool.name: tool.annotations.readOnlyHint if tool.annotations else None for tool in listed.tools}
