"""The guide's numbers through the gRPC API: usage imported from moto, the guide's CUR month in the cost
store, then the explorer preview, a `team` dimension, its allocation state and cost queries."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import grpc
import pyarrow as pa
import pytest
from google.protobuf import field_mask_pb2

from control_plane.billing.cur import normalize
from control_plane.dimensions.compute import Engine
from control_plane.metrics.importer import import_datasource
from control_plane.storage import AwsCredentials, S3ObjectStore
from costory_proto.costory.v1 import cost_pb2, query_pb2
from costory_proto.costory.v1 import metrics_datasource_pb2 as metrics_pb
from costory_proto.costory.v1 import virtual_dimension_pb2 as pb
from devtools.sample_cur import guide_cur
from devtools.sample_usage import ROWS, upload
from devtools.seed import seed_month

BUCKET = "guide-usage"
GATEWAY = pb.RuleCondition(column="ServiceName", operator="EQUALS", values=["Amazon API Gateway"])


@pytest.fixture
def guide(tenant_a, sessions, settings, moto):
    """Tenant A with the guide's usage imported and the guide's CUR month held; returns the datasource id."""
    created = tenant_a.metrics.CreateMetricsDatasource(
        metrics_pb.CreateMetricsDatasourceRequest(
            metrics_datasource=metrics_pb.MetricsDatasource(
                name="API Usage",
                bucket_name=BUCKET,
                prefix="api-usage/",
                role_arn="arn:aws:iam::123456789012:role/costory",
                metrics_definition=[
                    metrics_pb.MetricDefinition(
                        metric_name="api_call_count",
                        gap_filling="ZERO",
                        aggregation="SUM",
                        value_column="api_call_count",
                        date_column="date",
                        dimensions=["region", "team"],
                    )
                ],
            )
        )
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    upload(s3, BUCKET, "api-usage/")
    store = S3ObjectStore(
        BUCKET,
        "api-usage/",
        credentials=AwsCredentials("testing", "testing"),
        region="us-east-1",
        endpoint_url=moto.endpoint,
    )
    import_datasource(sessions, created.id, store, trigger="MANUAL", owner="test", now=lambda: datetime.now(UTC))
    costs = normalize(guide_cur(), datasource_id="bds_guide", billing_period="2026-01", partition_id=1)
    seed_month(sessions, settings.data_dir, tenant_a.tenant_id, "bds_guide", "2026-01", costs)
    return created.id


def metric_split(datasource_id: str, **mapping) -> pb.MetricSplit:
    split = pb.MetricSplit(metrics_datasource_id=datasource_id, metric_name="api_call_count", dimension="team")
    if mapping:
        split.mapping.CopyFrom(pb.ValueMapping(**mapping))
    return split


def team_dimension(datasource_id: str, **mapping) -> pb.VirtualDimension:
    return pb.VirtualDimension(
        name="team",
        rules=[
            pb.DimensionRule(
                name="api-gateway", conditions=[GATEWAY], metric_split=metric_split(datasource_id, **mapping)
            ),
            pb.DimensionRule(
                name="team-tag",
                conditions=[pb.RuleCondition(column="tag:team", operator="EXISTS")],
                from_column=pb.ColumnValue(column="tag:team"),
            ),
        ],
    )


def state_of(client, dimension_id):
    state = client.dimensions.GetAllocationState(pb.GetAllocationStateRequest(id=dimension_id))
    return (
        {v.value: v.cost for v in state.values},
        [(r.rule, r.cost, r.cost_rows) for r in state.rules],
        (state.total_cost, state.leftover_cost, state.leftover_percent),
    )


def test_explorer_preview_of_the_guide(tenant_a, guide):
    response = tenant_a.costs.PreviewCostSplit(
        cost_pb2.PreviewCostSplitRequest(
            start_date="2026-01-01", end_date="2026-01-04", metric=metric_split(guide), cost_filter=[GATEWAY]
        )
    )
    assert [(r.value, r.usage, r.share, r.cost) for r in response.rows] == [
        ("Team_A", 4117.0, "0.807255", "807.25"),
        ("Team_B", 983.0, "0.192745", "192.75"),
    ]
    assert (response.total_usage, response.total_cost, list(response.unmapped_owners)) == (5100.0, "1000.00", [])


def test_preview_errors_name_the_request_field(tenant_a, guide):
    with pytest.raises(grpc.RpcError) as error:
        tenant_a.costs.PreviewCostSplit(
            cost_pb2.PreviewCostSplitRequest(
                start_date="2026-01-01",
                end_date="2026-01-04",
                metric=pb.MetricSplit(metrics_datasource_id=guide, metric_name="calls", dimension="team"),
                cost_filter=[pb.RuleCondition(column="Team", operator="EQUALS", values=["x"])],
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cost_filter[0].column" in error.value.details() and "metric.metric_name" in error.value.details()


def test_the_guide_dimension_splits_the_gateway_by_daily_usage(tenant_a, guide):
    created = tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    assert (created.status, created.leftover_value, created.status_message) == ("COMPUTED", "Unallocated", "")
    values, rules, totals = state_of(tenant_a, created.id)
    # Gateway: $807.25 / $192.75 by daily calls; EC2 by tag: 4 x 12.50 and 4 x 7.25; S3 and tax unmatched.
    assert values == {"Team_A": "857.25", "Team_B": "221.75", "Unallocated": "92.00"}
    assert rules == [("api-gateway", "1000.00", 4), ("team-tag", "79.00", 8), ("", "92.00", 5)]
    assert totals == ("1171.00", "92.00", "7.86")


def test_a_day_without_usage_and_an_unmapped_owner_go_to_the_leftover(tenant_a, guide, sessions, settings):
    # Team_B maps to nothing; and a gateway charge on 2026-01-05, a day without usage rows at all.
    late = normalize(
        guide_cur()
        .slice(0, 1)
        .set_column(2, "line_item_usage_start_date", pa.array([datetime(2026, 1, 5)], pa.timestamp("ms"))),
        datasource_id="bds_late",
        billing_period="2026-01",
        partition_id=2,
    )
    seed_month(sessions, settings.data_dir, tenant_a.tenant_id, "bds_late", "2026-01", late)
    dimension = team_dimension(guide, strategy="MANUAL", table={"Team_A": "Payments"})
    created = tenant_a.dimensions.CreateVirtualDimension(pb.CreateVirtualDimensionRequest(virtual_dimension=dimension))
    values, _rules, totals = state_of(tenant_a, created.id)
    # Gateway days 1-4: Payments gets Team_A's daily share, Team_B's share is unmapped. Day 5 ($260.98, no
    # usage with ZERO gap filling) goes to the leftover entirely.
    assert values == {"Payments": "807.25", "Team_A": "50.00", "Team_B": "29.00", "Unallocated": "545.73"}
    assert totals == ("1431.98", "545.73", "38.11")
    assert "days without usage went to Unallocated" in created.status_message
    assert "usage of 1 owners that map to nothing went to Unallocated (Team_B)" in created.status_message


def test_updating_recomputes_and_queries_group_by_the_dimension(tenant_a, guide):
    created = tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    changed = team_dimension(guide)
    changed.id = created.id
    changed.leftover_value = "Shared"
    del changed.rules[1]
    tenant_a.dimensions.UpdateVirtualDimension(
        pb.UpdateVirtualDimensionRequest(
            virtual_dimension=changed, update_mask=field_mask_pb2.FieldMask(paths=["rules", "leftover_value"])
        )
    )
    values, _rules, _totals = state_of(tenant_a, created.id)
    assert values == {"Team_A": "807.25", "Team_B": "192.75", "Shared": "171.00"}

    team = f"dimension:{created.id}"
    january = {"start_date": "2026-01-01", "end_date": "2026-01-31"}
    monthly = tenant_a.costs.QueryCosts(
        cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(**january, granularity="MONTH", group_by=[team]))
    )
    assert [(r.period, r.group[team], r.cost) for r in monthly.rows] == [
        ("2026-01", "Shared", "171.00"),
        ("2026-01", "Team_A", "807.25"),
        ("2026-01", "Team_B", "192.75"),
    ]
    by_service = tenant_a.costs.QueryCosts(
        cost_pb2.QueryCostsRequest(
            query=query_pb2.CostQuery(
                start_date="2026-01-04",
                end_date="2026-01-04",
                group_by=["ServiceName"],
                filters=[query_pb2.QueryFilter(field="ChargeCategory", operator="IN", values=["Usage"])],
            )
        )
    )
    assert [(r.period, dict(r.group), r.cost) for r in by_service.rows] == [
        ("2026-01-04", {"ServiceName": "Amazon API Gateway"}, "144.12"),
        ("2026-01-04", {"ServiceName": "Amazon Elastic Compute Cloud"}, "19.75"),
        ("2026-01-04", {"ServiceName": "Amazon Simple Storage Service"}, "3.00"),
    ]
    by_day = query_pb2.CostQuery(**january, group_by=[team])
    paged = tenant_a.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=by_day, page_size=7))
    rest = tenant_a.costs.QueryCosts(
        cost_pb2.QueryCostsRequest(query=by_day, page_size=7, page_token=paged.next_page_token)
    )
    # 4 days x (Team_A, Team_B, Shared) = 12 rows
    assert (len(paged.rows), len(rest.rows), rest.next_page_token) == (7, 5, "")
    assert len({(r.period, r.group[team]) for r in [*paged.rows, *rest.rows]}) == 12
    assert (paged.total_cost, rest.total_cost) == ("1171.00", "1171.00")  # every page's total covers all rows


def test_plan_time_validation_and_impact(tenant_a, guide):
    response = tenant_a.dimensions.ValidateVirtualDimension(
        pb.ValidateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    [preview] = response.findings
    assert preview.summary == "Allocation Preview (Last 30 Days)"
    assert preview.detail == (
        "Over 2025-12-06 – 2026-01-04 ($1,171.00 of cost) this dimension allocates:\n"
        "  Team_A: $857.25 (73.21%)\n"
        "  Team_B: $221.75 (18.94%)\n"
        "  Unallocated: $92.00 (7.86%)\n"
        "Leftover (Unallocated): 7.86% of the cost."
    )
    created = tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    changed = team_dimension(guide)
    changed.id = created.id
    del changed.rules[0]
    [impact] = tenant_a.dimensions.ValidateVirtualDimension(
        pb.ValidateVirtualDimensionRequest(virtual_dimension=changed)
    ).findings
    assert impact.summary == "Allocation Impact (Last 30 Days)"
    assert impact.detail == (
        "Over 2025-12-06 – 2026-01-04 ($1,171.00 of cost) this change moves $1,000.00:\n"
        "  Unallocated: +$1,000.00\n"
        "  Team_A: -$807.25\n"
        "  Team_B: -$192.75\n"
        "Leftover (Unallocated): 93.25% of the cost after the change (was 7.86%)."
    )
    bad = team_dimension(guide)
    bad.rules[1].conditions[0].column = "tag:"
    [error] = tenant_a.dimensions.ValidateVirtualDimension(
        pb.ValidateVirtualDimensionRequest(virtual_dimension=bad)
    ).findings
    assert (error.field, error.summary) == ("rules[1].conditions[0].column", "Invalid Column")


def test_tenants_cannot_see_each_other(tenant_a, tenant_b, guide):
    created = tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    with pytest.raises(grpc.RpcError) as error:
        tenant_b.dimensions.GetAllocationState(pb.GetAllocationStateRequest(id=created.id))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as error:
        tenant_b.dimensions.CreateVirtualDimension(
            pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # A's metrics datasource is not B's
    january = query_pb2.CostQuery(start_date="2026-01-01", end_date="2026-01-31")
    empty = tenant_b.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=january))
    assert (list(empty.rows), empty.total_cost) == ([], "0.00")
    january.group_by.append(f"dimension:{created.id}")  # A's dimension, by id: as missing for B as any other id
    with pytest.raises(grpc.RpcError) as error:
        tenant_b.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=january))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


def test_usage_rows_of_the_guide_add_up():
    assert sum(r[3] for r in ROWS if r[1] == "Team_A") == 4117
    assert sum(r[3] for r in ROWS if r[1] == "Team_B") == 983


def test_new_usage_recomputes_only_the_dimensions_reading_it(tenant_a, guide, sessions, settings):
    from control_plane.dimensions.service import recompute_tenant

    tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    tagged_only = pb.VirtualDimension(
        name="owner", rules=[pb.DimensionRule(name="tag", from_column=pb.ColumnValue(column="tag:team"))]
    )
    tenant_a.dimensions.CreateVirtualDimension(pb.CreateVirtualDimensionRequest(virtual_dimension=tagged_only))
    with sessions.begin() as session:
        assert (
            recompute_tenant(session, tenant_a.tenant_id, Engine.local(settings.data_dir), metrics_datasource_id=guide)
            == 1
        )
        assert (
            recompute_tenant(
                session, tenant_a.tenant_id, Engine.local(settings.data_dir), metrics_datasource_id="mds_other"
            )
            == 0
        )
        assert recompute_tenant(session, tenant_a.tenant_id, Engine.local(settings.data_dir)) == 2


def test_the_same_reads_over_rest(tenant_a, guide, settings):
    from fastapi.testclient import TestClient

    from control_plane.rest.app import create_app
    from control_plane.services import build_services

    created = tenant_a.dimensions.CreateVirtualDimension(
        pb.CreateVirtualDimensionRequest(virtual_dimension=team_dimension(guide))
    )
    services = build_services(settings)
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    try:
        with TestClient(create_app(services)) as api:
            state = api.get(f"/v1/virtual-dimensions/{created.id}/allocation", headers=headers).json()
            assert (state["status"], state["total_cost"], state["leftover_percent"], state["cost_rows"]) == (
                "COMPUTED",
                "1171.00",
                "7.86",
                "17",
            )
            team = f"dimension:{created.id}"
            query = {
                "start_date": "2026-01-01",
                "end_date": "2026-01-31",
                "granularity": "MONTH",
                "group_by": [team, "RegionId"],
                "filters": [{"field": team, "operator": "IN", "values": ["Team_A", "Team_B"]}],
            }
            rows = api.post("/v1/costs:query", json={"query": query}, headers=headers).json()["rows"]
            assert [(r["group"], r["cost"]) for r in rows] == [
                ({team: "Team_A", "RegionId": "us-east-1"}, "857.25"),
                ({team: "Team_B", "RegionId": "us-east-1"}, "221.75"),
            ]
            bad = api.post("/v1/costs:query", json={"query": {**query, "group_by": ["BilledCost"]}}, headers=headers)
            assert (bad.status_code, bad.json()["detail"][0]["loc"]) == (400, ["query", "group_by", 0])
            assert api.get(f"/v1/virtual-dimensions/{created.id}/allocation").status_code == 401
    finally:
        services.close()


def test_a_preview_that_cannot_be_computed_is_a_warning_not_an_error(tenant_a, guide, sessions, settings):
    from google.protobuf.json_format import MessageToDict

    from control_plane.dimensions import compute, service
    from control_plane.dimensions.definition import parse_definition
    from control_plane.models import MetricDefinition, Tenant

    data = MessageToDict(team_dimension(guide), preserving_proto_field_name=True)
    with sessions.begin() as session:
        tenant = session.get(Tenant, tenant_a.tenant_id)
        definition = parse_definition(data, compute.metric_lookup(session, tenant.id))
        session.query(MetricDefinition).delete()  # the metric disappears between the check and the preview
        finding = service.impact(session, tenant, data, definition, Engine.local(settings.data_dir))
    assert (finding.severity, finding.summary) == ("WARNING", "Allocation Impact Not Computed")
    assert finding.detail == (
        f"The 30-day preview failed: metric 'api_call_count' not found in metrics datasource {guide!r}"
    )
