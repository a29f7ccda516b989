"""A control plane on 127.0.0.1:0 over a temporary SQLite file, with tenants A and B and their clients."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from sqlalchemy.orm import Session, sessionmaker

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.server import create_server
from control_plane.settings import Settings
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import (
    billing_datasource_pb2_grpc,
    cost_pb2_grpc,
    metrics_datasource_pb2_grpc,
    tenant_pb2_grpc,
    virtual_dimension_pb2_grpc,
)

_CALL_DETAILS = ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")


class _CallDetails(namedtuple("_CallDetails", _CALL_DETAILS), grpc.ClientCallDetails):
    pass


class _Metadata(grpc.UnaryUnaryClientInterceptor):
    """Adds fixed metadata (the authorization header) to every call."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]):
        self.metadata = metadata

    def intercept_unary_unary(self, continuation, details, request):
        values = {name: getattr(details, name, None) for name in _CALL_DETAILS}
        values["metadata"] = [*(values["metadata"] or ()), *self.metadata]
        return continuation(_CallDetails(**values), request)


@dataclass
class Client:
    """Stubs authenticated as one tenant (or with whatever metadata the test chose)."""

    tenant_id: str
    tenant_name: str
    token: str
    metrics: metrics_datasource_pb2_grpc.MetricsDatasourceServiceStub
    tenants: tenant_pb2_grpc.TenantServiceStub
    channel: grpc.Channel

    @property
    def billing(self) -> billing_datasource_pb2_grpc.BillingDatasourceServiceStub:
        return billing_datasource_pb2_grpc.BillingDatasourceServiceStub(self.channel)

    @property
    def dimensions(self) -> virtual_dimension_pb2_grpc.VirtualDimensionServiceStub:
        return virtual_dimension_pb2_grpc.VirtualDimensionServiceStub(self.channel)

    @property
    def costs(self) -> cost_pb2_grpc.CostServiceStub:
        return cost_pb2_grpc.CostServiceStub(self.channel)


@pytest.fixture
def settings(tmp_path) -> Settings:
    # Trust checks against AWS have tests of their own (tests/control_plane/trust, acceptance).
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}", trust_validation="skip", data_dir=tmp_path / "data"
    )


@pytest.fixture
def sessions(settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings.database_url)
    engine = create_engine(settings.database_url)
    yield create_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def port(settings) -> Iterator[int]:
    server, bound = create_server("127.0.0.1:0", settings)
    server.start()
    yield bound
    server.stop(None)


@pytest.fixture
def connect(port) -> Iterator:
    """``connect(metadata)`` → (metrics stub, tenants stub) sending that metadata on every call."""
    channels: list[grpc.Channel] = []

    def _connect(metadata: tuple[tuple[str, str], ...] = ()):
        channel = grpc.intercept_channel(grpc.insecure_channel(f"127.0.0.1:{port}"), _Metadata(metadata))
        channels.append(channel)
        return (
            metrics_datasource_pb2_grpc.MetricsDatasourceServiceStub(channel),
            tenant_pb2_grpc.TenantServiceStub(channel),
        )

    _connect.channels = channels
    yield _connect
    for channel in channels:
        channel.close()


def _tenant_client(sessions, connect, name: str) -> Client:
    with sessions.begin() as session:
        tenant, token = create_tenant(session, name)
        tenant_id = tenant.id
    metrics, tenants = connect((("authorization", f"Bearer {token}"),))
    return Client(tenant_id, name, token, metrics, tenants, connect.channels[-1])


@pytest.fixture
def tenant_a(sessions, connect) -> Client:
    return _tenant_client(sessions, connect, "Tenant A")


@pytest.fixture
def tenant_b(sessions, connect) -> Client:
    return _tenant_client(sessions, connect, "Tenant B")


@pytest.fixture
def bucket(moto):
    """A bucket in the moto server, to put the files an import reads."""
    from tests.control_plane.imports.support import Bucket

    return Bucket(moto.endpoint)


@pytest.fixture
def clock():
    """A fixed import clock: 2026-01-10 06:00 UTC."""
    from datetime import UTC, datetime

    instant = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    return lambda: instant
