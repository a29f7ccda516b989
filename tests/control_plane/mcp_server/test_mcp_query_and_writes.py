"""query_costs, budget_status, preview_alert, create_alert and create_or_update_dashboard through the SDK's
in-memory client: each answer equals the REST API's for the same request on the hand-made tenant, other tenants'
ids are not found, bad fields come back as tool errors naming them, a webhook URL is never shown."""

from __future__ import annotations

import pytest

from tests.control_plane.mcp_server.conftest import answer, error_text
from tests.control_plane.mcp_server.test_mcp_tools import call

JANUARY = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
WEBHOOK = "https://hooks.slack.com/services/T000/B000/very-secret-webhook-path"


class TestQueryCosts:
    def test_by_dimension_equals_rest(self, services, world, rest):
        query = {**JANUARY, "group_by": [f"dimension:{world.dimension_a}"], "granularity": "TOTAL"}
        expected = rest.post("/v1/costs:query", json={"query": query}, headers=world.headers()).json()
        got = answer(call(services, world.token_a, "query_costs", {"query": query}))
        assert got == expected
        field = f"dimension:{world.dimension_a}"
        assert [(r["group"][field], r["cost"]) for r in got["rows"]] == [
            ("Team_A", "860.01"),
            ("Team_B", "298.99"),
            ("Unallocated", "12.00"),
        ]
        assert got["total_cost"] == "1171.00"

    def test_by_service_and_day_with_a_filter_equals_rest(self, services, world, rest):
        query = {
            **JANUARY,
            "group_by": ["ServiceName"],
            "filters": [{"field": "ServiceName", "operator": "PREFIX", "values": ["Amazon S"]}],
        }
        expected = rest.post("/v1/costs:query", json={"query": query}, headers=world.headers()).json()
        got = answer(call(services, world.token_a, "query_costs", {"query": query}))
        assert got == expected
        # S3 costs $3.00 on each of the four days.
        assert [(r["period"], r["cost"]) for r in got["rows"]] == [(f"2026-01-0{d}", "3.00") for d in (1, 2, 3, 4)]
        assert got["total_cost"] == "12.00"

    def test_another_tenants_dimension_finds_nothing_as_over_rest(self, services, world, rest):
        query = {**JANUARY, "group_by": [f"dimension:{world.dimension_b}"]}
        over_rest = rest.post("/v1/costs:query", json={"query": query}, headers=world.headers())
        assert (over_rest.status_code, over_rest.json()) == (
            404,
            {"detail": f"virtual dimension {world.dimension_b!r} not found"},
        )
        text = error_text(call(services, world.token_a, "query_costs", {"query": query}))
        assert text == f"Error executing tool query_costs: NOT_FOUND: virtual dimension {world.dimension_b!r} not found"

    def test_a_bad_field_is_a_tool_error_naming_it(self, services, world):
        query = {**JANUARY, "group_by": ["NoSuchColumn"]}
        text = error_text(call(services, world.token_a, "query_costs", {"query": query}))
        assert text.startswith("Error executing tool query_costs: INVALID_ARGUMENT: query.group_by[0]: ")
        assert "NoSuchColumn" in text

    def test_a_granularity_outside_the_enum_is_refused_naming_it(self, services, world):
        text = error_text(call(services, world.token_a, "query_costs", {"query": {**JANUARY, "granularity": "HOUR"}}))
        assert "query.granularity" in text and "'DAY', 'WEEK', 'MONTH' or 'TOTAL'" in text


