"""DashboardService over gRPC on 127.0.0.1: the lifecycle with exact answers, widgets' queries checked with the
attribute path named (`widgets[1].query.filters[0].field`), the update mask, pagination and tenant isolation
(another tenant's dashboard, or dimension, is not found)."""

from __future__ import annotations

from datetime import datetime

import grpc
import pytest
from google.protobuf import field_mask_pb2

from control_plane.billing.schema import RULE_COLUMNS
from control_plane.errors import MAX_DETAIL_BYTES, cap
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_proto.costory.v1 import dashboard_pb2_grpc, query_pb2
from tests.control_plane.dashboards.conftest import filter_, widget
from tests.control_plane.metrics.test_metrics_grpc import field_violations


def stub(client) -> dashboard_pb2_grpc.DashboardServiceStub:
    return dashboard_pb2_grpc.DashboardServiceStub(client.channel)


def create(client, **fields) -> pb.Dashboard:
    return stub(client).CreateDashboard(
        pb.CreateDashboardRequest(dashboard=pb.Dashboard(**{"name": "AI spend", **fields}))
    )


def update(client, dashboard: pb.Dashboard, *paths: str) -> pb.Dashboard:
    return stub(client).UpdateDashboard(
        pb.UpdateDashboardRequest(dashboard=dashboard, update_mask=field_mask_pb2.FieldMask(paths=paths))
    )


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def two_widgets(team_id: str) -> list[pb.Widget]:
    return [
        widget(
            "AI spend by team and model",
            "STACKED_BAR",
            group_by=[f"dimension:{team_id}", "x_Model"],
            filters=[filter_("ServiceCategory", "EQUALS", "AI and Machine Learning")],
            granularity="WEEK",
            top_n=5,
            with_quantity=True,
        ),
        widget("Month to date", "NUMBER", preset="MONTH_TO_DATE", compare=True, metric="EFFECTIVE"),
    ]


class TestCreateDashboard:
    def test_widgets_are_kept_in_order_exactly_as_written(self, tenant_a, add_dimension):
        team_id = add_dimension(tenant_a.tenant_id, "team")
        created = create(tenant_a, description="Who spends on which model", widgets=two_widgets(team_id))
        assert created.id.startswith("dash_") and len(created.id) == len("dash_") + 32
        assert created.created_at == created.updated_at and created.created_at.endswith("Z")
        assert created == pb.Dashboard(
            id=created.id,
            name="AI spend",
            description="Who spends on which model",
            widgets=two_widgets(team_id),
            created_at=created.created_at,
            updated_at=created.updated_at,
        )
        assert not created.widgets[1].query.granularity  # unset stays unset: Terraform reads back what it wrote
        assert stub(tenant_a).GetDashboard(pb.GetDashboardRequest(id=created.id)) == created

    def test_description_and_widgets_may_be_left_out(self, tenant_a):
        created = create(tenant_a)
        assert (created.name, created.description, list(created.widgets)) == ("AI spend", "", [])
        assert created.HasField("description")

    @pytest.mark.parametrize(
        ("widgets", "violations"),
        [
            pytest.param(
                [widget(), widget(group_by=["Team"])],
                [
                    (
                        "widgets[1].query.group_by[0]",
                        cap(
                            "`Team` is not a field; use `dimension:<id>`, `tag:<key>` or one of "
                            + ", ".join(RULE_COLUMNS)
                            + ".",
                            MAX_DETAIL_BYTES,
                        ),
                    )
                ],
                id="unknown-field",
            ),
            pytest.param(
                [widget(), widget(), widget(filters=[filter_("Provider", "LIKE", "A")])],
                [
                    (
                        "widgets[2].query.filters[0].operator",
                        "`operator` is `LIKE`; it must be one of `IN`, `NOT_IN`, `EQUALS`, `PREFIX` (case-sensitive).",
                    )
                ],
                id="bad-operator",
            ),
            pytest.param(
                [widget(filters=[filter_("dimension:dim_nope", "IN", "a")])],
                [
                    (
                        "widgets[0].query.filters[0].field",
                        "`dimension:dim_nope` names no virtual dimension of this tenant; use `dimension:<id>` with "
                        "the id of one (the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions).",
                    )
                ],
                id="unknown-dimension",
            ),
            pytest.param(
                [widget(title="", kind="AREA")],
                [
                    ("widgets[0].title", "`title` must not be empty."),
                    (
                        "widgets[0].kind",
                        "`kind` is `AREA`; it must be one of `LINE`, `STACKED_BAR`, `PIE`, `TABLE`, `NUMBER` "
                        "(case-sensitive).",
                    ),
                ],
                id="title-and-kind",
            ),
            pytest.param(
                [pb.Widget(title="No query", kind="TABLE")],
                [("widgets[0].query", "`query` must be set.")],
                id="no-query",
            ),
            pytest.param(
                [widget(title="x" * 201)],
                [("widgets[0].title", "`title` has 201 characters; at most 200 are accepted.")],
                id="title-too-long",
            ),
        ],
    )
    def test_a_bad_widget_is_refused_naming_its_attribute(self, tenant_a, widgets, violations):
        error = refused(lambda: create(tenant_a, widgets=widgets))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(error) == violations
        assert stub(tenant_a).ListDashboards(pb.ListDashboardsRequest()) == pb.ListDashboardsResponse()

    def test_another_tenants_dimension_is_unknown(self, tenant_a, tenant_b, add_dimension):
        theirs = add_dimension(tenant_b.tenant_id, "team")
        ours = add_dimension(tenant_a.tenant_id, "team")
        error = refused(
            lambda: create(tenant_a, widgets=[widget(group_by=[f"dimension:{ours}", f"dimension:{theirs}"])])
        )
        assert field_violations(error) == [
            (
                "widgets[0].query.group_by[1]",
                f"`dimension:{theirs}` names no virtual dimension of this tenant; use `dimension:<id>` with the id of "
                "one (the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions).",
            )
        ]


