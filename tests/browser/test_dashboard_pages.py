"""Each dashboard page in a real chromium shows exactly what the JSON API answers for the same query, and the
figures worked by hand from the sample bill (devtools.demo.DASHBOARD_ROWS):

    day         provider   resource        model            tokens      cost   team (rule)
    2026-02-05  AWS        team-payments   -                     -     40.00   payments (per-key)
    2026-02-10  Anthropic  team-search     claude-sonnet-4  2000000     6.00   search   (per-key)
    2026-02-12  OpenAI     team-search     gpt-4.1          1000000     2.00   search   (per-key)
    2026-02-20  AWS        shared-bucket   -                     -     10.00   leftover (no rule)
    2026-03-02  AWS        team-payments   -                     -     50.00   payments
    2026-03-03  Anthropic  team-payments   claude-sonnet-4  1000000     3.00   payments
    2026-03-03  Anthropic  team-payments   claude-sonnet-4   200000     3.00   payments
    2026-03-05  Anthropic  team-search     claude-sonnet-4  3000000     9.00   search
    2026-03-06  OpenAI     team-search     gpt-4.1           500000     1.00   search
    2026-03-09  AWS        shared-bucket   -                     -     12.00   leftover
    2026-03-10  Anthropic  shared          claude-haiku         100     1.00   0.50 each (shared-evenly)

The last day with cost is 2026-03-10: month to date (03-01..03-10) is 79.00 against 46.00 on 02-01..02-10;
last month (February) 58.00; the last 30 days (02-09..03-10) 97.00 against 40.00 in the 30 days before.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.browser.conftest import loaded, publish_screenshot, screenshot, sign_in

pytestmark = pytest.mark.xdist_group("browser")  # one chromium and one served control plane per worker


def money(text: str | None) -> str:
    """As the page writes an API decimal string: digits grouped by thousands, the API's decimals kept but for
    zeros past the cents."""
    whole, dot, fraction = (text or "0.00").partition(".")
    if len(fraction) > 2:
        fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{Decimal(whole + dot + fraction):,}"


def percent(part: Decimal, whole: Decimal, places: str = "0.1") -> str:
    if whole == 0:
        return "—"
    return f"{(part * 100 / whole).quantize(Decimal(places), ROUND_HALF_UP)}%"


def cells(tab, testid: str) -> list[list[str]]:
    return tab.eval_on_selector_all(
        f"[data-testid={testid}] tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )


def card(tab, testid: str) -> str:
    return tab.text_content(f"[data-testid={testid}] .value") or ""


def query(served, tenant: str = "Acme", **cost_query) -> dict:
    """POST /v1/costs:query with the bearer token: every page of the answer, rows joined."""
    with served.api(tenant) as api:
        answer: dict = {}
        token = ""
        while True:
            response = api.post("/v1/costs:query", json={"query": cost_query, "page_size": 1000, "page_token": token})
            assert response.status_code == 200, response.text
            body = response.json()
            rows = answer.get("rows", []) + body.get("rows", [])
            answer = {**body, "rows": rows}
            token = body.get("next_page_token", "")
            if not token:
                return answer


class TestOverview:
    def test_month_to_date_last_month_and_movers_equal_the_api(self, page, served, artifacts):
        sign_in(page, served)
        mtd = query(served, preset="MONTH_TO_DATE", granularity="TOTAL", compare=True)
        last_month = query(served, preset="LAST_MONTH", granularity="TOTAL")
        movers = query(served, preset="LAST_30_DAYS", group_by=["Provider"], granularity="TOTAL", compare=True)

        assert (mtd["total_cost"], mtd["previous_total_cost"], last_month["total_cost"]) == ("79.00", "46.00", "58.00")
        assert (card(page, "mtd"), card(page, "mtd-previous"), card(page, "last-month")) == ("79.00", "46.00", "58.00")
        assert page.text_content("[data-testid=mtd-previous] .muted") == "change 71.7%"  # 33 / 46
        expected = []
        for row in movers["rows"]:
            cost, previous = Decimal(row["cost"]), Decimal(row.get("previous_cost") or "0.00")
            delta = cost - previous
            sign = "+" if delta > 0 else ""
            expected.append([row["group"]["Provider"], money(row["cost"]), money(str(previous)),
                             sign + money(str(delta)), percent(delta, previous)])  # fmt: skip
        expected.sort(key=lambda r: (-abs(Decimal(r[3].replace(",", ""))), r[0]))
        assert (
            cells(page, "movers")
            == expected
            == [
                ["AWS", "72.00", "40.00", "+32.00", "80.0%"],
                ["Anthropic", "22.00", "0.00", "+22.00", "—"],
                ["OpenAI", "3.00", "0.00", "+3.00", "—"],
            ]
        )
        publish_screenshot(screenshot(page, artifacts, "overview"))

    def test_the_chart_plots_the_apis_series(self, page, served):
        sign_in(page, served)
        series = query(served, preset="LAST_30_DAYS", group_by=["Provider"], granularity="DAY", top_n=8)
        plotted = page.evaluate(
            """() => {
              const chart = Chart.getChart(document.querySelector('[data-testid=spend-chart]'));
              return chart.data.datasets.flatMap(d => d.costs.map((c, i) => [chart.data.labels[i], d.label, c]));
            }"""
        )

        from_api = {(r["period"], r["group"]["Provider"]): r["cost"] for r in series["rows"]}
        assert {(p, g): c for p, g, c in plotted if c != "0.00"} == from_api
        assert sum(map(Decimal, from_api.values())) == Decimal(series["total_cost"]) == Decimal("97.00")
        assert page.text_content("[data-testid=series-heading]") == ("Spend over time, 2026-02-09 to 2026-03-10: 97.00")

    def test_splitting_by_the_team_dimension_reads_it_by_id(self, page, served):
        sign_in(page, served)
        page.select_option("select[name=group]", f"dimension:{served.team_id}")
        page.wait_for_url(f"**group=dimension%3A{served.team_id}**")
        loaded(page)
        field = f"dimension:{served.team_id}"
        movers = query(served, preset="LAST_30_DAYS", group_by=[field], granularity="TOTAL", compare=True)

        shown = {row[0]: row[1] for row in cells(page, "movers")}
        assert shown == {r["group"].get(field, "(none)"): money(r["cost"]) for r in movers["rows"]}
        # 02-09..03-10: payments 50 + 6 + 0.50; search 6 + 2 + 9 + 1 + 0.50; the shared bucket (10 + 12) is the
        # dimension's leftover value.
        assert {k: v for k, v in shown.items() if k in ("payments", "search")} == {
            "payments": "56.50",
            "search": "18.50",
        }


class TestAiSpend:
    def test_provider_model_team_with_tokens_and_cost_per_token(self, page, served, artifacts):
        sign_in(page, served)
        page.click("nav >> text=AI spend")
        page.wait_for_url(served.url + "/dashboard/ai")
        loaded(page)
        field = f"dimension:{served.team_id}"
        answer = query(
            served, preset="LAST_30_DAYS", group_by=["Provider", "x_Model", field], granularity="TOTAL",
            with_quantity=True,
        )  # fmt: skip

        ai_rows = [r for r in answer["rows"] if "x_Model" in r["group"]]
        expected = []
        for r in sorted(ai_rows, key=lambda r: (-Decimal(r["cost"]), " · ".join(r["group"].values()))):
            tokens = round(r.get("quantity", 0))
            per_million = (Decimal(r["cost"]) * 1_000_000 / tokens).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            expected.append([r["group"]["Provider"], r["group"]["x_Model"], r["group"][field], f"{tokens:,}",
                             money(r["cost"]), f"{per_million:,}"])  # fmt: skip
        assert (
            cells(page, "ai-table")
            == expected
            == [
                ["Anthropic", "claude-sonnet-4", "search", "5,000,000", "15.00", "3.0000"],
                ["Anthropic", "claude-sonnet-4", "payments", "1,200,000", "6.00", "5.0000"],
                ["OpenAI", "gpt-4.1", "search", "1,500,000", "3.00", "2.0000"],
                ["Anthropic", "claude-haiku", "payments", "50", "0.50", "10,000.0000"],
                ["Anthropic", "claude-haiku", "search", "50", "0.50", "10,000.0000"],
            ]
        )
        assert (card(page, "ai-total"), card(page, "ai-tokens")) == ("25.00", "7,700,100")
        screenshot(page, artifacts, "ai-spend")


class TestDimension:
    def test_values_rules_and_leftover_equal_the_allocation_state(self, page, served, artifacts):
        sign_in(page, served)
        page.goto(served.url + f"/dashboard/dimension?id={served.team_id}")
        loaded(page)
        with served.api() as api:
            state = api.get(f"/v1/virtual-dimensions/{served.team_id}/allocation").json()

        assert cells(page, "dimension-values") == [
            [v["value"], money(v["cost"]), f"{v.get('percent', '0.00')}%"] for v in state["values"]
        ]
        assert cells(page, "dimension-rules") == [
            [r.get("rule") or "(no rule matched)", money(r["cost"]), str(r.get("cost_rows", 0))] for r in state["rules"]
        ]
        assert (card(page, "dimension-total"), card(page, "dimension-leftover")) == (
            money(state["total_cost"]),
            money(state["leftover_cost"]),
        )
        # By hand: payments 40 + 50 + 3 + 3 + 0.50, search 6 + 2 + 9 + 1 + 0.50, the shared bucket 10 + 12 left over.
        assert state["total_cost"] == "137.00"
        shown = {v["value"]: v["cost"] for v in state["values"]} | {"(leftover)": state["leftover_cost"]}
        assert {"payments": "96.50", "search": "18.50", "(leftover)": "22.00"}.items() <= shown.items()
        assert {r.get("rule", ""): (r["cost"], int(r.get("cost_rows", 0))) for r in state["rules"]} == {
            "per-key": ("114.00", 8),
            "shared-evenly": ("1.00", 1),
            "": ("22.00", 2),
        }
        assert page.text_content("[data-testid=dimension-unallocated]").startswith(
            "22.00 on 2 cost rows matched no rule and went to the leftover value"
        )
        screenshot(page, artifacts, "dimension")


class TestDataHealth:
    def test_datasources_and_billing_months_equal_the_api(self, page, served, artifacts):
        sign_in(page, served)
        page.goto(served.url + "/dashboard/health")
        loaded(page)
        with served.api() as api:
            datasources = api.get("/v1/billing-datasources").json()["billing_datasources"]
            periods = api.get("/v1/billing-datasources/bds_dashboard/billing-periods").json()["billing_periods"]

        assert [row[:2] for row in cells(page, "billing-datasources")] == [
            [d["name"], d.get("status", "PENDING")] for d in datasources
        ]
        assert (
            [row[:3] for row in cells(page, "periods-bds_dashboard")]
            == [[p["billing_period"], str(p["rows"]), money(p["billed_cost"])] for p in periods]
            == [["2026-03", "7", "79.00"], ["2026-02", "4", "58.00"]]
        )
        assert cells(page, "metrics-datasources") == [["Nothing to show."]]
        screenshot(page, artifacts, "data-health")


class TestSavedDashboards:
    def test_a_saved_dashboards_widgets_equal_its_data(self, page, served, artifacts):
        widgets = [
            {"title": "Spend by provider", "kind": "TABLE",
             "query": {"preset": "LAST_MONTH", "group_by": ["Provider"], "granularity": "TOTAL"}},
            {"title": "Month to date", "kind": "NUMBER", "query": {"preset": "MONTH_TO_DATE", "granularity": "TOTAL"}},
        ]  # fmt: skip
        with served.api() as api:
            created = api.post("/v1/dashboards", json={"name": "Finance", "widgets": widgets})
            assert created.status_code == 201, created.text
            dashboard_id = created.json()["id"]
            data = api.get(f"/v1/dashboards/{dashboard_id}/data").json()
        sign_in(page, served)
        page.goto(served.url + f"/dashboard/saved?id={dashboard_id}")
        loaded(page)

        table = data["widgets"][0]["result"]
        assert cells(page, "widget-0") == [
            [r["period"], r["group"]["Provider"], money(r["cost"])] for r in table["rows"]
        ]
        assert cells(page, "widget-0") == [
            ["2026-02-01/2026-02-28", "AWS", "50.00"],
            ["2026-02-01/2026-02-28", "Anthropic", "6.00"],
            ["2026-02-01/2026-02-28", "OpenAI", "2.00"],
        ]
        assert card(page, "widget-1") == money(data["widgets"][1]["result"]["total_cost"]) == "79.00"
        screenshot(page, artifacts, "saved-dashboard")


class TestBudgets:
    def test_burn_and_forecast_equal_the_budget_status(self, page, served, artifacts):
        with served.api("Budgeted") as api:
            created = api.post(
                "/v1/budgets",
                json={"name": "AI", "amount": "100.00", "period": "MONTH",
                      "filters": [{"field": "Provider", "operator": "IN", "values": ["Anthropic", "OpenAI"]}]},
            )  # fmt: skip
            assert created.status_code == 201, created.text
            budget_id = created.json()["id"]
            status = api.get(f"/v1/budgets/{budget_id}/status").json()
        sign_in(page, served, "Budgeted")
        page.goto(served.url + "/dashboard/budgets")
        loaded(page)

        row = cells(page, "budgets")[0]
        period = f"{status['period_start']} to {status['period_end']}"
        assert row[:5] == [
            "AI",
            period,
            "100.00",
            money(status["actual"]),
            percent(Decimal(status["actual"]), Decimal(100)),
        ]
        assert row[3:5] == ["12.00", "12.0%"]  # the month's AI cost so far: 7.00 + 5.00 (EC2 is outside the scope)
        assert row[5:7] == [money(status["forecast"]), percent(Decimal(status["forecast"]), Decimal(100))]
        plotted = page.evaluate(
            "() => Chart.getChart(document.querySelector('[data-testid=budget-chart]')).data.datasets"
            ".map(d => [d.label, d.costs[0]])"
        )
        assert plotted == [["Actual", status["actual"]], ["Forecast", status["forecast"]], ["Budget", "100.00"]]
        screenshot(page, artifacts, "budgets")
