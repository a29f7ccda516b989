"""A dashboard's data on the query model's hand-made tenant (tests/control_plane/cost/query_tenant.py): every
widget answered with exactly what the cost query API answers for the same query, over gRPC and REST, with one
widget's numbers worked out by hand; a widget whose dimension was deleted since carries the cost API's error
while the others are still answered."""

from __future__ import annotations

from fastapi.testclient import TestClient

from control_plane.messages import to_json
from control_plane.rest.app import create_app
from control_plane.services import build_services
from costory_proto.costory.v1 import cost_pb2
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_proto.costory.v1 import virtual_dimension_pb2 as vd
from tests.control_plane.cost.query_tenant import seed
from tests.control_plane.dashboards.conftest import filter_, widget
from tests.control_plane.dashboards.test_dashboards_grpc import create, stub


def test_every_widget_is_answered_as_the_cost_query_api_answers_it(sessions, settings, tenant_a):
    made = seed(sessions, settings.data_dir, tenant_a.tenant_id, tenant_a.token)
    team, env = f"dimension:{made.team}", f"dimension:{made.env}"
    widgets = [
        widget(
            "By team and model",
            "STACKED_BAR",
            group_by=[team, "x_Model"],
            granularity="MONTH",
            start_date="2026-01-01",
            end_date="2026-03-31",
        ),
        widget("By environment", "PIE", group_by=[env], granularity="TOTAL", preset="QUARTER_TO_DATE", compare=True),
        widget(
            "Anthropic, top 2 teams",
            "TABLE",
            group_by=[team],
            filters=[filter_("Provider", "IN", "Anthropic")],
            preset="LAST_90_DAYS",
            top_n=2,
            with_quantity=True,
        ),
        widget(
            "Effective cost of prod",
            "NUMBER",
            filters=[filter_(env, "EQUALS", "prod")],
            metric="EFFECTIVE",
            granularity="TOTAL",
            preset="YEAR_TO_DATE",
        ),
    ]
    dashboard = create(tenant_a, widgets=widgets)

    data = stub(tenant_a).GetDashboardData(pb.GetDashboardDataRequest(id=dashboard.id))
    assert data.dashboard_id == dashboard.id
    assert [(w.title, w.kind, w.query, w.error) for w in data.widgets] == [
        (w.title, w.kind, w.query, "") for w in widgets
    ]
    for item in data.widgets:
        asked = tenant_a.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=item.query, page_size=1000))
        assert item.result == asked

    # By environment over 1 January - 20 March (the last day with data): prod = rows 1, 4, 5, 8, 11 (73.00) and
    # dev = rows 2, 7, 9 (8.00), each with half of the shared rows 3, 6, 10 (8.02 / 2 = 4.01).
    by_env = data.widgets[1].result
    assert sorted((r.group[env], r.cost, r.previous_cost) for r in by_env.rows) == [
        ("dev", "12.01", "0.00"),
        ("prod", "77.01", "0.00"),
    ]
    assert (by_env.total_cost, by_env.start_date, by_env.end_date, by_env.previous_total_cost) == (
        "89.02",
        "2026-01-01",
        "2026-03-20",
        "0.00",
    )
    # Effective cost of prod this year: 8 + 16 + 6 + 24 + 4 = 58.00, plus half of the shared rows' effective
    # cost (5 + 2 + 0.02) / 2 = 3.51.
    assert [(r.cost) for r in data.widgets[3].result.rows] == ["61.51"]

    services = build_services(settings)
    try:
        with TestClient(create_app(services)) as rest:
            response = rest.get(
                f"/v1/dashboards/{dashboard.id}/data", headers={"Authorization": f"Bearer {tenant_a.token}"}
            )
    finally:
        services.close()
    assert (response.status_code, response.json()) == (200, to_json(data))


def test_a_widget_whose_dimension_was_deleted_carries_the_error(sessions, settings, tenant_a):
    made = seed(sessions, settings.data_dir, tenant_a.tenant_id, tenant_a.token)
    widgets = [
        widget("By env", "PIE", group_by=[f"dimension:{made.env}"], granularity="TOTAL", preset="LAST_90_DAYS"),
        widget("Total", "NUMBER", granularity="TOTAL", preset="LAST_90_DAYS"),
    ]
    dashboard = create(tenant_a, widgets=widgets)
    tenant_a.dimensions.DeleteVirtualDimension(vd.DeleteVirtualDimensionRequest(id=made.env))

    data = stub(tenant_a).GetDashboardData(pb.GetDashboardDataRequest(id=dashboard.id))
    assert (data.widgets[0].error, data.widgets[0].HasField("result")) == (
        f"virtual dimension '{made.env}' not found",
        False,
    )
    # 89.02 over every row: the trailing 90 days from 20 March start on 21 December.
    total = data.widgets[1]
    assert (total.error, [r.cost for r in total.result.rows], total.result.total_cost) == ("", ["89.02"], "89.02")
