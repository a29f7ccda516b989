"""The gRPC server."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures

import grpc

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.metrics.grpc import MetricsDatasourceServicer
from control_plane.settings import Settings
from control_plane.tenants.grpc import TenantServicer
from costory_proto.costory.v1 import metrics_datasource_pb2_grpc, tenant_pb2_grpc

log = logging.getLogger(__name__)

GRACE_SECONDS = 10


def create_server(address: str, settings: Settings) -> tuple[grpc.Server, int]:
    """Migrate the database, then build a server bound to ``address`` (port 0 picks one); not started.
    Returns the server and the bound port."""
    migrate(settings.database_url)
    sessions = create_sessionmaker(create_engine(settings.database_url))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    tenant_pb2_grpc.add_TenantServiceServicer_to_server(TenantServicer(sessions), server)
    metrics_datasource_pb2_grpc.add_MetricsDatasourceServiceServicer_to_server(
        MetricsDatasourceServicer(sessions), server
    )
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then let in-flight RPCs finish."""
    server, port = create_server(settings.grpc_address, settings)
    server.start()
    host = settings.grpc_address.rpartition(":")[0]
    log.info("control plane listening on %s:%d", host, port)

    stopped = threading.Event()

    def stop(signum: int, _frame) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    server.stop(GRACE_SECONDS).wait()
    log.info("control plane stopped")
