"""CostQuery messages <-> cost.model.Query, and the checks a saved query passes, each naming its field under the
caller's path."""

from __future__ import annotations

from datetime import date

import pytest

from control_plane.cost.model import Filter, Query
from control_plane.dashboards.queries import from_query, problems_of, to_query
from control_plane.errors import InvalidArgument
from costory_proto.costory.v1 import query_pb2
from tests.control_plane.dashboards.conftest import filter_

PATH = ("widgets", 2, "query")


def test_a_full_message_becomes_the_query_and_back():
    message = query_pb2.CostQuery(
        group_by=["dimension:dim_1", "x_Model", "tag:env"],
        filters=[filter_("Provider", "IN", "Anthropic", "OpenAI"), filter_("tag:env", "PREFIX", "prod")],
        granularity="WEEK",
        metric="EFFECTIVE",
        start_date="2026-01-05",
        end_date="2026-02-01",
        compare=True,
        top_n=5,
        with_quantity=True,
    )
    query = to_query(message)
    assert query == Query(
        group_by=("dimension:dim_1", "x_Model", "tag:env"),
        filters=(Filter("Provider", "IN", ("Anthropic", "OpenAI")), Filter("tag:env", "PREFIX", ("prod",))),
        granularity="WEEK",
        metric="EFFECTIVE",
        start=date(2026, 1, 5),
        end=date(2026, 2, 1),
        preset=None,
        compare=True,
        top_n=5,
        with_quantity=True,
    )
    assert from_query(query) == message


def test_defaults_are_the_models_and_read_back_unset():
    message = query_pb2.CostQuery(preset="MONTH_TO_DATE")
    query = to_query(message)
    assert query == Query(preset="MONTH_TO_DATE")
    assert (query.granularity, query.metric, query.start, query.end) == ("DAY", "BILLED", None, None)
    assert from_query(query) == message


@pytest.mark.parametrize(
    ("fields", "violations"),
    [
        pytest.param(
            {"group_by": ["Team"]},
            [
                (
                    "widgets[2].query.group_by[0]",
                    "`Team` is not a field; use `tag:<key>`, `dimension:<id>` or a cost column such as `ServiceName`, "
                    "`Provider` or `x_Model` (every one is listed in docs/resources/dashboard.md).",
                )
            ],
            id="unknown-group-by",
        ),
        pytest.param(
            {"group_by": ["x_Model", "tag:", "x_Model"]},
            [
                ("widgets[2].query.group_by[1]", "`tag:` names no key; write `tag:<key>`."),
                ("widgets[2].query.group_by[2]", "`x_Model` is already grouped by at group_by[0]."),
            ],
            id="empty-tag-and-duplicate",
        ),
        pytest.param(
            {"filters": [filter_("Provider", "IN", "AWS"), filter_("dimension:", "CONTAINS", "a")]},
            [
                ("widgets[2].query.filters[1].field", "`dimension:` names no id; write `dimension:<id>`."),
                (
                    "widgets[2].query.filters[1].operator",
                    "`operator` is `CONTAINS`; it must be one of `IN`, `NOT_IN`, `EQUALS`, `PREFIX`.",
                ),
            ],
            id="bad-filter-field-and-operator",
        ),
        pytest.param(
            {"filters": [filter_("Provider", "EQUALS", "AWS", "GCP"), filter_("RegionId", "NOT_IN")]},
            [
                (
                    "widgets[2].query.filters[0].values",
                    "`EQUALS` takes exactly one value (2 given); use `IN` for several.",
                ),
                ("widgets[2].query.filters[1].values", "A filter needs at least one value."),
            ],
            id="filter-values",
        ),
        pytest.param(
            {"granularity": "HOUR", "metric": "AMORTIZED", "preset": "LAST_WEEK", "top_n": -1},
            [
                (
                    "widgets[2].query.granularity",
                    "`granularity` is `HOUR`; it must be one of `DAY`, `WEEK`, `MONTH`, `TOTAL`.",
                ),
                (
                    "widgets[2].query.metric",
                    "`metric` is `AMORTIZED`; it must be one of `BILLED`, `EFFECTIVE`, `LIST`.",
                ),
                (
                    "widgets[2].query.preset",
                    "`preset` is `LAST_WEEK`; it must be one of `LAST_7_DAYS`, `LAST_30_DAYS`, `LAST_90_DAYS`, "
                    "`LAST_MONTH`, `MONTH_TO_DATE`, `QUARTER_TO_DATE`, `YEAR_TO_DATE`.",
                ),
                ("widgets[2].query.top_n", "`top_n` must not be negative (0 keeps every group)."),
            ],
            id="enums-and-top-n",
        ),
        pytest.param(
            {"preset": ""},
            [
                (
                    "widgets[2].query.start_date",
                    "`start_date` is not set; give `start_date` and `end_date` (YYYY-MM-DD), or a `preset` "
                    "(`LAST_7_DAYS`, `LAST_30_DAYS`, `LAST_90_DAYS`, `LAST_MONTH`, `MONTH_TO_DATE`, "
                    "`QUARTER_TO_DATE`, `YEAR_TO_DATE`).",
                )
            ],
            id="no-range",
        ),
        pytest.param(
            {"start_date": "2026-01-01"},
            [
                (
                    "widgets[2].query.end_date",
                    "`end_date` is not set; give `start_date` and `end_date` (YYYY-MM-DD), or a `preset` "
                    "(`LAST_7_DAYS`, `LAST_30_DAYS`, `LAST_90_DAYS`, `LAST_MONTH`, `MONTH_TO_DATE`, "
                    "`QUARTER_TO_DATE`, `YEAR_TO_DATE`).",
                )
            ],
            id="start-only",
        ),
        pytest.param(
            {"preset": "LAST_MONTH", "end_date": "2026-01-31"},
            [
                (
                    "widgets[2].query.end_date",
                    "`preset` and `end_date` are both set; give either a preset or `start_date` and `end_date`.",
                )
            ],
            id="preset-and-dates",
        ),
        pytest.param(
            {"start_date": "2026-02-30", "end_date": "3026-01-01"},
            [
                ("widgets[2].query.start_date", "`start_date` is `2026-02-30`; use a UTC day as YYYY-MM-DD."),
                ("widgets[2].query.end_date", "`end_date` is 3026-01-01; use a day from 2000-01-01 to 2100-12-31."),
            ],
            id="bad-days",
        ),
        pytest.param(
            {"start_date": "2026-02-02", "end_date": "2026-02-01"},
            [("widgets[2].query.start_date", "`start_date` (2026-02-02) is after `end_date` (2026-02-01).")],
            id="reversed-range",
        ),
    ],
)
def test_bad_queries_name_the_field_under_the_callers_path(fields, violations):
    ranged = "preset" in fields or "start_date" in fields or "end_date" in fields
    message = query_pb2.CostQuery(**(fields if ranged else {"preset": "LAST_30_DAYS", **fields}))
    assert [(p.field, p.detail) for p in problems_of(message, PATH)] == violations
    with pytest.raises(InvalidArgument) as caught:
        to_query(message, PATH)
    assert [(p.field, p.detail) for p in caught.value.violations] == violations
