"""Gap filling and grouping of metric values: the pure core on small hand-worked tables, then the query over
a migrated SQLite database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from control_plane.errors import InvalidArgument, NotFound
from control_plane.metrics.query import AuthorizedDatasourceId, fill_and_group, metric_series
from control_plane.models import MetricDefinition, MetricsDatasource, MetricValue
from control_plane.tenants.service import create_tenant

STRATEGIES = ["ZERO", "FORWARD_FILL", "LINEAR_INTERPOLATION", "SPREAD"]


def day(n: int) -> date:
    """Day ``n`` of January 2024 (0 is 31 December 2023, negative further back)."""
    return date(2023, 12, 31) + timedelta(days=n)


def values(rows: list[tuple], dimensions: Sequence[str] = ()) -> pd.DataFrame:
    """A values frame from ``(day number, *dimension values, value)`` tuples."""
    columns = ["day", *dimensions, "value"]
    if not rows:
        return pd.DataFrame(None, columns=columns, dtype=object)
    return pd.DataFrame([(day(n), *rest) for n, *rest in rows], columns=columns)


def run(frame, first: int, last: int, gap_filling: str, aggregation: str = "SUM", dimensions=(), group_by=()):
    return fill_and_group(
        frame,
        start=day(first),
        end=day(last),
        dimensions=list(dimensions),
        group_by=list(group_by),
        gap_filling=gap_filling,
        aggregation=aggregation,
    )


def rows(table: pa.Table) -> list[tuple]:
    """The result as tuples, days as day numbers of January 2024."""
    columns = table.to_pydict()
    columns["day"] = [(d - day(0)).days for d in columns["day"]]
    return list(zip(*columns.values(), strict=True))


def day_values(table: pa.Table) -> list[float]:
    return table.column("value").to_pylist()


class TestGaps:
    # One series, range days 1-7: a leading gap (1), an interior gap (3-4), a trailing gap (6-7).
    #
    #   day      1   2   3   4   5   6   7
    #   known    .   3   .   .   9   .   .
    #   ZERO     0   3   0   0   9   0   0
    #   FFILL    0   3   3   3   9   9   9
    #   LINEAR   0   3   5   7   9   9   9     3 → 9 over 3 days: +2 a day; 9 carried after the last
    #   SPREAD   0   3   3   3   3   0   0     3 is the first value: its own day only; 9 covers days 3-5
    EXPECTED = {
        "ZERO": [0, 3, 0, 0, 9, 0, 0],
        "FORWARD_FILL": [0, 3, 3, 3, 9, 9, 9],
        "LINEAR_INTERPOLATION": [0, 3, 5, 7, 9, 9, 9],
        "SPREAD": [0, 3, 3, 3, 3, 0, 0],
    }

    @pytest.mark.parametrize("gap_filling", STRATEGIES)
    def test_leading_interior_and_trailing_gaps(self, gap_filling):
        result = run(values([(2, 3.0), (5, 9.0)]), 1, 7, gap_filling)

        assert result.column_names == ["day", "value"]
        assert [d for d, _ in rows(result)] == [1, 2, 3, 4, 5, 6, 7]
        assert day_values(result) == pytest.approx(self.EXPECTED[gap_filling])

    # Range days 3-6 with nothing inside it; the edges come from the nearest values outside. -6 and 12 are
    # further away than those and change nothing.
    #
    #   day     -6   1   2 | 3   4   5   6 | 7 .. 11  12
    #   known  500  10   . | .   .   .   . | .   110 1000
    #   ZERO               | 0   0   0   0 |
    #   FFILL              |10  10  10  10 |              10 carried
    #   LINEAR             |30  40  50  60 |              10 → 110 over 10 days: +10 a day
    #   SPREAD             |11  11  11  11 |              110 over days 2-11 (10 days)
    EDGES = {
        "ZERO": [0, 0, 0, 0],
        "FORWARD_FILL": [10, 10, 10, 10],
        "LINEAR_INTERPOLATION": [30, 40, 50, 60],
        "SPREAD": [11, 11, 11, 11],
    }

    @pytest.mark.parametrize("gap_filling", STRATEGIES)
    def test_edges_come_from_the_nearest_values_outside_the_range(self, gap_filling):
        frame = values([(-6, 500.0), (1, 10.0), (11, 110.0), (12, 1000.0)])

        result = run(frame, 3, 6, gap_filling)

        assert [d for d, _ in rows(result)] == [3, 4, 5, 6]
        assert day_values(result) == pytest.approx(self.EDGES[gap_filling])

    # The weekly file of the brief: a value on day 0 (outside the range), then 70 on day 7 and 140 on 14.
    #
    #   day      0 | 1 .. 7 | 8 .. 14
    #   known   35 | .    70| .    140
    #   SPREAD     |10 .. 10|20 .. 20     sum 210 = 70 + 140
    def test_spread_divides_a_weekly_value_over_its_week(self):
        result = run(values([(0, 35.0), (7, 70.0), (14, 140.0)]), 1, 14, "SPREAD")

        assert day_values(result) == pytest.approx([10] * 7 + [20] * 7)
        assert sum(day_values(result)) == pytest.approx(210)

    def test_spread_conserves_the_total_of_values_inside_the_range(self):
        # Three series, random days and values within days 1-60, nothing outside: every value is spread
        # over days of the range only, so the totals match exactly.
        rng = np.random.default_rng(7)
        known = [
            (int(d), team, float(v))
            for team in ("web", "data", "ops")
            for d, v in zip(rng.choice(np.arange(1, 61), 12, replace=False), rng.uniform(0, 100, 12), strict=True)
        ]
        frame = values(known, ["team"])

        result = run(frame, 1, 60, "SPREAD", dimensions=["team"], group_by=["team"])

        assert result.num_rows == 60 * 3
        assert sum(day_values(result)) == pytest.approx(sum(v for _, _, v in known))

    @pytest.mark.parametrize("gap_filling", STRATEGIES)
    def test_matches_a_day_by_day_reference(self, gap_filling):
        # Random single series over days -10..39, range 0..29, against pandas and a plain loop.
        rng = np.random.default_rng(11)
        for _ in range(50):
            known_days = np.sort(rng.choice(np.arange(-10, 40), rng.integers(1, 8), replace=False))
            known = rng.uniform(0, 100, len(known_days))
            series = pd.Series(np.nan, index=np.arange(-10, 40))
            series.loc[known_days] = known
            if gap_filling == "SPREAD":
                expected = pd.Series(0.0, index=series.index)
                previous = None
                for d, v in zip(known_days, known, strict=True):
                    first = d if previous is None else previous + 1
                    expected.loc[first:d] = v / (d - first + 1)
                    previous = d
            else:
                inside = series.interpolate("index", limit_area="inside")
                expected = {
                    "ZERO": series.fillna(0),
                    "FORWARD_FILL": series.ffill().fillna(0),
                    "LINEAR_INTERPOLATION": inside.ffill().fillna(0),
                }[gap_filling]

            result = run(values(list(zip(known_days.tolist(), known, strict=True))), 0, 29, gap_filling)

            assert day_values(result) == pytest.approx(expected.loc[0:29].tolist())

    def test_duplicates_of_a_day_are_combined_with_the_aggregation(self):
        # Day 1 is reported twice for one series: SUM adds 2 and 4, Average takes their mean.
        frame = pa.table({"day": [day(1), day(1)], "value": [2.0, 4.0]})

        assert day_values(run(frame, 1, 1, "ZERO", "SUM")) == [6.0]
        assert day_values(run(frame, 1, 1, "ZERO", "Average")) == [3.0]

    def test_null_values_are_ignored(self):
        #   day      1     2     3
        #   known    4  null     .      FFILL → 4 4 4
        frame = values([(1, 4.0), (2, None)])

        assert day_values(run(frame, 1, 3, "FORWARD_FILL")) == [4.0, 4.0, 4.0]


class TestGrouping:
    # Two regions for team web, one for team data; range days 1-2; FORWARD_FILL fills web/eu on day 2.
    #
    #   team  region   day 1   day 2
    #   web   eu          10     (10)
    #   web   us          30      50
    #   data  eu           4       6
    #
    #   group_by team    SUM d1  SUM d2   Average d1  Average d2
    #   data                 4       6            4           6
    #   web                 40      60           20          30
    FRAME = values(
        [(1, "web", "eu", 10.0), (1, "web", "us", 30.0), (2, "web", "us", 50.0), (1, "data", "eu", 4.0),
         (2, "data", "eu", 6.0)],
        ["team", "region"],
    )

    @pytest.mark.parametrize(
        ("aggregation", "expected"),
        [
            ("SUM", [(1, "data", 4), (1, "web", 40), (2, "data", 6), (2, "web", 60)]),
            ("Average", [(1, "data", 4), (1, "web", 20), (2, "data", 6), (2, "web", 30)]),
        ],
        ids=["sum", "average"],
    )
    def test_series_are_combined_per_team(self, aggregation, expected):
        result = run(self.FRAME, 1, 2, "FORWARD_FILL", aggregation, ["team", "region"], ["team"])

        assert result.column_names == ["day", "team", "value"]
        assert rows(result) == expected

    def test_without_group_by_all_series_make_one_total(self):
        # Day 1: 10 + 30 + 4 = 44; day 2: 10 + 50 + 6 = 66.
        result = run(self.FRAME, 1, 2, "FORWARD_FILL", "SUM", ["team", "region"], [])

        assert rows(result) == [(1, 44), (2, 66)]

    def test_average_counts_a_series_filled_with_zero(self):
        # web/us starts on day 2: on day 1 it is 0 and still counts.
        #
        #   team  region   day 1   day 2       Average per team: day 1 (10 + 0) / 2 = 5; day 2 (10 + 50) / 2
        #   web   eu          10     (10)
        #   web   us         (0)      50
        frame = values([(1, "web", "eu", 10.0), (2, "web", "us", 50.0)], ["team", "region"])

        result = run(frame, 1, 2, "FORWARD_FILL", "Average", ["team", "region"], ["team"])

        assert rows(result) == [(1, "web", 5), (2, "web", 30)]

    def test_null_dimension_values_form_their_own_group_listed_last(self):
        # One day, ZERO; each series' value is a power of two so the groups' sums show who joined whom.
        #
        #   team  region  value        group_by team:   web 1 + 2 = 3,   null 4 + 8 = 12
        #   web   eu          1        group_by region: eu 1 + 4 = 5,    null 2 + 8 = 10
        #   web   null        2        group_by both: four groups, nulls last within each column
        #   null  eu          4
        #   null  null        8
        frame = values(
            [(1, "web", "eu", 1.0), (1, "web", None, 2.0), (1, None, "eu", 4.0), (1, None, None, 8.0)],
            ["team", "region"],
        )
        dims = ["team", "region"]

        assert rows(run(frame, 1, 1, "ZERO", "SUM", dims, ["team"])) == [(1, "web", 3), (1, None, 12)]
        assert rows(run(frame, 1, 1, "ZERO", "SUM", dims, ["region"])) == [(1, "eu", 5), (1, None, 10)]
        assert rows(run(frame, 1, 1, "ZERO", "SUM", dims, dims)) == [
            (1, "web", "eu", 1),
            (1, "web", None, 2),
            (1, None, "eu", 4),
            (1, None, None, 8),
        ]

    @pytest.mark.parametrize("gap_filling", STRATEGIES)
    def test_no_series_gives_no_rows(self, gap_filling):
        result = run(values([], ["team"]), 1, 7, gap_filling, "SUM", ["team"], ["team"])

        assert result.num_rows == 0
        assert result.column_names == ["day", "team", "value"]
        assert result.schema.field("day").type == pa.date32()

    def test_a_series_with_values_only_outside_the_range_still_takes_part(self):
        #   day      1 | 2   3 |        ZERO: the series exists (a value on day 1), so days 2-3 are 0
        #   known    5 | .   . |
        assert rows(run(values([(1, 5.0)]), 2, 3, "ZERO")) == [(2, 0), (3, 0)]


class TestArguments:
    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"gap_filling": "BACKFILL"}, "BACKFILL"),
            ({"aggregation": "MAX"}, "MAX"),
            ({"start": day(2), "end": day(1)}, "after"),
            ({"group_by": ["region"]}, "region"),
        ],
        ids=["gap-filling", "aggregation", "range", "group-by"],
    )
    def test_bad_arguments_raise_value_error(self, changes, message):
        arguments = {
            "start": day(1),
            "end": day(2),
            "dimensions": ["team"],
            "group_by": ["team"],
            "gap_filling": "ZERO",
            "aggregation": "SUM",
            **changes,
        }

        with pytest.raises(ValueError, match=message):
            fill_and_group(values([(1, "web", 1.0)], ["team"]), **arguments)


# -- database -------------------------------------------------------------------------------------------

START, END = date(2024, 3, 1), date(2024, 3, 4)
WEB_EU = {"team": "web", "region": "eu"}
WEB_US = {"team": "web", "region": "us"}


@pytest.fixture
def store(sessions):
    """Over the migrated temporary SQLite of ``sessions`` (tests/control_plane/conftest.py),
    ``store(gap_filling, aggregation, values)`` saves metric `requests` (dimensions team, region) of a
    new datasource with those values, plus noise the query must not see: another metric of the same
    datasource and the same metric in another tenant's datasource. Returns the datasource id."""

    def _store(gap_filling: str, aggregation: str, known: list[tuple[date, dict | None, float]]) -> str:
        with sessions.begin() as session:
            ids = []
            for tenant_name in ("Tenant A", "Tenant B"):
                tenant, _ = create_tenant(session, tenant_name)
                datasource = MetricsDatasource(
                    id=f"mds_{tenant.id}",
                    tenant_id=tenant.id,
                    name="usage",
                    bucket_name="bucket",
                    role_arn=f"arn:aws:iam::123456789012:role/{tenant.id}",
                    metrics_definition=[
                        MetricDefinition(
                            position=0,
                            metric_name="requests",
                            gap_filling=gap_filling,
                            aggregation=aggregation,
                            value_column="value",
                            date_column="day",
                            dimensions=["team", "region"],
                        )
                    ],
                )
                session.add(datasource)
                ids.append(datasource.id)
            mine, other = ids
            session.flush()
            session.add_all(
                MetricValue(
                    datasource_id=mine, metric_name="requests", day=d, dimensions=dims, value=v, row_count=1
                )
                for d, dims, v in known
            )
            session.add_all(
                MetricValue(
                    datasource_id=owner, metric_name=metric, day=d, dimensions=WEB_EU, value=1e6, row_count=1
                )
                for owner, metric in ((mine, "cpu"), (other, "requests"))
                for d in (START, END, END + timedelta(days=1))
            )
        return mine

    return _store


