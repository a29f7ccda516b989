"""The import and the query on PostgreSQL (the production database), against files in moto."""

from __future__ import annotations

from datetime import date

import pytest

from control_plane.db import create_engine, create_sessionmaker
from control_plane.metrics.query import metric_series
from tests.control_plane.imports.support import Metric, add_datasource, usage, values
from tests.control_plane.imports.test_metrics_pipeline import run, team


@pytest.fixture
def pg_sessions(postgres_url):
    engine = create_engine(postgres_url)
    yield create_sessionmaker(engine)
    engine.dispose()


def test_last_file_wins_and_query_on_postgresql(pg_sessions, bucket, clock):
    ds = add_datasource(pg_sessions, Metric())
    bucket.put(
        "2024-01-01.parquet",
        usage(["2024-01-01", "2024-01-01", "2024-01-02"], ["a", "b", "a"], [10, 5, 7]),
    )
    run(pg_sessions, ds, bucket.store(), clock)
    # Re-sent with new numbers for the 2nd only.
    bucket.put("2024-01-02.parquet", usage(["2024-01-02"], ["a"], [9]), later=True)
    run(pg_sessions, ds, bucket.store(), clock)

    assert values(pg_sessions, ds) == [
        ("2024-01-01", team("a"), 10.0, 1),
        ("2024-01-01", team("b"), 5.0, 1),
        ("2024-01-02", team("a"), 9.0, 1),
    ]
    with pg_sessions() as session:
        table = metric_series(
            session, ds, "api_calls", start=date(2024, 1, 1), end=date(2024, 1, 3), group_by=["team"]
        )
    assert table.to_pylist() == [
        {"day": date(2024, 1, 1), "team": "a", "value": 10.0},
        {"day": date(2024, 1, 1), "team": "b", "value": 5.0},
        {"day": date(2024, 1, 2), "team": "a", "value": 9.0},
        {"day": date(2024, 1, 2), "team": "b", "value": 0.0},
        {"day": date(2024, 1, 3), "team": "a", "value": 0.0},
        {"day": date(2024, 1, 3), "team": "b", "value": 0.0},
    ]