class TestUpdateDashboard:
    def test_the_mask_replaces_only_the_named_fields(self, tenant_a, add_dimension):
        team_id = add_dimension(tenant_a.tenant_id, "team")
        dashboard = create(tenant_a, description="old", widgets=two_widgets(team_id))
        new_widgets = [widget("Total", "NUMBER", granularity="TOTAL")]
        updated = update(tenant_a, pb.Dashboard(id=dashboard.id, name="ignored", widgets=new_widgets), "widgets")
        assert (updated.name, updated.description, list(updated.widgets)) == ("AI spend", "old", new_widgets)
        assert updated.created_at == dashboard.created_at
        assert datetime.fromisoformat(updated.updated_at) > datetime.fromisoformat(dashboard.updated_at)

        renamed = update(tenant_a, pb.Dashboard(id=dashboard.id, name="Models"), "name", "description")
        assert (renamed.name, renamed.description, list(renamed.widgets)) == ("Models", "", new_widgets)

    def test_an_empty_mask_replaces_every_field(self, tenant_a):
        dashboard = create(tenant_a, description="old", widgets=[widget()])
        updated = update(tenant_a, pb.Dashboard(id=dashboard.id, name="Bare"))
        assert (updated.name, updated.description, list(updated.widgets)) == ("Bare", "", [])

    def test_no_change_keeps_updated_at(self, tenant_a):
        dashboard = create(tenant_a, widgets=[widget()])
        again = update(tenant_a, pb.Dashboard(id=dashboard.id, name="AI spend", widgets=[widget()]), "name", "widgets")
        assert again == dashboard

    def test_bad_mask_and_bad_widget_are_refused_and_nothing_changes(self, tenant_a):
        dashboard = create(tenant_a, widgets=[widget()])
        error = refused(lambda: update(tenant_a, pb.Dashboard(id=dashboard.id), "created_at"))
        assert field_violations(error) == [
            ("created_at", "`created_at` cannot be updated; a dashboard's `name`, `description`, `widgets` can.")
        ]
        bad = [widget(), widget(filters=[filter_("tag:team", "EQUALS", "a", "b")])]
        error = refused(lambda: update(tenant_a, pb.Dashboard(id=dashboard.id, widgets=bad), "widgets"))
        assert field_violations(error) == [
            ("widgets[1].query.filters[0].values", "EQUALS takes exactly one value (2 given).")
        ]
        assert stub(tenant_a).GetDashboard(pb.GetDashboardRequest(id=dashboard.id)) == dashboard


class TestListAndDelete:
    def test_pages_oldest_first(self, tenant_a):
        ids = [create(tenant_a, name=f"D{i}").id for i in range(3)]
        first = stub(tenant_a).ListDashboards(pb.ListDashboardsRequest(page_size=2))
        assert [d.id for d in first.dashboards] == ids[:2] and first.next_page_token
        rest = stub(tenant_a).ListDashboards(pb.ListDashboardsRequest(page_size=2, page_token=first.next_page_token))
        assert ([d.id for d in rest.dashboards], rest.next_page_token) == (ids[2:], "")

    def test_delete_then_not_found(self, tenant_a):
        dashboard = create(tenant_a)
        stub(tenant_a).DeleteDashboard(pb.DeleteDashboardRequest(id=dashboard.id))
        for call in (
            lambda: stub(tenant_a).GetDashboard(pb.GetDashboardRequest(id=dashboard.id)),
            lambda: stub(tenant_a).DeleteDashboard(pb.DeleteDashboardRequest(id=dashboard.id)),
        ):
            error = refused(call)
            assert (error.code(), error.details()) == (
                grpc.StatusCode.NOT_FOUND,
                f"dashboard '{dashboard.id}' not found",
            )


def test_another_tenants_dashboard_is_not_found(tenant_a, tenant_b):
    dashboard = create(tenant_a, widgets=[widget()])
    b = stub(tenant_b)
    calls = {
        "get": lambda: b.GetDashboard(pb.GetDashboardRequest(id=dashboard.id)),
        "update": lambda: update(tenant_b, pb.Dashboard(id=dashboard.id, name="mine"), "name"),
        "delete": lambda: b.DeleteDashboard(pb.DeleteDashboardRequest(id=dashboard.id)),
        "data": lambda: b.GetDashboardData(pb.GetDashboardDataRequest(id=dashboard.id)),
    }
    for name, call in calls.items():
        error = refused(call)
        assert (name, error.code(), error.details()) == (
            name,
            grpc.StatusCode.NOT_FOUND,
            f"dashboard '{dashboard.id}' not found",
        )
    assert b.ListDashboards(pb.ListDashboardsRequest()) == pb.ListDashboardsResponse()
    assert stub(tenant_a).GetDashboard(pb.GetDashboardRequest(id=dashboard.id)) == dashboard


def test_unset_query_fields_read_back_unset():
    """The stored form is the proto JSON without defaults (what Get returns, field for field)."""
    message = query_pb2.CostQuery(preset="LAST_7_DAYS")
    assert widget(preset="LAST_7_DAYS").query == message
