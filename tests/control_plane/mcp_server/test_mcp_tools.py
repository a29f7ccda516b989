"""The MCP tools driven by the SDK's own client over its in-memory transport: the tools listed with their
read-only annotations and input schemas, answers equal to REST's for the same request, another tenant's ids not
found as over REST, bad input and failures as tool errors (never a traceback), secrets never shown."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session

from control_plane.mcp.server import build_server
from control_plane.teams import service as teams
from control_plane.tenants.service import revoke_token
from tests.control_plane.mcp_server.conftest import ANTHROPIC_KEY, answer, error_text, tool_annotations

READ_ONLY_TOOLS = {
    "list_dimensions",
    "search_dimensions",
    "list_dimension_values",
    "explain_allocation",
    "list_datasources",
    "list_teams",
    "preview_split",
    "query_costs",
    "budget_status",
    "preview_alert",
}
WRITING_TOOLS = {"create_alert", "create_or_update_dashboard"}


def run(services, token: str, body: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    """``body`` with a client session connected in memory to the server acting as ``token``'s tenant."""

    async def main() -> Any:
        async with create_connected_server_and_client_session(build_server(services, token=token)) as session:
            return await body(session)

    return anyio.run(main)


def call(services, token: str, tool: str, arguments: dict[str, Any] | None = None):
    return run(services, token, lambda session: session.call_tool(tool, arguments or {}))


def test_the_tools_are_listed_with_their_read_only_annotations(services, world):
    assert run(services, world.token_a, tool_annotations) == {
        **{name: True for name in READ_ONLY_TOOLS},
        **{name: False for name in WRITING_TOOLS},
    }


def test_input_schemas_carry_descriptions_enums_and_required_fields(services, world):
    tools = run(services, world.token_a, lambda session: session.list_tools()).tools
    preview = next(tool for tool in tools if tool.name == "preview_split").inputSchema
    assert preview["required"] == ["start_date", "end_date", "metric"]
    condition = preview["$defs"]["RuleCondition"]
    assert condition["required"] == ["column", "operator"]
    assert condition["properties"]["operator"]["enum"] == [
        "EQUALS",
        "NOT_EQUALS",
        "IN",
        "NOT_IN",
        "MATCHES",
        "NOT_MATCHES",
        "EXISTS",
        "NOT_EXISTS",
    ]
    assert condition["properties"]["column"]["description"].startswith("A normalized cost column")
    assert preview["$defs"]["MetricSplit"]["required"] == ["metrics_datasource_id", "metric_name", "dimension"]
    explain = next(tool for tool in tools if tool.name == "explain_allocation").inputSchema
    assert explain["required"] == ["dimension_id", "value"]
    assert explain["properties"]["dimension_id"]["description"].startswith("The virtual dimension's id")


