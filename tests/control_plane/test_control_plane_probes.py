"""Hostile and malformed requests at the edge: none answers 500, each is refused naming the field at fault
(REST `loc`, gRPC BadRequest field violation)."""

from __future__ import annotations

import base64
import json

import grpc
import pytest
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from control_plane.rest.app import create_app
from control_plane.services import build_services
from costory_proto.costory.v1 import cost_pb2, metrics_datasource_pb2, query_pb2, virtual_dimension_pb2

DAYS = {"start_date": "2026-01-01", "end_date": "2026-01-31"}


def q(**fields) -> dict:
    """A cost query's body: January, with ``fields``."""
    return {"query": {**DAYS, **fields}}


MANY = 1_001  # one over the default list cap


def token_for(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode()


@pytest.fixture
def rest(settings):
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


REST_PROBES = [
    # (method, url, json body, expected status, expected loc of the first violation)
    pytest.param("post", "/v1/costs:query", q(end_date="9999-12-31"), 400, ["query", "end_date"], id="end-9999"),
    pytest.param(
        "post", "/v1/costs:query", q(start_date="0001-01-01"), 400, ["query", "start_date"], id="start-year-1"
    ),
    pytest.param("post", "/v1/costs:query", q(start_date="2026-13-01"), 400, ["query", "start_date"], id="month-13"),
    pytest.param(
        "post", "/v1/costs:query", q(group_by=["tag:k"] * 20_000), 400, ["query", "group_by"], id="group-by-20000"
    ),
    pytest.param(
        "post",
        "/v1/costs:query",
        q(filters=[{"field": "ServiceName", "operator": "IN", "values": ["a"]}] * MANY),
        400,
        ["query", "filters"],
        id="filters-over-cap",
    ),
    pytest.param(
        "post",
        "/v1/costs:query",
        q(filters=[{"field": "ServiceName", "operator": "IN", "values": ["a"] * MANY}]),
        400,
        ["query", "filters", 0, "values"],
        id="filter-values-over-cap",
    ),
    pytest.param(
        "post", "/v1/costs:query", q(group_by=["ServiceName\x00"]), 400, ["query", "group_by", 0], id="nul-in-group-by"
    ),
    pytest.param(
        "post",
        "/v1/costs:query",
        q(filters=[{"field": "ServiceName", "operator": "IN", "values": ["a\x00"]}]),
        400,
        ["query", "filters", 0, "values", 0],
        id="nul-in-value",
    ),
    pytest.param(
        "post",
        "/v1/costs:query",
        {"query": DAYS, "page_token": token_for("offset:" + "9" * 40)},
        400,
        ["page_token"],
        id="huge-offset",
    ),
    pytest.param(
        "post",
        "/v1/costs:query",
        {"query": DAYS, "page_token": token_for("offset:-1")},
        400,
        ["page_token"],
        id="negative-offset",
    ),
    pytest.param(
        "post", "/v1/costs:query", {"query": DAYS, "page_token": "%%%"}, 400, ["page_token"], id="garbage-token"
    ),
    pytest.param(
        "post", "/v1/costs:query", {"query": DAYS, "page_size": -1}, 400, ["page_size"], id="negative-page-size"
    ),
    pytest.param("post", "/v1/costs:query", q(granularity="YEAR"), 400, ["query", "granularity"], id="granularity"),
    pytest.param("post", "/v1/costs:query", {"query": DAYS, "bogus": 1}, 400, ["bogus"], id="unknown-field"),
    pytest.param("post", "/v1/costs:query", {"query": {}}, 400, ["query", "start_date"], id="no-range"),
    pytest.param("post", "/v1/costs:query", {}, 400, ["query"], id="no-query"),
    pytest.param("post", "/v1/costs:query", q(group_by="ServiceName"), 400, ["query", "group_by"], id="not-a-list"),
    pytest.param(
        "post",
        "/v1/costs:preview-split",
        {**DAYS, "cost_filter": [{"column": "ServiceName", "operator": "EQUALS", "values": ["a"]}] * MANY},
        400,
        ["cost_filter"],
        id="preview-cost-filter-over-cap",
    ),
    pytest.param(
        "post", "/v1/costs:preview-split", {**DAYS, "end_date": "2101-01-01"}, 400, ["end_date"], id="preview-2101"
    ),
    pytest.param("get", "/v1/metrics-datasources/mds_%00x", None, 400, ["datasource_id"], id="nul-in-path-id"),
    pytest.param(
        "get", "/v1/virtual-dimensions/vd_%01/allocation", None, 400, ["dimension_id"], id="control-char-in-path-id"
    ),
    pytest.param(
        "get",
        "/v1/metrics-datasources?page_token=" + token_for(json.dumps(["2026-01-01T00:00:00", "mds_\x00"])),
        None,
        400,
        ["page_token"],
        id="nul-inside-page-token",
    ),
    pytest.param(
        "get", "/v1/metrics-datasources?page_token=" + "A" * 5000, None, 400, ["page_token"], id="long-page-token"
    ),
    pytest.param("get", "/v1/metrics-datasources?page_size=abc", None, 400, ["page_size"], id="page-size-not-int"),
    pytest.param("get", "/v1/metrics-datasources?page_size=-5", None, 400, ["page_size"], id="page-size-negative"),
    pytest.param(
        "get",
        "/v1/metrics-datasources/mds_x/metrics/m/values?start=2026-01-01&end=2026-01-01" + "&group_by=team" * MANY,
        None,
        400,
        ["group_by"],
        id="query-string-group-by-over-cap",
    ),
    pytest.param(
        "get",
        "/v1/metrics-datasources/mds_x/metrics/m/values?start=2026-01-01&end=9999-12-31",
        None,
        404,
        None,
        id="values-of-unknown-datasource",
    ),
    pytest.param("get", "/v1/billing-datasources/bds_%00", None, 400, ["datasource_id"], id="nul-in-billing-id"),
]


@pytest.mark.parametrize("method, url, body, status, loc", REST_PROBES)
def test_rest_probe(rest, tenant_a, method, url, body, status, loc):
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    response = rest.request(method.upper(), url, json=body, headers=headers)

    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    if loc is not None:
        assert detail[0]["loc"] == loc
        assert len(response.content) < 4_000


def test_rest_dates_of_metric_values_are_bounded(rest, tenant_a, sessions):
    from control_plane.models import MetricsDatasource

    with sessions.begin() as session:
        session.add(
            MetricsDatasource(
                id="mds_probe",
                tenant_id=tenant_a.tenant_id,
                name="probe",
                bucket_name="b",
                prefix="",
                role_arn="arn:aws:iam::123456789012:role/r",
            )
        )
    url = "/v1/metrics-datasources/mds_probe/metrics/m/values"
    response = rest.get(
        url, params={"start": "2026-01-01", "end": "9999-12-31"}, headers={"Authorization": f"Bearer {tenant_a.token}"}
    )
    assert (response.status_code, response.json()["detail"][0]["loc"]) == (400, ["end"])


def test_a_body_that_is_not_json_is_400(rest, tenant_a):
    response = rest.post("/v1/costs:query", content=b"{not json", headers={"Authorization": f"Bearer {tenant_a.token}"})
    assert (response.status_code, response.json()["detail"][0]["type"]) == (400, "Invalid Value")


def field_of(error: grpc.RpcError) -> str:
    bad_request = error_details_pb2.BadRequest()
    rpc_status.from_call(error).details[0].Unpack(bad_request)
    return bad_request.field_violations[0].field


GRPC_PROBES = [
    pytest.param(
        lambda c: c.costs.QueryCosts(
            cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(**q(end_date="9999-12-31")["query"]))
        ),
        "query.end_date",
        id="end-9999",
    ),
    pytest.param(
        lambda c: c.costs.QueryCosts(
            cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(**DAYS, group_by=["tag:k"] * 20_000))
        ),
        "query.group_by",
        id="group-by-20000",
    ),
    pytest.param(
        lambda c: c.costs.QueryCosts(
            cost_pb2.QueryCostsRequest(
                query=query_pb2.CostQuery(
                    **DAYS, filters=[query_pb2.QueryFilter(field="ServiceName", operator="IN", values=["a"] * MANY)]
                )
            )
        ),
        "query.filters[0].values",
        id="filter-values-over-cap",
    ),
    pytest.param(
        lambda c: c.costs.QueryCosts(
            cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(**DAYS), page_token=token_for("offset:" + "9" * 40))
        ),
        "page_token",
        id="huge-offset",
    ),
    pytest.param(
        lambda c: c.costs.PreviewCostSplit(cost_pb2.PreviewCostSplitRequest(**{**DAYS, "start_date": "1970-01-01"})),
        "start_date",
        id="preview-1970",
    ),
    pytest.param(
        lambda c: c.metrics.GetMetricsDatasource(metrics_datasource_pb2.GetMetricsDatasourceRequest(id="mds_\x00")),
        "id",
        id="nul-in-id",
    ),
    pytest.param(
        lambda c: c.metrics.ListMetricsDatasources(
            metrics_datasource_pb2.ListMetricsDatasourcesRequest(
                page_token=token_for(json.dumps(["2026-01-01T00:00:00", "mds_\x00"]))
            )
        ),
        "page_token",
        id="nul-inside-page-token",
    ),
    pytest.param(
        lambda c: c.dimensions.CreateVirtualDimension(
            virtual_dimension_pb2.CreateVirtualDimensionRequest(
                virtual_dimension=virtual_dimension_pb2.VirtualDimension(
                    name="team", rules=[virtual_dimension_pb2.DimensionRule(name="r")] * MANY
                )
            )
        ),
        "virtual_dimension.rules",
        id="rules-over-cap",
    ),
]


