"""Saturation degrades instead of collapsing: 200 concurrent REST reads against a pool of 4 connections are
answered 200, or refused at once with 429 / 503 and `Retry-After` — never 500, never a reset connection —
while another tenant's gRPC call made meanwhile succeeds. Real servers on 127.0.0.1:0, as `serve` runs them:
gRPC and uvicorn (in a thread) sharing one admission."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
import pytest

from control_plane.admission import Admission
from control_plane.errors import ResourceExhausted, Unavailable
from control_plane.metrics import service
from control_plane.server import bind_http, create_server, start_http
from control_plane.services import build_services
from control_plane.settings import Settings
from costory_proto.costory.v1 import (
    metrics_datasource_pb2,
    metrics_datasource_pb2_grpc,
    tenant_pb2,
    tenant_pb2_grpc,
)
from tests.control_plane.conftest import _Metadata, _tenant_client

CLIENTS = 200
HEAVY_READ_SECONDS = 0.3
POOL_TIMEOUT_SECONDS = 30.0
"""A refusal that waited for the pool would take this long; admission must answer well before."""


@pytest.fixture
def small(tmp_path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        trust_validation="skip",
        data_dir=tmp_path / "data",
        max_requests_in_flight=4,
        max_requests_in_flight_per_token=2,
        db_pool_timeout_seconds=POOL_TIMEOUT_SECONDS,
    )


@contextmanager
def running(settings: Settings):
    """gRPC and REST on loopback ports, sharing one admission and one pool; stopped on exit."""
    services = build_services(settings)
    admission = Admission.from_settings(settings)
    server, grpc_port = create_server("127.0.0.1:0", settings, services, admission)
    server.start()
    thread, http = start_http(services, admission, bind_http("127.0.0.1:0"))
    try:
        yield services, admission, grpc_port, http.servers[0].sockets[0].getsockname()[1]
    finally:
        http.should_exit = True
        thread.join(10)
        server.stop(None).wait()
        services.close()


def read(port: int, token: str, index: int) -> tuple[int | str, str | None, float]:
    """One read on a connection of its own: (status or the client error, Retry-After, seconds taken)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        if index % 2:
            body = json.dumps(
                {"query": {"start_date": "2026-01-01", "end_date": "2026-01-31", "group_by": ["ServiceName"]}}
            )
            connection.request("POST", "/v1/costs:query", body=body, headers=headers)
        else:
            connection.request("GET", "/v1/metrics-datasources", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After"), time.monotonic() - started
    except OSError as error:
        return type(error).__name__, None, time.monotonic() - started
    finally:
        connection.close()


def test_200_concurrent_reads_degrade_to_fast_refusals_and_other_tenants_keep_working(small, monkeypatch):
    slow_list = service.list_datasources

    def heavy(*args, **kwargs):  # a read that holds its database session for a while
        time.sleep(HEAVY_READ_SECONDS)
        return slow_list(*args, **kwargs)

    monkeypatch.setattr(service, "list_datasources", heavy)
    with running(small) as (services, admission, grpc_port, http_port):
        connect = _connector(grpc_port)
        tenant_a = _tenant_client(services.sessions, connect, "Tenant A")
        tenant_b = _tenant_client(services.sessions, connect, "Tenant B")
        start = threading.Barrier(CLIENTS + 1)

        def client(index: int):
            start.wait()
            return read(http_port, tenant_a.token, index)

        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(client, i) for i in range(CLIENTS)]
            start.wait()
            time.sleep(0.05)  # tenant A's flood is under way
            other_started = time.monotonic()
            whoami = tenant_b.tenants.WhoAmI(tenant_pb2.WhoAmIRequest(), timeout=20)
            listed = tenant_b.metrics.ListMetricsDatasources(
                metrics_datasource_pb2.ListMetricsDatasourcesRequest(), timeout=20
            )
            other_seconds = time.monotonic() - other_started
            results = [f.result() for f in futures]
        after = read(http_port, tenant_a.token, 0)
        for channel in connect.channels:
            channel.close()

    statuses = Counter(status for status, _, _ in results)
    refusals = [(status, retry, seconds) for status, retry, seconds in results if status in (429, 503)]
    assert set(statuses) <= {200, 429, 503}, statuses
    assert statuses[200] >= 2 and refusals, statuses
    assert {retry for _, retry, _ in refusals} == {"1"}
    assert max(seconds for _, _, seconds in refusals) < POOL_TIMEOUT_SECONDS / 3
    assert (whoami.tenant_id, list(listed.metrics_datasources)) == (tenant_b.tenant_id, [])
    assert other_seconds < POOL_TIMEOUT_SECONDS / 3
    assert (after[0], admission.in_flight) == (200, 0)


def test_one_token_over_its_share_gets_429_while_the_process_has_room(small):
    admission = Admission.from_settings(small)
    with admission.admit("cst_a"), admission.admit("cst_a"):
        with pytest.raises(ResourceExhausted) as caught:
            admission.acquire("cst_a")
        with admission.admit("cst_b"), admission.admit("cst_c"), pytest.raises(Unavailable) as full:
            admission.acquire("cst_d")
    assert (str(caught.value), caught.value.retry_after) == (
        "This API token already has 2 requests in progress; wait for one to finish, then retry.",
        1.0,
    )
    assert (str(full.value), full.value.retry_after) == (
        "The control plane is working on 4 requests already; retry shortly.",
        1.0,
    )
    assert admission.in_flight == 0


def _connector(port: int):
    """Like conftest's ``connect`` fixture, for a server started inside the test."""
    channels: list[grpc.Channel] = []

    def connect(metadata=()):
        channel = grpc.intercept_channel(grpc.insecure_channel(f"127.0.0.1:{port}"), _Metadata(metadata))
        channels.append(channel)
        return (
            metrics_datasource_pb2_grpc.MetricsDatasourceServiceStub(channel),
            tenant_pb2_grpc.TenantServiceStub(channel),
        )

    connect.channels = channels  # type: ignore[attr-defined]
    return connect