class TestAnswersEqualREST:
    def test_list_dimensions(self, services, world, rest):
        expected = rest.get("/v1/virtual-dimensions", headers=world.headers()).json()
        got = answer(call(services, world.token_a, "list_dimensions"))
        assert got == expected
        assert [d["id"] for d in got["virtual_dimensions"]] == [world.dimension_a]

    def test_list_dimension_values_is_the_allocation_state(self, services, world, rest):
        expected = rest.get(f"/v1/virtual-dimensions/{world.dimension_a}/allocation", headers=world.headers()).json()
        got = answer(call(services, world.token_a, "list_dimension_values", {"dimension_id": world.dimension_a}))
        assert got == expected
        assert [(v["value"], v["cost"], v["percent"]) for v in got["values"]] == [
            ("Team_A", "860.01", "73.44"),
            ("Team_B", "298.99", "25.53"),
            ("Unallocated", "12.00", "1.02"),
        ]

    def test_list_teams(self, services, world, rest):
        expected = rest.get("/v1/teams", headers=world.headers()).json()
        got = answer(call(services, world.token_a, "list_teams"))
        assert got == expected
        assert [(t["id"], t["name"]) for t in got["teams"]] == [(world.team_a, "Platform")]

    def test_preview_split(self, services, world, rest):
        body = {
            "start_date": "2026-01-01",
            "end_date": "2026-01-31",
            "metric": {"metrics_datasource_id": "mds_usage", "metric_name": "api_calls", "dimension": "team"},
            "cost_filter": [{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
        }
        expected = rest.post("/v1/costs:preview-split", json=body, headers=world.headers()).json()
        got = answer(call(services, world.token_a, "preview_split", body))
        assert got == expected
        assert got == {"total_cost": "1000.00"}  # no usage recorded: nothing to split $1,000.00 by


def test_search_dimensions_by_part_of_the_name_in_any_case(services, world):
    found = answer(call(services, world.token_a, "search_dimensions", {"name": "TEA"}))
    assert [d["id"] for d in found["virtual_dimensions"]] == [world.dimension_a]
    assert answer(call(services, world.token_a, "search_dimensions", {"name": "model"})) == {}


def test_explain_allocation_names_rules_sources_and_the_leftover(services, world):
    explained = answer(
        call(services, world.token_a, "explain_allocation", {"dimension_id": world.dimension_a, "value": "Team_A"})
    )
    # Team_A: 75% of the gateway's $1,000.00 and its $80.00 tax line (195.735 + 230.88 + 215.295 + 108.09 + 60,
    # each half cent going to Team_A) = $810.01, and its tagged EC2 instance, 4 x $12.50 = $50.00.
    assert {k: explained[k] for k in ("value", "cost", "percent", "total_cost", "start_date", "end_date")} == {
        "value": "Team_A",
        "cost": "860.01",
        "percent": "73.44",
        "total_cost": "1171.00",
        "start_date": "2026-01-01",
        "end_date": "2026-01-04",
    }
    assert [(r["rule"], r["cost"], r["definition"]["name"]) for r in explained["rules"]] == [
        ("gateway", "810.01", "gateway"),
        ("tagged", "50.00", "tagged"),
    ]
    assert explained["rules"][0]["definition"]["split_percent"] == {"Team_A": 75.0, "Team_B": 25.0}
    assert explained["sources"]["ServiceName"] == [
        {"value": "Amazon API Gateway", "cost": "750.01"},
        {"value": "AmazonApiGateway", "cost": "60.00"},  # the tax line: no product name, its code
        {"value": "Amazon Elastic Compute Cloud", "cost": "50.00"},
    ]
    assert explained["leftover"] == {"value": "Unallocated", "cost": "12.00", "percent": "1.02"}


def test_explain_the_leftover_says_no_rule_matched(services, world):
    explained = answer(
        call(services, world.token_a, "explain_allocation", {"dimension_id": world.dimension_a, "value": "Unallocated"})
    )
    assert explained["rules"] == [{"rule": "(no rule matched)", "cost": "12.00"}]
    assert explained["sources"]["ServiceName"] == [{"value": "Amazon Simple Storage Service", "cost": "12.00"}]


def test_list_datasources_with_status_and_never_a_secret(services, world):
    listed = answer(call(services, world.token_a, "list_datasources"))
    assert [(d["id"], d["status"]) for d in listed["metrics_datasources"]] == [("mds_usage", "PENDING")]
    assert sorted((d["kind"], d["name"], d["status"]) for d in listed["billing_datasources"]) == [
        ("ANTHROPIC", "claude", "PENDING"),
        ("AWS", listed["billing_datasources"][0]["name"], "SUCCEEDED"),
    ]
    assert ANTHROPIC_KEY not in str(listed)
    assert "admin_api_key" not in str(listed)


class TestErrors:
    def test_another_tenants_dimension_is_not_found_as_over_rest(self, services, world, rest):
        over_rest = rest.get(f"/v1/virtual-dimensions/{world.dimension_b}/allocation", headers=world.headers())
        assert over_rest.status_code == 404
        for tool, arguments in (
            ("list_dimension_values", {"dimension_id": world.dimension_b}),
            ("explain_allocation", {"dimension_id": world.dimension_b, "value": "Team_A"}),
        ):
            expected = f"Error executing tool {tool}: NOT_FOUND: {over_rest.json()['detail']}"
            assert error_text(call(services, world.token_a, tool, arguments)) == expected

    def test_a_bad_day_is_a_tool_error_naming_the_field(self, services, world):
        result = call(
            services,
            world.token_a,
            "preview_split",
            {
                "start_date": "2026-13-01",
                "end_date": "2026-01-31",
                "metric": {"metrics_datasource_id": "mds_usage", "metric_name": "api_calls", "dimension": "team"},
            },
        )
        assert error_text(result) == (
            "Error executing tool preview_split: INVALID_ARGUMENT: "
            "start_date: `start_date` is `2026-13-01`; use a UTC day as YYYY-MM-DD."
        )

    def test_an_operator_outside_the_enum_is_refused_naming_it(self, services, world):
        result = call(
            services,
            world.token_a,
            "preview_split",
            {
                "start_date": "2026-01-01",
                "end_date": "2026-01-31",
                "metric": {"metrics_datasource_id": "mds_usage", "metric_name": "api_calls", "dimension": "team"},
                "cost_filter": [{"column": "ServiceName", "operator": "LIKE", "values": ["x"]}],
            },
        )
        text = error_text(result)
        assert "cost_filter.0.operator" in text and "Traceback" not in text

    def test_an_unknown_value_names_the_field_and_the_values(self, services, world):
        result = call(
            services, world.token_a, "explain_allocation", {"dimension_id": world.dimension_a, "value": "Team_C"}
        )
        assert error_text(result) == (
            "Error executing tool explain_allocation: INVALID_ARGUMENT: "
            "value: `value` is `Team_C`: virtual dimension 'team' gave it no cost; its values are "
            "Team_A, Team_B, Unallocated (list_dimension_values lists them)."
        )

    def test_an_unexpected_failure_shows_no_detail(self, services, world, monkeypatch, caplog):
        def broken(*_args, **_kwargs):
            raise RuntimeError("/internal/path/secret-detail")

        monkeypatch.setattr(teams, "list_teams", broken)
        assert (
            error_text(call(services, world.token_a, "list_teams"))
            == "Error executing tool list_teams: INTERNAL: internal error"
        )
        assert "/internal/path/secret-detail" in caplog.text  # for the operator, in the log

    def test_a_revoked_token_is_refused(self, services, world):
        with services.sessions.begin() as session:
            revoke_token(session, "Tenant A")
        text = error_text(call(services, world.token_a, "list_teams"))
        assert text.startswith("Error executing tool list_teams: UNAUTHENTICATED: this API token was revoked on ")
        assert text.endswith(
            "UTC; ask the control plane's operator for a new one (`costory-control-plane tenants rotate-token`)"
        )


@pytest.mark.parametrize("token", ["", "cst_not-a-token"], ids=["none", "wrong"])
def test_without_a_valid_token_every_tool_is_refused(services, world, token):
    assert error_text(call(services, token, "list_dimensions")) == (
        "Error executing tool list_dimensions: UNAUTHENTICATED: invalid or missing API token"
    )


def test_the_docs_list_every_tool_with_its_kind():
    text = (Path(__file__).resolve().parents[3] / "docs" / "mcp.md").read_text()
    documented = dict(re.findall(r"^\| `(\w+)` \| (read-only|writes) \|", text, flags=re.MULTILINE))
    assert documented == {
        **{name: "read-only" for name in READ_ONLY_TOOLS},
        **{name: "writes" for name in WRITING_TOOLS},
    }
