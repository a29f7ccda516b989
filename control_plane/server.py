"""`costory-control-plane serve`: gRPC, the REST API and the daily import scheduler in one process.

Both APIs share one ``Admission`` (at most ``max_requests_in_flight`` requests worked on at once, a share
of that per API token) and one database pool of the same size, so saturation is answered at once with
503 / 429 instead of requests queueing for connections. Both ports are bound before anything starts: a
port in use stops ``serve`` with an error naming the address.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from typing import TYPE_CHECKING

import grpc

from control_plane.admission import Admission
from control_plane.billing.grpc import BillingDatasourceServicer
from control_plane.billing.sources_grpc import BillingSourceServicer
from control_plane.budgets.grpc import add_to_server as add_alerting_servicers
from control_plane.cost.grpc import CostServicer
from control_plane.dashboards.grpc import DashboardServicer
from control_plane.dimensions.grpc import VirtualDimensionServicer
from control_plane.metrics.grpc import MetricsDatasourceServicer
from control_plane.notify.grpc import NotificationServicer
from control_plane.rpc import Edge
from control_plane.services import Services, build_services
from control_plane.settings import Settings
from control_plane.teams.grpc import TeamServicer
from control_plane.tenants.grpc import TenantServicer
from costory_proto.costory.v1 import (
    billing_datasource_pb2_grpc,
    billing_source_pb2_grpc,
    cost_pb2_grpc,
    dashboard_pb2_grpc,
    metrics_datasource_pb2_grpc,
    notification_pb2_grpc,
    team_pb2_grpc,
    tenant_pb2_grpc,
    virtual_dimension_pb2_grpc,
)

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)

GRACE_SECONDS = 10
STARTUP_SECONDS = 10.0
"""How long the REST API may take to start listening before ``serve`` gives up."""


def create_server(
    address: str, settings: Settings, services: Services | None = None, admission: Admission | None = None
) -> tuple[grpc.Server, int]:
    """Build a gRPC server bound to ``address`` (port 0 picks one); not started. Returns the server and
    the bound port. Without ``services``, they are built from ``settings`` (migrating the database);
    without ``admission``, the server gets one of its own."""
    server, port = bind_grpc(address, settings, admission or Admission.from_settings(settings))
    add_servicers(server, services or build_services(settings))
    return server, port


def bind_grpc(address: str, settings: Settings, admission: Admission) -> tuple[grpc.Server, int]:
    """A gRPC server bound to ``address``, with the edge checks and limits but no services yet. Raises
    OSError naming the address when it cannot be bound (no SO_REUSEPORT: a second server on a used port
    fails instead of sharing it)."""
    workers = 2 * settings.max_requests_in_flight  # room to refuse quickly while the admitted ones work
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        interceptors=[Edge(admission, settings.max_list_items)],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", settings.max_request_bytes),
        ],
        maximum_concurrent_rpcs=4 * workers,
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        server.stop(None)
        raise OSError(f"cannot listen on the gRPC address {address}: is another server using it?")
    return server, port


def add_servicers(server: grpc.Server, services: Services) -> None:
    tenant_pb2_grpc.add_TenantServiceServicer_to_server(TenantServicer(services.sessions), server)
    metrics_datasource_pb2_grpc.add_MetricsDatasourceServiceServicer_to_server(
        MetricsDatasourceServicer(services), server
    )
    billing_datasource_pb2_grpc.add_BillingDatasourceServiceServicer_to_server(
        BillingDatasourceServicer(services), server
    )
    billing_source_pb2_grpc.add_BillingSourceServiceServicer_to_server(BillingSourceServicer(services), server)
    virtual_dimension_pb2_grpc.add_VirtualDimensionServiceServicer_to_server(
        VirtualDimensionServicer(services), server
    )
    cost_pb2_grpc.add_CostServiceServicer_to_server(CostServicer(services), server)
    team_pb2_grpc.add_TeamServiceServicer_to_server(TeamServicer(services), server)
    notification_pb2_grpc.add_NotificationServiceServicer_to_server(NotificationServicer(services), server)
    add_alerting_servicers(server, services)
    dashboard_pb2_grpc.add_DashboardServiceServicer_to_server(DashboardServicer(services), server)


def bind_http(address: str) -> socket.socket:
    """A listening socket for the REST API on ``host:port``; OSError naming the address when it is taken."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise OSError(f"cannot listen on the REST address {address}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(128)
    except (OSError, ValueError) as error:
        sock.close()
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise OSError(f"cannot listen on the REST address {address}: {reason}") from None
    return sock


