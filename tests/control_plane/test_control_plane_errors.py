"""One error model at the edge (control_plane/errors.py): every DomainError gets the same status over gRPC and
REST, a database pool timeout is 503 / UNAVAILABLE with a retry hint, and a message echoing a 10 KB input is
capped so the gRPC response still arrives."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
import pytest
import sqlalchemy.exc
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2
from grpc_status import rpc_status

import control_plane
from control_plane import errors
from control_plane.errors import DomainError, InvalidArgument
from control_plane.metrics import service
from control_plane.rest.app import create_app
from control_plane.services import build_services
from costory_proto.costory.v1 import metrics_datasource_pb2
from costory_schema.problems import Problem

# kind -> (gRPC code, HTTP status), written out here so a change to the table is a visible decision.
EXPECTED = {
    errors.InvalidArgument: (grpc.StatusCode.INVALID_ARGUMENT, 400),
    errors.FailedPrecondition: (grpc.StatusCode.FAILED_PRECONDITION, 400),
    errors.Unauthenticated: (grpc.StatusCode.UNAUTHENTICATED, 401),
    errors.NotFound: (grpc.StatusCode.NOT_FOUND, 404),
    errors.AlreadyExists: (grpc.StatusCode.ALREADY_EXISTS, 409),
    errors.PayloadTooLarge: (grpc.StatusCode.RESOURCE_EXHAUSTED, 413),
    errors.ResourceExhausted: (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    errors.Unavailable: (grpc.StatusCode.UNAVAILABLE, 503),
    errors.DomainError: (grpc.StatusCode.FAILED_PRECONDITION, 400),
}
LIST = metrics_datasource_pb2.ListMetricsDatasourcesRequest()


def every_domain_error() -> list[type[DomainError]]:
    """DomainError and every subclass defined anywhere in the package (all modules imported first)."""
    for module in pkgutil.walk_packages(control_plane.__path__, "control_plane."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, queue = [], [DomainError]
    while queue:
        kind = queue.pop()
        found.append(kind)
        queue.extend(kind.__subclasses__())
    return sorted(set(found), key=lambda kind: f"{kind.__module__}.{kind.__qualname__}")


def instance(kind: type[DomainError]) -> DomainError:
    if issubclass(kind, InvalidArgument):
        return kind([Problem(("group_by", 0), "Unknown Column", "`x` is not a cost column.")])
    return kind("what went wrong, and what to do")


def expected(kind: type[DomainError]) -> tuple[grpc.StatusCode, int]:
    return next(EXPECTED[k] for k in kind.__mro__ if k in EXPECTED)


@pytest.fixture
def rest(settings):
    services = build_services(settings)
    with TestClient(create_app(services)) as client:
        yield client
    services.close()


def test_every_domain_error_has_a_kind_of_its_own():
    """No subclass falls through to the root's entry: each derives from one of the kinds in the table."""
    kinds = tuple(kind for kind in errors.STATUSES if kind is not DomainError)
    strays = [
        kind.__qualname__ for kind in every_domain_error() if kind is not DomainError and not issubclass(kind, kinds)
    ]
    assert strays == []
    assert set(errors.STATUSES) == set(EXPECTED)


@pytest.mark.parametrize("kind", every_domain_error(), ids=lambda kind: kind.__qualname__)
def test_the_same_error_gets_the_same_status_over_grpc_and_rest(kind, tenant_a, rest, monkeypatch):
    error = instance(kind)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(service, "list_datasources", fail)
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.metrics.ListMetricsDatasources(LIST)
    response = rest.get("/v1/metrics-datasources", headers={"Authorization": f"Bearer {tenant_a.token}"})

    grpc_code, http_status = expected(kind)
    assert (caught.value.code(), response.status_code) == (grpc_code, http_status)
    assert caught.value.details() == str(error)
    if issubclass(kind, InvalidArgument):
        assert response.json() == {
            "detail": [{"loc": ["group_by", 0], "msg": "`x` is not a cost column.", "type": "Unknown Column"}]
        }
    else:
        assert response.json() == {"detail": "what went wrong, and what to do"}