def query(sessions, datasource_id: str, group_by: list[str], start: date = START, end: date = END):
    with sessions() as session:
        authorized = AuthorizedDatasourceId(datasource_id)
        return metric_series(session, authorized, "requests", start=start, end=end, group_by=group_by)


def db_rows(table: pa.Table) -> list[tuple]:
    return list(zip(*table.to_pydict().values(), strict=True))




class TestMetricSeries:
    # LINEAR_INTERPOLATION, range 1-4 March 2024.
    #
    #   series   2022-01-01   02-29 | 03-01  03-02  03-03  03-04 | 03-06
    #   web/eu                   10 |                  40        |           10 → 40 over 3 days: +10 a day
    #   web/us          999         |                            |    60     999 is beyond the 400-day
    #                                                                        lookaround: days before 60 are 0
    #   filled web/eu               |    20     30     40     40 |
    #   filled web/us               |     0      0      0      0 |
    def test_edges_are_filled_from_values_outside_the_range(self, sessions, store):
        datasource_id = store(
            "LINEAR_INTERPOLATION",
            "SUM",
            [
                (date(2024, 2, 29), WEB_EU, 10.0),
                (date(2024, 3, 3), WEB_EU, 40.0),
                (date(2022, 1, 1), WEB_US, 999.0),
                (date(2024, 3, 6), WEB_US, 60.0),
            ],
        )

        by_team = query(sessions, datasource_id, ["team"])
        by_region = query(sessions, datasource_id, ["region"])

        assert by_team.column_names == ["day", "team", "value"]
        assert db_rows(by_team) == [
            (date(2024, 3, 1), "web", 20.0),
            (date(2024, 3, 2), "web", 30.0),
            (date(2024, 3, 3), "web", 40.0),
            (date(2024, 3, 4), "web", 40.0),
        ]
        assert db_rows(by_region) == [
            (date(2024, 3, 1), "eu", 20.0),
            (date(2024, 3, 1), "us", 0.0),
            (date(2024, 3, 2), "eu", 30.0),
            (date(2024, 3, 2), "us", 0.0),
            (date(2024, 3, 3), "eu", 40.0),
            (date(2024, 3, 3), "us", 0.0),
            (date(2024, 3, 4), "eu", 40.0),
            (date(2024, 3, 4), "us", 0.0),
        ]

    # SPREAD: 110 on 8 March covers 27 February - 8 March (11 days, 2024 being a leap year): 10 a day.
    #
    #   series   02-20 02-26 | 03-01 .. 03-04 | 03-08 03-20
    #   web/eu     500     5 |                |   110   999      500 and 999 are not the nearest: unused
    #   filled               |    10 .. 10    |
    def test_spread_reaches_back_to_the_last_value_before_the_range(self, sessions, store):
        datasource_id = store(
            "SPREAD",
            "SUM",
            [
                (date(2024, 2, 20), WEB_EU, 500.0),
                (date(2024, 2, 26), WEB_EU, 5.0),
                (date(2024, 3, 8), WEB_EU, 110.0),
                (date(2024, 3, 20), WEB_EU, 999.0),
            ],
        )

        assert [v for _, v in db_rows(query(sessions, datasource_id, []))] == pytest.approx([10.0] * 4)

    # FORWARD_FILL, Average: a value 362 days before the range is carried; one 420 days before is not seen,
    # so that series does not exist and does not count in the mean. A null dimensions object is all null.
    #
    #   series          2023-01-06  2023-03-05 | 03-01 03-02 03-03 03-04
    #   web/eu                               7 |     (7)  (7)  (7)   (7)
    #   web/us                 999             |                           beyond the lookaround
    #   null/null                              |      3
    #   group_by team: web 7 every day; null 3 every day (carried)
    def test_forward_fill_looks_back_400_days(self, sessions, store):
        datasource_id = store(
            "FORWARD_FILL",
            "Average",
            [
                (date(2023, 3, 5), WEB_EU, 7.0),
                (date(2023, 1, 6), WEB_US, 999.0),
                (START, None, 3.0),
            ],
        )

        result = query(sessions, datasource_id, ["team"])

        assert db_rows(result) == [
            (d, team, v)
            for d in (date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3), date(2024, 3, 4))
            for team, v in (("web", 7.0), (None, 3.0))
        ]

    def test_a_metric_without_values_gives_no_rows(self, sessions, store):
        datasource_id = store("ZERO", "SUM", [])

        result = query(sessions, datasource_id, ["team", "region"])

        assert result.num_rows == 0
        assert result.column_names == ["day", "team", "region", "value"]

    @pytest.mark.parametrize(
        ("arguments", "field", "summary"),
        [
            ({"group_by": ["project"]}, "group_by[0]", "Unknown Dimension"),
            ({"group_by": ["team", "team"]}, "group_by[1]", "Duplicate Dimension"),
            ({"start": END, "end": START}, "start", "Invalid Range"),
            ({"start": START, "end": START + timedelta(days=3660)}, "end", "Range Too Long"),
        ],
        ids=["unknown-dimension", "duplicate-dimension", "start-after-end", "range-too-long"],
    )
    def test_invalid_arguments(self, sessions, store, arguments, field, summary):
        datasource_id = store("ZERO", "SUM", [])

        with pytest.raises(InvalidArgument) as raised:
            query(sessions, datasource_id, **{"group_by": [], **arguments})

        assert [(v.field, v.summary) for v in raised.value.violations] == [(field, summary)]

    def test_the_longest_range_is_accepted(self, sessions, store):
        datasource_id = store("ZERO", "SUM", [(START, WEB_EU, 1.0)])

        result = query(sessions, datasource_id, [], START, START + timedelta(days=3659))

        assert result.num_rows == 3660
        assert sum(day_values(result)) == 1.0

    def test_an_unknown_metric_is_not_found(self, sessions, store):
        datasource_id = store("ZERO", "SUM", [])

        with sessions() as session, pytest.raises(NotFound, match="latency"):
            metric_series(
                session, AuthorizedDatasourceId(datasource_id), "latency", start=START, end=END, group_by=[]
            )
