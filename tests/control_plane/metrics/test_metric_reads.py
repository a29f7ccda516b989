"""Metric value queries take the definition and stored values from the database, give the connection back to
the pool, then fill the gaps (columnar): a long range or many series never holds the pool."""

from __future__ import annotations

from datetime import date

import pytest

from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.metrics import imports, query
from control_plane.metrics.query import AuthorizedDatasourceId
from control_plane.models import MetricDefinition, MetricsDatasource, MetricValue
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from tests.control_plane.pool import checked_out_when_called


@pytest.fixture
def engine(settings):
    migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1, pool_timeout=1)
    yield engine
    engine.dispose()


@pytest.fixture
def datasource_id(engine) -> AuthorizedDatasourceId:
    """A datasource whose `api_calls` (ZERO filling, by team) has one value: Team_A, 2026-01-02, 5 calls."""
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
                unit="calls",
            )
        )
        session.flush()
        session.add(
            MetricValue(
                datasource_id="mds_usage",
                metric_name="api_calls",
                day=date(2026, 1, 2),
                dimensions={"team": "Team_A"},
                value=5.0,
                row_count=1,
            )
        )
    return AuthorizedDatasourceId("mds_usage")


def test_metric_values_are_filled_without_a_database_connection(engine, datasource_id, monkeypatch):
    seen = checked_out_when_called(monkeypatch, engine, query, "fill_and_group")

    with create_sessionmaker(engine).begin() as session:
        response = imports.query_values(
            session, datasource_id, "api_calls", start=date(2026, 1, 1), end=date(2026, 1, 3), group_by=["team"]
        )

    assert seen == [0]
    assert response == pb.QueryMetricValuesResponse(
        rows=[
            pb.MetricValueRow(day=f"2026-01-0{day}", dimensions={"team": "Team_A"}, value=value)
            for day, value in ((1, 0.0), (2, 5.0), (3, 0.0))
        ],
        unit="calls",
    )


def test_metric_series_is_the_load_then_the_fill(engine, datasource_id):
    """The one-call form (jobs, which hold their transaction anyway) returns what the two steps return."""
    with create_sessionmaker(engine).begin() as session:
        loaded = query.load_series(
            session, datasource_id, "api_calls", start=date(2026, 1, 1), end=date(2026, 1, 3), group_by=[]
        )
        series = query.metric_series(
            session, datasource_id, "api_calls", start=date(2026, 1, 1), end=date(2026, 1, 3), group_by=[]
        )

    assert (loaded.unit, loaded.values.num_rows) == ("calls", 1)
    assert series.to_pylist() == loaded.filled().to_pylist() == [
        {"day": date(2026, 1, 1), "value": 0.0},
        {"day": date(2026, 1, 2), "value": 5.0},
        {"day": date(2026, 1, 3), "value": 0.0},
    ]