@pytest.mark.parametrize(
    "error, retry_after",
    [
        pytest.param(errors.Unavailable("busy", retry_after=0.2), "1", id="unavailable-rounded-up"),
        pytest.param(errors.ResourceExhausted("your share is in use", retry_after=3), "3", id="exhausted"),
        pytest.param(errors.Unavailable("the token endpoint is down"), None, id="no-hint"),
    ],
)
def test_a_retry_hint_is_retry_after_and_retry_info(error, retry_after, tenant_a, rest, monkeypatch):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(service, "list_datasources", fail)
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.metrics.ListMetricsDatasources(LIST)
    response = rest.get("/v1/metrics-datasources", headers={"Authorization": f"Bearer {tenant_a.token}"})

    status = rpc_status.from_call(caught.value)
    hints = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
    grpc_hint = None
    if hints:
        info = error_details_pb2.RetryInfo()
        hints[0].Unpack(info)
        grpc_hint = str(info.retry_delay.seconds)
    assert (response.headers.get("retry-after"), grpc_hint) == (retry_after, retry_after)


def test_a_database_pool_timeout_is_unavailable_not_internal(tenant_a, rest, monkeypatch, caplog):
    def fail(*args, **kwargs):
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 4 overflow 4 reached")

    monkeypatch.setattr(service, "list_datasources", fail)
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.metrics.ListMetricsDatasources(LIST)
    response = rest.get("/v1/metrics-datasources", headers={"Authorization": f"Bearer {tenant_a.token}"})

    message = "The control plane is busy (no database connection free); retry shortly."
    assert (caught.value.code(), caught.value.details()) == (grpc.StatusCode.UNAVAILABLE, message)
    assert (response.status_code, response.headers["retry-after"], response.json()) == (503, "1", {"detail": message})
    assert "unexpected error" not in caplog.text


def test_an_error_echoing_10_kb_of_input_is_capped_on_both_servers(tenant_a, rest):
    name = "é" * 5_000 + "x" * 100  # 10 KB of UTF-8, multi-byte characters at the cut
    request = {"query": {"start_date": "2026-01-01", "end_date": "2026-01-31", "group_by": [name]}}
    from google.protobuf.json_format import ParseDict

    from costory_proto.costory.v1 import cost_pb2

    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.costs.QueryCosts(ParseDict(request, cost_pb2.QueryCostsRequest()))
    response = rest.post("/v1/costs:query", json=request, headers={"Authorization": f"Bearer {tenant_a.token}"})

    status = rpc_status.from_call(caught.value)
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    [violation] = bad_request.field_violations
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation.field == "query.group_by[0]"
    assert violation.description.startswith("`éé")
    assert violation.description.endswith("…")
    assert len(violation.description.encode()) <= errors.MAX_DETAIL_BYTES
    assert len(caught.value.details().encode()) <= errors.MAX_MESSAGE_BYTES
    [detail] = response.json()["detail"]
    assert (response.status_code, detail["loc"], detail["msg"]) == (
        400,
        ["query", "group_by", 0],
        violation.description,
    )


def test_thousands_of_violations_are_listed_up_to_a_cap(tenant_a, rest):
    from costory_proto.costory.v1 import cost_pb2, query_pb2

    group_by = [f"NotAColumn{i}" for i in range(900)]
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.costs.QueryCosts(
            cost_pb2.QueryCostsRequest(
                query=query_pb2.CostQuery(start_date="2026-01-01", end_date="2026-01-02", group_by=group_by)
            )
        )
    response = rest.post(
        "/v1/costs:query",
        json={"query": {"start_date": "2026-01-01", "end_date": "2026-01-02", "group_by": group_by}},
        headers={"Authorization": f"Bearer {tenant_a.token}"},
    )

    bad_request = error_details_pb2.BadRequest()
    rpc_status.from_call(caught.value).details[0].Unpack(bad_request)
    fields = [v.field for v in bad_request.field_violations]
    assert fields == [f"query.group_by[{i}]" for i in range(errors.MAX_VIOLATIONS)] + [""]
    assert (
        bad_request.field_violations[-1].description == f"{900 - errors.MAX_VIOLATIONS} more violation(s) not listed."
    )
    assert [d["loc"] for d in response.json()["detail"]] == [
        ["query", "group_by", i] for i in range(errors.MAX_VIOLATIONS)
    ] + [[]]