def start_http(
    services: Services, admission: Admission, sock: socket.socket
) -> tuple[threading.Thread, uvicorn.Server]:
    """Serve the REST API on ``sock`` from a thread; returns once it accepts connections."""
    import uvicorn

    from control_plane.rest.app import create_app

    config = uvicorn.Config(create_app(services, admission), log_level="warning", access_log=False)
    http = uvicorn.Server(config)
    thread = threading.Thread(target=http.run, kwargs={"sockets": [sock]}, name="rest-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not http.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            http.should_exit = True
            raise OSError(f"the REST API did not start on {sock.getsockname()[0]}:{sock.getsockname()[1]}")
        time.sleep(0.02)
    return thread, http


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, proto descriptors, mappers, the app: a few hundred thousand) out of the
    garbage collector's sight. Each full collection would otherwise traverse them all and stall every request
    for 0.2-0.5 s, the whole p99 of a read; frozen, a collection looks only at what was created since."""
    gc.collect()
    gc.freeze()


def start_rest_processes(settings: Settings, sock: socket.socket, count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` more processes serving the REST API on the same listening socket (the kernel hands each new
    connection to one of them): Python runs one thread at a time per process, so on a machine of several cores
    small reads scale with processes. Each has its own admission limits, pool and token cache; they take the
    settings of this process and stop when it does."""
    env = {**os.environ}
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"COSTORY_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    command = [sys.executable, "-m", "control_plane.server", str(sock.fileno()), str(os.getpid())]
    return [subprocess.Popen(command, env=env, pass_fds=[sock.fileno()]) for _ in range(count)]


def serve_rest_process(fd: int, parent: int) -> None:
    """A REST-only process started by ``start_rest_processes``: serves on the inherited socket until SIGTERM,
    SIGINT, or its parent is gone."""
    from control_plane.logs import redacting

    with redacting():
        settings = Settings()
        logging.basicConfig(
            level=settings.log_level or "INFO",
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        _terminate_with_parent()
        if os.getppid() != parent:
            return
        services = build_services(settings)
        thread, http = start_http(services, Admission.from_settings(settings), socket.socket(fileno=fd))
        freeze_startup_heap()
        while not stopped.wait(1.0) and os.getppid() == parent:
            pass
        http.should_exit = True
        thread.join(GRACE_SECONDS)
        services.close()


def _terminate_with_parent() -> None:
    """Linux: have the kernel send SIGTERM to this process when its parent dies, even during start-up (elsewhere
    the parent is polled once a second)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then let in-flight work finish. Raises OSError (one line, naming the
    address) when a port is taken, before anything has started."""
    admission = Admission.from_settings(settings)
    server, port = bind_grpc(settings.grpc_address, settings, admission)  # both ports first: fail in seconds
    try:
        sock = bind_http(settings.http_address)
    except OSError:
        server.stop(None)
        raise
    try:
        services = build_services(settings)
    except BaseException:
        server.stop(None)
        sock.close()
        raise
    add_servicers(server, services)
    server.start()
    log.info("gRPC API on %s:%d", settings.grpc_address.rpartition(":")[0], port)
    try:
        http_thread, http = start_http(services, admission, sock)
    except OSError:
        server.stop(None)
        services.close()
        raise
    host, http_port = sock.getsockname()[:2]
    rest_processes = start_rest_processes(settings, sock, settings.rest_processes - 1)
    log.info(
        "REST API on http://%s:%d (OpenAPI at /openapi.json), %d process(es)",
        host,
        http_port,
        settings.rest_processes,
    )

    stopped = threading.Event()
    scheduler_thread = None
    if settings.scheduler_enabled:
        from control_plane.jobs import start_scheduler

        scheduler_thread = start_scheduler(services, stopped)

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    freeze_startup_heap()
    stopped.wait()
    http.should_exit = True
    for process in rest_processes:
        process.terminate()
    server.stop(GRACE_SECONDS).wait()
    http_thread.join(GRACE_SECONDS)
    for process in rest_processes:
        try:
            process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
    if scheduler_thread is not None:
        scheduler_thread.join(GRACE_SECONDS)
    services.close()
    log.info("control plane stopped")


if __name__ == "__main__":  # a process started by start_rest_processes
    serve_rest_process(int(sys.argv[1]), int(sys.argv[2]))
