"""`costory-control-plane serve`: gRPC, the REST API and the daily import scheduler in one process."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc

from control_plane.billing.grpc import BillingDatasourceServicer
from control_plane.cost.grpc import CostServicer
from control_plane.dimensions.grpc import VirtualDimensionServicer
from control_plane.metrics.grpc import MetricsDatasourceServicer
from control_plane.services import Services, build_services
from control_plane.settings import Settings
from control_plane.tenants.grpc import TenantServicer
from costory_proto.costory.v1 import (
    billing_datasource_pb2_grpc,
    cost_pb2_grpc,
    metrics_datasource_pb2_grpc,
    tenant_pb2_grpc,
    virtual_dimension_pb2_grpc,
)

log = logging.getLogger(__name__)

GRACE_SECONDS = 10


def create_server(
    address: str, settings: Settings, services: Services | None = None
) -> tuple[grpc.Server, int]:
    """Build a gRPC server bound to ``address`` (port 0 picks one); not started. Returns the server and
    the bound port. Without ``services``, they are built from ``settings`` (migrating the database)."""
    services = services or build_services(settings)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    tenant_pb2_grpc.add_TenantServiceServicer_to_server(TenantServicer(services.sessions), server)
    metrics_datasource_pb2_grpc.add_MetricsDatasourceServiceServicer_to_server(
        MetricsDatasourceServicer(services), server
    )
    billing_datasource_pb2_grpc.add_BillingDatasourceServiceServicer_to_server(
        BillingDatasourceServicer(services), server
    )
    virtual_dimension_pb2_grpc.add_VirtualDimensionServiceServicer_to_server(
        VirtualDimensionServicer(services), server
    )
    cost_pb2_grpc.add_CostServiceServicer_to_server(CostServicer(services), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port


def _start_http(services: Services) -> tuple[threading.Thread, object]:
    import uvicorn

    from control_plane.rest.app import create_app

    host, _, port = services.settings.http_address.rpartition(":")
    config = uvicorn.Config(create_app(services), host=host, port=int(port), log_level="warning", access_log=False)
    http = uvicorn.Server(config)
    thread = threading.Thread(target=http.run, name="rest-api", daemon=True)
    thread.start()
    return thread, http


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then let in-flight work finish."""
    services = build_services(settings)
    server, port = create_server(settings.grpc_address, settings, services)
    server.start()
    host = settings.grpc_address.rpartition(":")[0]
    log.info("gRPC API on %s:%d", host, port)
    http_thread, http = _start_http(services)
    log.info("REST API on http://%s (OpenAPI at /openapi.json)", settings.http_address)

    stopped = threading.Event()
    scheduler_thread = None
    if settings.scheduler_enabled:
        from control_plane.metrics.imports import start_scheduler

        scheduler_thread = start_scheduler(services, stopped)

    def stop(signum: int, _frame) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    http.should_exit = True
    server.stop(GRACE_SECONDS).wait()
    http_thread.join(GRACE_SECONDS)
    if scheduler_thread is not None:
        scheduler_thread.join(GRACE_SECONDS)
    services.close()
    log.info("control plane stopped")