class TestAlerts:
    ALERT = {"name": "daily spend", "condition": "ABOVE_AMOUNT", "amount": "250"}

    def test_preview_equals_rest_on_the_guide_days(self, services, world, rest):
        body = {"alert": self.ALERT, "days": 90}
        expected = rest.post("/v1/alerts:preview", json=body, headers=world.headers()).json()
        got = answer(call(services, world.token_a, "preview_alert", body))
        assert got == expected
        # Daily cost: gateway + EC2 ($19.75) + S3 ($3.00), and the $80.00 tax on the 4th:
        # 283.73, 330.59, 309.81, 246.87 -> above $250 on the first three days.
        assert [(f["day"], f["cost"]) for f in got["firings"]] == [
            ("2026-01-01", "283.73"),
            ("2026-01-02", "330.59"),
            ("2026-01-03", "309.81"),
        ]

    def test_create_keeps_the_webhook_secret_and_equals_rest(self, services, world, rest, caplog):
        with caplog.at_level("DEBUG"):
            created = answer(
                call(services, world.token_a, "create_alert", {"alert": {**self.ALERT, "slack_webhook_url": WEBHOOK}})
            )
        assert "very-secret" not in caplog.text and world.token_a not in caplog.text
        assert created == rest.get(f"/v1/alerts/{created['id']}", headers=world.headers()).json()
        assert (created["name"], created["amount"]) == ("daily spend", "250")
        assert WEBHOOK not in str(created) and "very-secret" not in str(created)

    def test_a_bad_amount_is_a_tool_error_naming_it(self, services, world):
        result = call(services, world.token_a, "create_alert", {"alert": {**self.ALERT, "amount": "-5"}})
        assert "INVALID_ARGUMENT: amount: " in error_text(result)

    def test_a_bad_webhook_is_refused_without_echoing_it(self, services, world):
        bad = "ftp://hooks.example/very-secret-webhook-path"
        result = call(services, world.token_a, "create_alert", {"alert": {**self.ALERT, "slack_webhook_url": bad}})
        text = error_text(result)
        assert "slack_webhook_url" in text and "very-secret" not in text


class TestBudgetStatus:
    @pytest.fixture
    def budget_id(self, world, rest) -> str:
        body = {"name": "AWS", "amount": "2000", "period": "MONTH"}
        response = rest.post("/v1/budgets", json=body, headers=world.headers())
        assert response.status_code == 201, response.json()
        return response.json()["id"]

    def test_equals_rest(self, services, world, rest, budget_id):
        expected = rest.get(f"/v1/budgets/{budget_id}/status?date=2026-01-04", headers=world.headers()).json()
        got = answer(call(services, world.token_a, "budget_status", {"budget_id": budget_id, "date": "2026-01-04"}))
        assert got == expected
        assert (got["amount"], got["actual"], got["period_start"], got["period_end"]) == (
            "2000",
            "1171.00",
            "2026-01-01",
            "2026-01-31",
        )

    def test_another_tenants_budget_is_not_found(self, services, world, budget_id):
        text = error_text(call(services, world.token_b, "budget_status", {"budget_id": budget_id}))
        assert text.startswith("Error executing tool budget_status: NOT_FOUND: ")


class TestDashboards:
    def widget(self, world, title: str = "Spend by team") -> dict:
        query = {"preset": "LAST_30_DAYS", "group_by": [f"dimension:{world.dimension_a}"], "granularity": "DAY"}
        return {"title": title, "kind": "STACKED_BAR", "query": query}

    def test_create_then_replace_equals_rest(self, services, world, rest):
        dashboard = {"name": "AI spend", "widgets": [self.widget(world)]}
        created = answer(call(services, world.token_a, "create_or_update_dashboard", {"dashboard": dashboard}))
        assert created == rest.get(f"/v1/dashboards/{created['id']}", headers=world.headers()).json()
        assert [w["title"] for w in created["widgets"]] == ["Spend by team"]

        renamed = {"name": "AI spend by team", "widgets": [self.widget(world, "By team"), self.widget(world, "Again")]}
        arguments = {"dashboard": renamed, "dashboard_id": created["id"]}
        updated = answer(call(services, world.token_a, "create_or_update_dashboard", arguments))
        assert updated == rest.get(f"/v1/dashboards/{created['id']}", headers=world.headers()).json()
        assert (updated["id"], updated["name"], [w["title"] for w in updated["widgets"]]) == (
            created["id"],
            "AI spend by team",
            ["By team", "Again"],
        )

    def test_another_tenants_dimension_in_a_widget_is_refused_naming_it(self, services, world):
        widget = {
            **self.widget(world),
            "query": {"preset": "LAST_30_DAYS", "group_by": [f"dimension:{world.dimension_b}"]},
        }
        arguments = {"dashboard": {"name": "theirs", "widgets": [widget]}}
        text = error_text(call(services, world.token_a, "create_or_update_dashboard", arguments))
        assert "INVALID_ARGUMENT: widgets[0].query.group_by[0]: " in text

    def test_another_tenants_dashboard_is_not_found(self, services, world):
        dashboard = {"name": "B's", "widgets": [self.widget(world)]}
        created = answer(call(services, world.token_a, "create_or_update_dashboard", {"dashboard": dashboard}))
        arguments = {"dashboard": dashboard, "dashboard_id": created["id"]}
        text = error_text(call(services, world.token_b, "create_or_update_dashboard", arguments))
        assert (
            text == f"Error executing tool create_or_update_dashboard: NOT_FOUND: dashboard {created['id']!r} not found"
        )