@pytest.mark.parametrize("call, field", GRPC_PROBES)
def test_grpc_probe(tenant_a, call, field):
    with pytest.raises(grpc.RpcError) as caught:
        call(tenant_a)

    assert (caught.value.code(), field_of(caught.value)) == (grpc.StatusCode.INVALID_ARGUMENT, field)


def test_a_grpc_message_over_the_limit_is_refused(tenant_a, settings):
    huge = "x" * (settings.max_request_bytes + 1)
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(**DAYS, group_by=[huge])))

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize(
    "url, loc",
    [
        pytest.param("/v1/metrics-datasources/mds_%00", ["datasource_id"], id="nul-in-path-id"),
        pytest.param("/v1/virtual-dimensions/vd_%00/allocation", ["dimension_id"], id="nul-in-dimension-id"),
        pytest.param(
            "/v1/billing-datasources?page_token=" + token_for(json.dumps(["2026-01-01T00:00:00", "bds_\x00"])),
            ["page_token"],
            id="nul-inside-page-token",
        ),
    ],
)
def test_nul_bytes_are_400_on_postgresql_too(postgres_url, tmp_path, url, loc):
    """PostgreSQL refuses NUL in text (it answered 500); the edge refuses it first, naming the field."""
    from control_plane.db import create_engine, create_sessionmaker
    from control_plane.settings import Settings
    from control_plane.tenants.service import create_tenant

    settings = Settings(database_url=postgres_url, trust_validation="skip", data_dir=tmp_path / "data")
    engine = create_engine(postgres_url)
    with create_sessionmaker(engine).begin() as session:
        token = create_tenant(session, "Tenant A")[1]
    engine.dispose()
    services = build_services(settings)
    try:
        with TestClient(create_app(services)) as client:
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    finally:
        services.close()

    assert (response.status_code, response.json()["detail"][0]["loc"]) == (400, loc)
