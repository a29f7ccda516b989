"""Cost reads (control_plane/cost) take what they need from the database first and give the connection back
to the pool before their columnar work (DuckDB, the allocation engine), so slow reads never hold the pool."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from control_plane.billing.cur import normalize
from control_plane.cost.model import Query
from control_plane.cost.preview import preview_cost_split
from control_plane.cost.query import run
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.dimensions import compute
from control_plane.dimensions.compute import Engine
from control_plane.metrics import query
from control_plane.models import MetricDefinition, MetricsDatasource, MetricValue, Tenant
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month
from tests.control_plane.pool import checked_out_when_called

JANUARY = {"start": date(2026, 1, 1), "end": date(2026, 1, 31)}


@pytest.fixture
def engine(settings):
    migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1, pool_timeout=1)
    yield engine
    engine.dispose()


@pytest.fixture
def tenant_id(engine, settings) -> str:
    """A tenant holding the guide's January bill, and a metrics datasource with one metric."""
    with create_sessionmaker(engine).begin() as session:
        tenant, _token = create_tenant(session, "Tenant A")
        session.add(
            MetricsDatasource(
                id="mds_usage", tenant_id=tenant.id, name="usage", bucket_name="b", prefix="", role_arn="arn:r"
            )
        )
        session.add(
            MetricDefinition(
                datasource_id="mds_usage",
                position=0,
                metric_name="api_calls",
                gap_filling="ZERO",
                aggregation="SUM",
                value_column="api_calls",
                date_column="date",
                dimensions=["team"],
            )
        )
        tenant_id = tenant.id
    costs = normalize(guide_cur(), datasource_id="bds_guide", billing_period="2026-01", partition_id=1)
    seed_month(create_sessionmaker(engine), settings.data_dir, tenant_id, "bds_guide", "2026-01", costs)
    return tenant_id


def test_a_cost_query_runs_duckdb_without_a_database_connection(engine, tenant_id, settings, monkeypatch):
    seen = checked_out_when_called(monkeypatch, engine, compute, "connect_duckdb")

    with create_sessionmaker(engine).begin() as session:
        tenant = session.get(Tenant, tenant_id)
        result = run(session, tenant, Engine.local(settings.data_dir), Query(**JANUARY, granularity="MONTH"))

    assert seen == [0]
    assert [(r.period, r.cost) for r in result.rows] == [("2026-01", Decimal("1171.00"))]


def test_a_preview_allocates_without_a_database_connection(engine, tenant_id, settings, monkeypatch):
    seen = checked_out_when_called(monkeypatch, engine, compute, "allocate_partitions")

    with create_sessionmaker(engine).begin() as session:
        tenant = session.get(Tenant, tenant_id)
        preview = preview_cost_split(
            session,
            tenant,
            Engine.local(settings.data_dir),
            **JANUARY,
            metric={"metrics_datasource_id": "mds_usage", "metric_name": "api_calls", "dimension": "team"},
            cost_filter=[{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
        )

    assert seen == [0]
    assert (preview.rows, preview.total_cost, preview.unmapped_owners) == ([], Decimal("1000.00"), [])


def test_a_preview_fills_the_usage_without_a_database_connection(engine, tenant_id, settings, monkeypatch):
    with create_sessionmaker(engine).begin() as session:
        for day, team, calls in ((date(2026, 1, 5), "Team_A", 3.0), (date(2026, 1, 6), "Team_B", 1.0)):
            session.add(
                MetricValue(
                    datasource_id="mds_usage",
                    metric_name="api_calls",
                    day=day,
                    dimensions={"team": team},
                    value=calls,
                    row_count=1,
                )
            )
    seen = checked_out_when_called(monkeypatch, engine, query, "fill_and_group")

    with create_sessionmaker(engine).begin() as session:
        tenant = session.get(Tenant, tenant_id)
        preview = preview_cost_split(
            session,
            tenant,
            Engine.local(settings.data_dir),
            **JANUARY,
            metric={"metrics_datasource_id": "mds_usage", "metric_name": "api_calls", "dimension": "team"},
            cost_filter=[{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon API Gateway"]}],
        )

    assert seen == [0]
    assert [(r.value, r.usage, r.cost) for r in preview.rows] == [
        ("Team_A", 3.0, Decimal("750.00")),
        ("Team_B", 1.0, Decimal("250.00")),
    ]
