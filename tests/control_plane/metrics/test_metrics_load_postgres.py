"""The load on PostgreSQL: values go through COPY, so text that COPY's format escapes must arrive unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from control_plane.db import create_engine, create_sessionmaker
from control_plane.metrics.load import load_file
from control_plane.metrics.reader import MetricSpec, read_metrics
from control_plane.storage import ObjectInfo
from tests.control_plane.imports.support import add_datasource, parquet_bytes, values


@pytest.fixture
def pg_sessions(postgres_url):
    engine = create_engine(postgres_url)
    yield create_sessionmaker(engine)
    engine.dispose()


AWKWARD = ["tab\there", "line\nbreak", "back\\slash \\N", 'quote " and \'', "ünï ☃", None]


def test_copy_keeps_every_character_and_null(pg_sessions):
    ds = add_datasource(pg_sessions)
    data = {
        "date": ["2024-01-01"] * 6 + ["2024-01-02"],
        "team": [*AWKWARD, "tab\there"],
        "api_call_count": [1, 2, 3, 4, 5, 6, 7.5],
    }
    tables = read_metrics(parquet_bytes(data), [MetricSpec("api_calls", "date", "api_call_count", ("team",))])
    obj = ObjectInfo("usage/a.parquet", "e1", 10, datetime(2024, 1, 3, tzinfo=UTC))
    with pg_sessions.begin() as session:
        record = load_file(session, ds, obj, tables, import_id=None, now=datetime(2024, 1, 3, tzinfo=UTC))
        assert record.rows == 7

    # `values` sorts by day, then text with null last.
    assert values(pg_sessions, ds) == [
        ("2024-01-01", (("team", "back\\slash \\N"),), 3.0, 1),
        ("2024-01-01", (("team", "line\nbreak"),), 2.0, 1),
        ("2024-01-01", (("team", 'quote " and \''),), 4.0, 1),
        ("2024-01-01", (("team", "tab\there"),), 1.0, 1),
        ("2024-01-01", (("team", "ünï ☃"),), 5.0, 1),
        ("2024-01-01", (("team", None),), 6.0, 1),
        ("2024-01-02", (("team", "tab\there"),), 7.5, 1),
    ]
