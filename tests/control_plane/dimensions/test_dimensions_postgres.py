"""A virtual dimension computed, summarised, and refused on a real PostgreSQL (loopback): the definition and
the results it points at are saved together or not at all."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from control_plane.allocation import AllocationError
from control_plane.billing.cur import normalize
from control_plane.datastore import DataStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.dimensions import compute
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.errors import FailedPrecondition
from control_plane.models import Dimension, Tenant
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month

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
# Gateway + its tax line: $1,080 split 75/25 row by row; the half cents of the $260.98 and $287.06 days
# (26,098 and 28,706 cents) tie and go to the smaller value, Team_A. EC2 by tag; S3 unmatched.
SPLIT = {"Team_A": "860.01", "Team_B": "298.99", "Unallocated": "12.00"}


@pytest.fixture
def pg_sessions(postgres_url):
    engine = create_engine(postgres_url)
    yield create_sessionmaker(engine)
    engine.dispose()


def by_value(state: dimensions.AllocationState) -> dict[str, str]:
    assert state.summary is not None
    return {k: f"{v:.2f}" for k, v in state.summary.by_value.items()}


def test_allocate_then_a_failed_update_on_postgres(pg_sessions, tmp_path, monkeypatch):
    with pg_sessions.begin() as session:
        tenant, _token = create_tenant(session, "pg")
        tenant_id = tenant.id
    costs = normalize(guide_cur(), datasource_id="bds_pg", billing_period="2026-01", partition_id=1)
    seed_month(pg_sessions, tmp_path, tenant_id, "bds_pg", "2026-01", costs)
    with pg_sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        row, warnings = dimensions.create_dimension(session, tenant, TEAM, Engine.local(tmp_path))
        assert warnings == []
        dimension_id = row.id
    with pg_sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        assert session.scalar(sa.select(Dimension.status)) == "COMPUTED"
        served = session.scalar(sa.select(Dimension.allocation_file))
        # last: reading the state gives the connection back, which ends this transaction
        assert by_value(dimensions.allocation_state(session, tenant, dimension_id, Engine.local(tmp_path))) == SPLIT

    def fail(*_args, **_kwargs):
        raise AllocationError("usage of rule 'calls' on 2026-01-02 is negative (-3)")

    monkeypatch.setattr(compute.Allocator, "allocate", fail)
    with pytest.raises(FailedPrecondition), pg_sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        dimensions.update_dimension(
            session, tenant, dimension_id, {"rules": TEAM["rules"][:1]}, ["rules"], Engine.local(tmp_path)
        )
    monkeypatch.undo()

    with pg_sessions.begin() as session:
        tenant = session.get(Tenant, tenant_id)
        row = dimensions.get_dimension(session, tenant, dimension_id)
        assert ([r["name"] for r in row.rules], row.allocation_file) == (["tagged", "gateway"], served)
        assert by_value(dimensions.allocation_state(session, tenant, dimension_id, Engine.local(tmp_path))) == SPLIT
    base = compute.tenant_folder(tenant_id)
    keys = {o.key[len(base) + 1 :].rpartition("/")[0] for o in DataStore.local(tmp_path).list(base)}
    assert keys == {served}
