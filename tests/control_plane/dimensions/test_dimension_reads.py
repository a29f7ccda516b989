"""GetAllocationState takes the dimension and its result pointer from the database, gives the connection back
to the pool, then reads and summarises the results' Parquet: a large result never holds the pool."""

from __future__ import annotations

import pytest

from control_plane.billing.cur import normalize
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.dimensions import compute
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Tenant
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month
from tests.control_plane.pool import checked_out_when_called

TEAM = {
    "name": "team",
    "rules": [
        {
            "name": "tagged",
            "conditions": [{"column": "tag:team", "operator": "EXISTS"}],
            "from_column": {"column": "tag:team"},
        },
        {
            "name": "gateway",
            "conditions": [{"column": "x_ProductCode", "operator": "EQUALS", "values": ["AmazonApiGateway"]}],
            "split_percent": {"Team_A": 75.0, "Team_B": 25.0},
        },
    ],
}


@pytest.fixture
def engine(settings):
    migrate(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1, pool_timeout=1)
    yield engine
    engine.dispose()


@pytest.fixture
def saved(engine, settings) -> tuple[str, str]:
    """(tenant id, dimension id): the `team` dimension computed over the guide's January bill."""
    with create_sessionmaker(engine).begin() as session:
        tenant, _token = create_tenant(session, "Tenant A")
        tenant_id = tenant.id
    costs = normalize(guide_cur(), datasource_id="bds_guide", billing_period="2026-01", partition_id=1)
    seed_month(create_sessionmaker(engine), settings.data_dir, tenant_id, "bds_guide", "2026-01", costs)
    with create_sessionmaker(engine).begin() as session:
        row, _warnings = dimensions.create_dimension(
            session, session.get(Tenant, tenant_id), TEAM, Engine.local(settings.data_dir)
        )
        return tenant_id, row.id


def test_the_allocation_state_is_summarised_without_a_database_connection(engine, saved, settings, monkeypatch):
    tenant_id, dimension_id = saved
    seen = checked_out_when_called(monkeypatch, engine, compute, "read_totals")

    with create_sessionmaker(engine).begin() as session:
        state = dimensions.allocation_state(
            session, session.get(Tenant, tenant_id), dimension_id, Engine.local(settings.data_dir)
        )

    assert seen == [0]
    assert state.summary is not None
    assert (state.row.id, state.row.status) == (dimension_id, "COMPUTED")
    assert {value: f"{amount:.2f}" for value, amount in state.summary.by_value.items()} == {
        "Team_A": "860.01",
        "Team_B": "298.99",
        "Unallocated": "12.00",
    }
