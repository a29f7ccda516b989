"""Cost queries by a virtual dimension answer from the dimension's summary, never from the rows: the same
answers as the query over the cost partitions and results, for every shape the summary covers, and still there
when those rows are gone.

Cost data: the guide's CUR month (17 rows, $1,171.00: API Gateway $1,000.00 + its $80.00 tax line, EC2 $79.00,
S3 $12.00; 1 unit per row) and a second datasource's Anthropic tokens the same month ($16.00, 5.1M tokens)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from control_plane.billing.cur import normalize
from control_plane.billing.schema import source_table, with_row_identity
from control_plane.billing.store import CostStore
from control_plane.cost import query
from control_plane.cost.model import Filter, Query
from control_plane.datastore import DataStore
from control_plane.dimensions import compute
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.compute import Engine
from control_plane.models import Dimension, Tenant
from control_plane.tenants.service import create_tenant
from devtools.sample_cur import guide_cur
from devtools.seed import seed_month

TEAM = {
    "name": "team",
    "rules": [
        {
            "name": "compute",
            "conditions": [{"column": "ServiceName", "operator": "EQUALS", "values": ["Amazon Elastic Compute Cloud"]}],
            "value": "Compute",
        },
        {
            "name": "ai",
            "conditions": [{"column": "Provider", "operator": "EQUALS", "values": ["Anthropic"]}],
            "split_even": ["Payments", "Search"],
        },
    ],
}
TOKENS = [
    ("claude-sonnet-4", 1_000_000, "3.00"),
    ("claude-sonnet-4", 4_000_000, "12.00"),
    ("claude-haiku", 100_000, "1.00"),
]


@pytest.fixture
def tenant_id(sessions, settings) -> str:
    with sessions.begin() as session:
        tenant, _ = create_tenant(session, "Tenant S")
        tenant_id = tenant.id
    cur = normalize(guide_cur(), datasource_id="bds_cur", billing_period="2026-01", partition_id=1)
    seed_month(sessions, settings.data_dir, tenant_id, "bds_cur", "2026-01", cur)
    day = datetime(2026, 1, 20, tzinfo=UTC)
    tokens = source_table(
        {
            "ChargePeriodStart": [day] * len(TOKENS),
            "BilledCost": [Decimal(cost) for _, _, cost in TOKENS],
            "Provider": ["Anthropic"] * len(TOKENS),
            "ServiceName": ["Claude API"] * len(TOKENS),
            "x_Model": [model for model, _, _ in TOKENS],
            "ConsumedQuantity": [float(tokens) for _, tokens, _ in TOKENS],
        },
        len(TOKENS),
    )
    rows = with_row_identity(tokens, datasource_id="bds_ai", billing_period="2026-01", partition_id=2)
    seed_month(sessions, settings.data_dir, tenant_id, "bds_ai", "2026-01", rows)
    with sessions.begin() as session:
        dimensions.create_dimension(session, session.get(Tenant, tenant_id), TEAM, Engine.local(settings.data_dir))
    return tenant_id


def ask(sessions, settings, tenant_id, **shape):
    """(period, team, other groups, cost, quantity) per row of the query by `team` (filters naming `team`
    filter its values), January 2026."""
    shape = dict(shape)
    limit = shape.pop("limit", None)
    with sessions.begin() as session:
        team = session.query(Dimension.id).filter(Dimension.name == "team").scalar()
        by = f"dimension:{team}"
        filters = tuple(Filter(by if f[0] == "team" else f[0], "IN", f[1]) for f in shape.pop("filters", ()))
        result = query.run(
            session,
            session.get(Tenant, tenant_id),
            Engine.local(settings.data_dir),
            Query(
                start=date(2026, 1, 1),
                end=date(2026, 1, 31),
                group_by=(by, *shape.pop("group_by", ())),
                filters=filters,
                with_quantity=True,
                **shape,
            ),
            limit=limit,
        )
    assert sum(r.cost for r in result.rows) == result.total or limit
    return [
        (r.period, r.group[by], {k: v for k, v in r.group.items() if k != by}, r.cost, r.quantity) for r in result.rows
    ]


SHAPES = {
    "by month": {"granularity": "MONTH"},
    "by day": {"granularity": "DAY"},
    "by service": {"granularity": "MONTH", "group_by": ["ServiceName"]},
    "by model, daily": {"granularity": "DAY", "group_by": ["x_Model"]},
    "values filtered": {"granularity": "MONTH", "filters": [("team", ("Payments", "Compute"))]},
    "provider filtered": {"granularity": "MONTH", "filters": [("Provider", ("Anthropic",))]},
    "by account, filtered": {
        "granularity": "DAY",
        "group_by": ["SubAccountId"],
        "filters": [("SubAccountId", ("123456789012",)), ("team", ("Unallocated",))],
    },
    "paged": {"granularity": "DAY", "limit": 2},
    "weekly, top 2": {"granularity": "WEEK", "top_n": 2},
    "in total, compared": {"granularity": "TOTAL", "compare": True},
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_the_summary_answers_as_the_rows_do(sessions, settings, tenant_id, monkeypatch, shape):
    from_summary = ask(sessions, settings, tenant_id, **shape)
    with monkeypatch.context() as patched:
        patched.setattr(query, "_summarised", lambda _query: False)
        from_rows = ask(sessions, settings, tenant_id, **shape)
    assert from_summary == from_rows
    assert from_summary  # every shape has rows


def test_dimension_by_month_hand_worked(sessions, settings, tenant_id):
    assert ask(sessions, settings, tenant_id, granularity="MONTH") == [
        ("2026-01", "Compute", {}, Decimal("79.00"), 8.0),  # 8 EC2 rows of 1 unit each
        ("2026-01", "Payments", {}, Decimal("8.00"), 2_550_000.0),
        ("2026-01", "Search", {}, Decimal("8.00"), 2_550_000.0),
        ("2026-01", "Unallocated", {}, Decimal("1092.00"), 9.0),
    ]
    by_model = ask(sessions, settings, tenant_id, granularity="MONTH", group_by=["x_Model"])
    assert [(r[1], r[2], r[3], r[4]) for r in by_model if r[1] in ("Payments", "Search")] == [
        ("Payments", {"x_Model": "claude-haiku"}, Decimal("0.50"), 50_000.0),
        ("Payments", {"x_Model": "claude-sonnet-4"}, Decimal("7.50"), 2_500_000.0),
        ("Search", {"x_Model": "claude-haiku"}, Decimal("0.50"), 50_000.0),
        ("Search", {"x_Model": "claude-sonnet-4"}, Decimal("7.50"), 2_500_000.0),
    ]


def test_summary_reads_survive_the_rows_being_gone(sessions, settings, tenant_id):
    """The summary is all the dimension's reads need: with the result parts removed, they still answer (the
    query over the rows cannot)."""
    before = ask(sessions, settings, tenant_id, granularity="DAY", group_by=["ServiceName"])
    store = DataStore.local(settings.data_dir)
    with sessions.begin() as session:
        row = dimensions.get_dimension(session, session.get(Tenant, tenant_id), session_dimension_id(session))
        keys = compute.result_keys(tenant_id, row.id, row.allocation_file)
        assert keys is not None
        for key in keys.parts(store):
            store.delete(key)
        state = dimensions.state_of(row, Engine(store))
    assert ask(sessions, settings, tenant_id, granularity="DAY", group_by=["ServiceName"]) == before
    with pytest.raises(FileNotFoundError):  # the query over the rows: they are gone
        ask(sessions, settings, tenant_id, granularity="DAY", group_by=["RegionId"])
    assert state.summary is not None
    assert (state.summary.total, state.summary.cost_rows) == (Decimal("1187.00"), 20)
    assert state.summary.by_rule == {
        "compute": (Decimal("79.00"), 8),
        "ai": (Decimal("16.00"), 3),
        None: (Decimal("1092.00"), 9),
    }


def session_dimension_id(session) -> str:
    return session.query(Dimension.id).filter(Dimension.name == "team").scalar()


@pytest.mark.parametrize(
    "shape", [{"granularity": "DAY"}, {"granularity": "DAY", "group_by": ["RegionId"]}], ids=["summary", "rows"]
)
def test_an_object_replaced_since_its_key_was_read_is_read_again(sessions, settings, tenant_id, monkeypatch, shape):
    """Another replica's import or recompute removed what the keys named between reading them and scanning:
    the query reads the pointers again, once, and answers as if nothing had happened."""
    expected = ask(sessions, settings, tenant_id, **shape)
    stale_keys, stale_results = [], []
    real_keys, real_results = CostStore.partition_keys, compute.result_keys

    def keys_then_gone(self, session, tenant):
        keys = real_keys(self, session, tenant)
        if not stale_keys:
            stale_keys.append(keys[0].replace(".parquet", ".replaced.parquet"))
            return [stale_keys[0], *keys[1:]]
        return keys

    def results_then_gone(tenant, dimension_id, pointer):
        if not stale_results:
            stale_results.append(compute.ResultKeys(f"{compute.tenant_folder(tenant)}/{dimension_id}/{'f' * 32}"))
            return stale_results[0]
        return real_results(tenant, dimension_id, pointer)

    monkeypatch.setattr(CostStore, "partition_keys", keys_then_gone)
    monkeypatch.setattr(compute, "result_keys", results_then_gone)
    assert ask(sessions, settings, tenant_id, **shape) == expected
    # The summary's query reads no partition keys; the rows' query reads both.
    assert (len(stale_keys), len(stale_results)) == ((0, 1) if "group_by" not in shape else (1, 1))
