"""The query model on a hand-made tenant (tests/control_plane/cost/query_tenant.py: 11 rows, January to March
2026, dimensions `team` and `env` that both split the `shared` rows). Every expected table below is worked out
by hand from that table; every query's rows add up to its total (and previous total).

Worked shares: row 3 ($6.00) is split evenly by both dimensions, so each (team, env) pair gets 6 * 1/2 * 1/2 =
$1.50; row 6 ($2.00) gives $0.50 per pair; row 10 ($0.02) gives $0.005 per pair, and the largest-remainder
rounding hands its two cents to the first two of those pairs in the order shown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
from fastapi.testclient import TestClient
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from control_plane.cost import periods
from control_plane.cost.model import Filter, Query
from control_plane.cost.query import run
from control_plane.dimensions.compute import Engine
from control_plane.errors import InvalidArgument, NotFound
from control_plane.messages import to_json
from control_plane.models import Tenant
from control_plane.rest.app import create_app
from control_plane.services import build_services
from control_plane.tenants.service import create_tenant
from costory_proto.costory.v1 import cost_pb2, query_pb2
from tests.control_plane.cost.query_tenant import HandMade, seed

D = Decimal
Q1 = {"start": date(2026, 1, 1), "end": date(2026, 3, 31)}


@pytest.fixture
def made(sessions, settings) -> HandMade:
    return seed(sessions, settings.data_dir)


def ask(sessions, settings, tenant_id: str, query: Query):
    with sessions.begin() as session:
        result = run(session, session.get(Tenant, tenant_id), Engine.local(settings.data_dir), query)
    assert sum(r.cost for r in result.rows) == result.total
    if result.previous_total is not None:
        assert sum(r.previous_cost for r in result.rows) == result.previous_total
    return result


def table(result, *fields: str, quantity: bool = False, previous: bool = False) -> list[tuple]:
    out = []
    for r in result.rows:
        row = (r.period, *(r.group[f] for f in fields), r.cost)
        row += (r.quantity,) if quantity else ()
        row += (r.previous_cost,) if previous else ()
        out.append(row)
    return out


def test_two_dimensions_and_a_cost_column(sessions, settings, made):
    team, env = f"dimension:{made.team}", f"dimension:{made.env}"
    result = ask(sessions, settings, made.tenant_id, Query(group_by=(team, env, "Provider"), granularity="MONTH", **Q1))
    assert table(result, team, env, "Provider") == [
        ("2026-01", "payments", "dev", "AWS", D("1.50")),  # row 3's quarter
        ("2026-01", "payments", "prod", "AWS", D("1.50")),
        ("2026-01", "payments", "prod", "Anthropic", D("10.00")),  # row 1
        ("2026-01", "search", "dev", "AWS", D("1.50")),
        ("2026-01", "search", "dev", "Anthropic", D("4.00")),  # row 2
        ("2026-01", "search", "prod", "AWS", D("1.50")),
        ("2026-02", "Unallocated", "dev", "Anthropic", D("1.00")),  # row 7
        ("2026-02", "payments", "dev", "AWS", D("0.50")),  # row 6's quarters
        ("2026-02", "payments", "prod", "AWS", D("0.50")),
        ("2026-02", "payments", "prod", "Anthropic", D("20.00")),  # row 4
        ("2026-02", "search", "dev", "AWS", D("0.50")),
        ("2026-02", "search", "prod", "AWS", D("0.50")),
        ("2026-02", "search", "prod", "Anthropic", D("8.00")),  # row 5
        ("2026-03", "payments", "dev", "AWS", D("0.01")),  # row 10: 0.005 each, the first two round up
        ("2026-03", "payments", "prod", "AWS", D("0.01")),
        ("2026-03", "payments", "prod", "Anthropic", D("35.00")),  # rows 8 and 11
        ("2026-03", "search", "dev", "AWS", D("0.00")),
        ("2026-03", "search", "dev", "Anthropic", D("3.00")),  # row 9
        ("2026-03", "search", "prod", "AWS", D("0.00")),
    ]
    assert result.total == D("89.02")


def test_dimension_filters(sessions, settings, made):
    team, env = f"dimension:{made.team}", f"dimension:{made.env}"
    total = {"granularity": "TOTAL", **Q1}
    dev = ask(
        sessions, settings, made.tenant_id, Query(group_by=(team,), filters=(Filter(env, "IN", ("dev",)),), **total)
    )
    # dev parts: row 2 (search 4), row 3's dev half (1.50 each), row 6's (0.50 each), row 7, row 9, row 10's.
    assert table(dev, team) == [
        ("2026-01-01/2026-03-31", "Unallocated", D("1.00")),
        ("2026-01-01/2026-03-31", "payments", D("2.01")),  # 2.005, rounded up: first of the two halves
        ("2026-01-01/2026-03-31", "search", D("9.00")),  # 9.005
    ]
    assert dev.total == D("12.01")
    not_dev = ask(
        sessions, settings, made.tenant_id, Query(group_by=(team,), filters=(Filter(env, "NOT_IN", ("dev",)),), **total)
    )
    assert table(not_dev, team) == [
        ("2026-01-01/2026-03-31", "payments", D("67.01")),  # 10 + 1.5 + 20 + 0.5 + 30 + 0.005 + 5
        ("2026-01-01/2026-03-31", "search", D("10.00")),  # 1.5 + 8 + 0.5 + 0.005
    ]
    assert dev.total + not_dev.total == D("89.02")
    prefixed = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(group_by=(env,), filters=(Filter(team, "PREFIX", ("pay", "Un")),), **total),
    )
    assert table(prefixed, env) == [
        ("2026-01-01/2026-03-31", "dev", D("3.01")),  # 1.5 + 0.5 + 0.005 + row 7's 1.00
        ("2026-01-01/2026-03-31", "prod", D("67.00")),  # 67.005
    ]
    search = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(group_by=("ServiceName",), filters=(Filter(team, "EQUALS", ("search",)),), **total),
    )
    assert table(search, "ServiceName") == [
        ("2026-01-01/2026-03-31", "Amazon RDS", D("4.01")),  # 3 + 1 + 0.01
        ("2026-01-01/2026-03-31", "Claude API", D("15.00")),  # 4 + 8 + 3
    ]
    untagged = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(group_by=("x_Model",), filters=(Filter("tag:env", "NOT_IN", ("prod",)),), **total),
    )
    # No tag and no model: rows 3, 6, 10 (a missing value matches NOT_IN); haiku: rows 2, 7, 9.
    assert table(untagged, "x_Model") == [
        ("2026-01-01/2026-03-31", None, D("8.02")),
        ("2026-01-01/2026-03-31", "haiku", D("8.00")),
    ]


def test_weeks_across_a_month_boundary(sessions, settings, made):
    query = Query(
        group_by=("Provider",),
        granularity="WEEK",
        start=date(2026, 1, 26),
        end=date(2026, 2, 8),
        with_quantity=True,
    )
    result = ask(sessions, settings, made.tenant_id, query)
    assert table(result, "Provider", quantity=True) == [
        ("2026-01-26", "AWS", D("6.00"), 0.0),  # Saturday 31 January
        ("2026-01-26", "Anthropic", D("20.00"), 3000.0),  # Sunday 1 February: the same ISO week
        ("2026-02-02", "AWS", D("2.00"), 0.0),
        ("2026-02-02", "Anthropic", D("8.00"), 1000.0),
    ]
    assert result.total == D("36.00")


PRESETS = {
    # last day with cost data: 2026-03-20 (row 11)
    "LAST_7_DAYS": (date(2026, 3, 14), date(2026, 3, 20), D("5.00")),
    "LAST_30_DAYS": (date(2026, 2, 19), date(2026, 3, 20), D("39.02")),  # rows 7 to 11
    "LAST_90_DAYS": (date(2025, 12, 21), date(2026, 3, 20), D("89.02")),
    "LAST_MONTH": (date(2026, 2, 1), date(2026, 2, 28), D("31.00")),
    "MONTH_TO_DATE": (date(2026, 3, 1), date(2026, 3, 20), D("38.02")),
    "QUARTER_TO_DATE": (date(2026, 1, 1), date(2026, 3, 20), D("89.02")),
    "YEAR_TO_DATE": (date(2026, 1, 1), date(2026, 3, 20), D("89.02")),
}


def test_each_preset_ends_on_the_last_day_with_data(sessions, settings, made):
    for preset, (start, end, total) in PRESETS.items():
        result = ask(sessions, settings, made.tenant_id, Query(preset=preset, granularity="TOTAL"))  # type: ignore[arg-type]
        assert (preset, result.start, result.end, result.total) == (preset, start, end, total)
        assert [r.period for r in result.rows] == [f"{start}/{end}"]


def test_a_preset_without_cost_data_ends_today(sessions, settings):
    with sessions.begin() as session:
        tenant, _ = create_tenant(session, "Empty")
        tenant_id = tenant.id
    result = ask(sessions, settings, tenant_id, Query(preset="LAST_7_DAYS"))
    today = datetime.now(UTC).date()
    assert (result.start, result.end, result.rows, result.total) == (today - timedelta(days=6), today, [], 0)


@pytest.mark.parametrize(
    ("preset", "last_day", "expected"),
    [
        ("LAST_MONTH", date(2026, 3, 31), (date(2026, 2, 1), date(2026, 2, 28))),
        ("LAST_MONTH", date(2026, 1, 5), (date(2025, 12, 1), date(2025, 12, 31))),
        ("QUARTER_TO_DATE", date(2026, 5, 15), (date(2026, 4, 1), date(2026, 5, 15))),
        ("YEAR_TO_DATE", date(2024, 2, 29), (date(2024, 1, 1), date(2024, 2, 29))),
        ("LAST_7_DAYS", date(2026, 3, 3), (date(2026, 2, 25), date(2026, 3, 3))),
    ],
)
def test_preset_arithmetic(preset, last_day, expected):
    assert periods.resolve(preset, last_day) == expected


@pytest.mark.parametrize(
    ("start", "end", "preset", "expected"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), "MONTH_TO_DATE", (date(2026, 2, 1), date(2026, 2, 28))),  # clipped
        (date(2026, 4, 1), date(2026, 5, 31), "QUARTER_TO_DATE", (date(2026, 1, 1), date(2026, 2, 28))),
        (date(2024, 1, 1), date(2024, 2, 29), "YEAR_TO_DATE", (date(2023, 1, 1), date(2023, 2, 28))),
        (date(2026, 2, 1), date(2026, 2, 28), "LAST_MONTH", (date(2026, 1, 1), date(2026, 1, 31))),
        (date(2026, 2, 1), date(2026, 2, 28), None, (date(2026, 1, 4), date(2026, 1, 31))),  # 28 days before
    ],
)
def test_previous_period_arithmetic(start, end, preset, expected):
    assert periods.previous(start, end, preset) == expected


def test_compare_with_the_previous_period(sessions, settings, made):
    team = f"dimension:{made.team}"
    to_date = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(preset="MONTH_TO_DATE", compare=True, granularity="TOTAL", group_by=(team,)),
    )
    # 1-20 March against 1-20 February.
    assert (to_date.previous_start, to_date.previous_end) == (date(2026, 2, 1), date(2026, 2, 20))
    assert table(to_date, team, previous=True) == [
        ("2026-03-01/2026-03-20", "Unallocated", D("0.00"), D("1.00")),  # row 7, nothing this month
        ("2026-03-01/2026-03-20", "payments", D("35.01"), D("21.00")),  # 30 + 0.01 + 5 against 20 + 1
        ("2026-03-01/2026-03-20", "search", D("3.01"), D("9.00")),  # 3 + 0.01 against 8 + 1
    ]
    assert (to_date.total, to_date.previous_total) == (D("38.02"), D("31.00"))
    daily = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(group_by=("Provider",), start=date(2026, 2, 1), end=date(2026, 2, 2), compare=True),
    )
    # The previous two days, 30 and 31 January, line up with 1 and 2 February.
    assert table(daily, "Provider", previous=True) == [
        ("2026-02-01", "Anthropic", D("20.00"), D("0.00")),
        ("2026-02-02", "AWS", D("2.00"), D("6.00")),  # row 3, 31 January
        ("2026-02-02", "Anthropic", D("8.00"), D("0.00")),
    ]
    assert (daily.total, daily.previous_total) == (D("30.00"), D("6.00"))


def test_top_n_folds_the_rest_into_other(sessions, settings, made):
    team = f"dimension:{made.team}"
    monthly = ask(sessions, settings, made.tenant_id, Query(group_by=(team,), top_n=1, granularity="MONTH", **Q1))
    # Over the range: payments 69.01, search 19.01, Unallocated 1.00.
    assert table(monthly, team) == [
        ("2026-01", "payments", D("13.00")),
        ("2026-01", "Other", D("7.00")),
        ("2026-02", "payments", D("21.00")),
        ("2026-02", "Other", D("10.00")),  # search 9 + Unallocated 1
        ("2026-03", "payments", D("35.01")),
        ("2026-03", "Other", D("3.01")),
    ]
    two = ask(
        sessions, settings, made.tenant_id, Query(group_by=("x_Model", "Provider"), top_n=2, granularity="TOTAL", **Q1)
    )
    # sonnet 73.00, (no model, AWS) 8.02, haiku 8.00: haiku goes to Other in both fields.
    assert table(two, "x_Model", "Provider") == [
        ("2026-01-01/2026-03-31", None, "AWS", D("8.02")),
        ("2026-01-01/2026-03-31", "sonnet", "Anthropic", D("73.00")),
        ("2026-01-01/2026-03-31", "Other", "Other", D("8.00")),
    ]


def test_effective_and_list_cost(sessions, settings, made):
    team, env = f"dimension:{made.team}", f"dimension:{made.env}"
    total = {"granularity": "TOTAL", **Q1}
    effective = ask(sessions, settings, made.tenant_id, Query(group_by=(team,), metric="EFFECTIVE", **total))
    assert table(effective, team) == [
        ("2026-01-01/2026-03-31", "Unallocated", D("1.00")),
        ("2026-01-01/2026-03-31", "payments", D("55.51")),  # 8 + 2.5 + 16 + 1 + 24 + 0.01 + 4
        ("2026-01-01/2026-03-31", "search", D("16.51")),  # 4 + 2.5 + 6 + 1 + 3 + 0.01
    ]
    listed = ask(sessions, settings, made.tenant_id, Query(group_by=(env,), metric="LIST", **total))
    assert table(listed, env) == [
        ("2026-01-01/2026-03-31", "dev", D("15.01")),  # 5 + 4 + 1 + 1 + 4 + 0.01
        ("2026-01-01/2026-03-31", "prod", D("93.01")),  # 12 + 4 + 24 + 10 + 1 + 36 + 0.01 + 6
    ]


def test_quantity_next_to_cost(sessions, settings, made):
    team = f"dimension:{made.team}"
    result = ask(
        sessions,
        settings,
        made.tenant_id,
        Query(group_by=(team, "x_Model"), granularity="TOTAL", with_quantity=True, **Q1),
    )
    assert table(result, team, "x_Model", quantity=True) == [
        ("2026-01-01/2026-03-31", "Unallocated", "haiku", D("1.00"), 500.0),
        ("2026-01-01/2026-03-31", "payments", None, D("4.01"), 0.0),
        ("2026-01-01/2026-03-31", "payments", "sonnet", D("65.00"), 9500.0),
        ("2026-01-01/2026-03-31", "search", None, D("4.01"), 0.0),
        ("2026-01-01/2026-03-31", "search", "haiku", D("7.00"), 8000.0),
        ("2026-01-01/2026-03-31", "search", "sonnet", D("8.00"), 1000.0),
    ]
    assert result.total == D("89.02")


def test_bad_queries_name_the_field(sessions, settings, made):
    bad = Query(
        group_by=("Nope", "ServiceName", "ServiceName"),
        filters=(Filter("ServiceName", "LIKE", ("a",)), Filter("tag:", "EQUALS", ("a", "b"))),  # type: ignore[arg-type]
        granularity="YEAR",  # type: ignore[arg-type]
        start=date(2026, 2, 1),
        end=date(2026, 1, 1),
        top_n=-1,
    )
    with pytest.raises(InvalidArgument) as caught, sessions.begin() as session:
        run(session, session.get(Tenant, made.tenant_id), Engine.local(settings.data_dir), bad)
    assert [v.field for v in caught.value.violations] == [
        "query.filters[0].operator",
        "query.granularity",
        "query.group_by[0]",
        "query.group_by[2]",
        "query.filters[1].field",
        "query.filters[1].values",
        "query.start_date",
        "query.top_n",
    ]
    with pytest.raises(InvalidArgument) as caught, sessions.begin() as session:
        run(
            session,
            session.get(Tenant, made.tenant_id),
            Engine.local(settings.data_dir),
            Query(preset="LAST_MONTH", start=date(2026, 1, 1)),
        )
    assert [v.field for v in caught.value.violations] == ["query.preset"]


def test_another_tenants_dimension_is_not_found(sessions, settings, made):
    with sessions.begin() as session:
        other, _ = create_tenant(session, "Other")
        other_id = other.id
    query = Query(group_by=(f"dimension:{made.team}",), **Q1)
    with pytest.raises(NotFound, match="not found"), sessions.begin() as session:
        run(session, session.get(Tenant, other_id), Engine.local(settings.data_dir), query)


def test_rest_and_grpc_give_the_same_answer(sessions, settings, tenant_a):
    made = seed(sessions, settings.data_dir, tenant_a.tenant_id, tenant_a.token)
    team = f"dimension:{made.team}"
    message = query_pb2.CostQuery(
        group_by=[team, "x_Model"],
        filters=[query_pb2.QueryFilter(field="Provider", operator="IN", values=["Anthropic"])],
        granularity="MONTH",
        preset="QUARTER_TO_DATE",
        compare=True,
        top_n=2,
        with_quantity=True,
    )
    request = cost_pb2.QueryCostsRequest(query=message, page_size=2)
    by_grpc = tenant_a.costs.QueryCosts(request)
    services = build_services(settings)
    headers = {"Authorization": f"Bearer {tenant_a.token}"}
    try:
        with TestClient(create_app(services)) as rest:
            by_rest = rest.post("/v1/costs:query", json=to_json(request), headers=headers)
            assert by_rest.status_code == 200, by_rest.text
            bad = rest.post(
                "/v1/costs:query",
                json={
                    "query": {"preset": "LAST_MONTH", "filters": [{"field": team, "operator": "LIKE", "values": ["a"]}]}
                },
                headers=headers,
            )
    finally:
        services.close()
    assert by_rest.json() == to_json(by_grpc)
    # Anthropic's rows, 1 January - 20 March: (payments, sonnet) 65.00 and (search, sonnet) 8.00 are the top 2;
    # (search, haiku) 7.00 and (Unallocated, haiku) 1.00 are Other. Nothing in the previous quarter.
    assert [
        (r.period, r.group[team], r.group["x_Model"], r.cost, r.quantity, r.previous_cost) for r in by_grpc.rows
    ] == [
        ("2026-01", "payments", "sonnet", "10.00", 1000.0, "0.00"),
        ("2026-01", "Other", "Other", "4.00", 2000.0, "0.00"),
    ]
    assert by_grpc.next_page_token
    assert (by_grpc.total_cost, by_grpc.start_date, by_grpc.end_date) == ("81.00", "2026-01-01", "2026-03-20")
    assert (by_grpc.previous_start_date, by_grpc.previous_end_date, by_grpc.previous_total_cost) == (
        "2025-10-01",
        "2025-12-20",
        "0.00",
    )
    assert bad.status_code == 400
    assert [d["loc"] for d in bad.json()["detail"]] == [["query", "filters", 0, "operator"]]
    with pytest.raises(grpc.RpcError) as caught:
        tenant_a.costs.QueryCosts(cost_pb2.QueryCostsRequest(query=query_pb2.CostQuery(preset="LAST_MONTH", top_n=-2)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["query.top_n"]


def test_a_dimension_without_results_answers_no_rows(sessions, settings, made):
    """A dimension whose results are not there yet (its pointer unset) answers nothing rather than every cost
    as unallocated."""
    from control_plane.models import Dimension

    with sessions.begin() as session:
        session.get(Dimension, made.team).allocation_file = None
    result = ask(sessions, settings, made.tenant_id, Query(group_by=(f"dimension:{made.team}",), **Q1))
    assert (result.rows, result.total) == ([], D("0.00"))


def test_no_previous_period_before_the_first_day_a_request_may_name(sessions, settings, made):
    query = Query(start=date(2000, 1, 1), end=date(2000, 1, 31), compare=True)
    result = ask(sessions, settings, made.tenant_id, query)
    assert (result.previous_start, result.previous_total, result.rows) == (None, None, [])


def test_top_n_ties_go_to_the_first_name(sessions, settings, made):
    """Row 6 (Amazon RDS, 2 February, $2.00) gives payments and search $1.00 each: the tie goes to the first
    name, `payments`."""
    team = f"dimension:{made.team}"
    query = Query(
        group_by=(team,),
        filters=(Filter("ServiceName", "EQUALS", ("Amazon RDS",)),),
        start=date(2026, 2, 2),
        end=date(2026, 2, 2),
        top_n=1,
    )
    result = ask(sessions, settings, made.tenant_id, query)
    assert table(result, team) == [("2026-02-02", "payments", D("1.00")), ("2026-02-02", "Other", D("1.00"))]
