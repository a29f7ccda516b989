"""Metric values by day, grouped by dimensions, with the days without data filled.

A metric is stored as one value per day and per combination of dimension values: a *series* (for
example ``team=web, region=eu``). A query asks for every day from ``start`` to ``end`` (both included),
grouped by some of the metric's dimensions, and returns one row per day and group: ``day``, one column per
``group_by`` dimension, and ``value``.

1. **Series.** A series takes part in a query when it has at least one value on a day of the range or
   within 400 days before or after it. A series silent for longer is treated as ended (or not yet started)
   and does not appear. A null (or missing) dimension value is a value of its own: nulls form their own
   series and their own group, listed after the other values.

2. **Gap filling** applies to each series separately, over every day of the range, before grouping. A day
   is *known* when the series has a value for it; the last known day before ``start`` and the first known
   day after ``end`` are used where the metric's strategy needs them.

   - ``ZERO``: a missing day is 0.
   - ``FORWARD_FILL``: a missing day takes the last known value before it. Days before the series' first
     known value are 0.
   - ``LINEAR_INTERPOLATION``: a missing day between two known days is interpolated linearly by distance
     in days (between 10 on the 1st and 40 on the 4th, the 2nd is 20 and the 3rd is 30). Days before the
     first known value are 0; days after the last known value keep it.
   - ``SPREAD``: a known value is split evenly over its own day and the run of missing days just before
     it, back to (not including) the previous known day: after a value on the 0th, a weekly file reporting
     70 on the 7th gives 10 to each of days 1-7. The first known value of a series has no previous day to
     reach back to and stays on its own day. Days after the last known value are 0. Spreading moves amounts
     without creating any: the filled days of a range add up to the known values in it, except for the part
     of a value after ``end`` spread back into the range and the part of a value in the range spread back
     before ``start``.

3. **Grouping** combines, for each day, the filled values of the series sharing the same ``group_by``
   values, with the metric's aggregation:

   - ``SUM``: their sum.
   - ``Average``: their mean. Every series of the group counts, including one whose day was filled with 0.

   With no ``group_by``, all series form a single group: one row per day, the metric's total (or mean).

**Rows.** Every day of the range, for every group with at least one series, sorted by day then by the
group columns (nulls last). A metric with no series at all returns no rows, not days of 0. Several values
for the same series and day are first combined with the metric's aggregation; null values are ignored.
A query covers at most 3660 days.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NewType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.errors import InvalidArgument, NotFound
from control_plane.metrics.reader import Aggregation
from control_plane.models import MetricDefinition, MetricValue
from costory_schema.problems import Problem

MAX_RANGE_DAYS = 3660
"""The longest range one query may cover, in days."""
LOOKAROUND_DAYS = 400
"""How far before ``start`` and after ``end`` a series' nearest known value is looked for."""
_CHUNK_CELLS = 1 << 21
"""Series × days filled at once: bounds the memory a query with many series takes (~ 10 arrays this size)."""
_EPOCH = date(1970, 1, 1)

AuthorizedDatasourceId = NewType("AuthorizedDatasourceId", str)
"""The id of a datasource the caller has already checked belongs to the requesting tenant, e.g.
``AuthorizedDatasourceId(get_datasource(session, tenant, id).id)``. Queries here do not check tenancy."""


class GapFilling(enum.StrEnum):
    ZERO = "ZERO"
    FORWARD_FILL = "FORWARD_FILL"
    LINEAR_INTERPOLATION = "LINEAR_INTERPOLATION"
    SPREAD = "SPREAD"


# -- database ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedSeries:
    """Everything one query needs from the database, loaded: filling it needs no connection, so a request
    path gives its connection back (``control_plane.db.release``) between `load_series` and `filled`."""

    values: pa.Table
    """Columns ``day``, one per dimension, ``value``: the range and each series' nearest days around it."""
    start: date
    end: date
    dimensions: list[str]
    group_by: list[str]
    gap_filling: str
    aggregation: str
    unit: str

    def filled(self) -> pa.Table:
        """Fill and group (pure, columnar): see `fill_and_group`."""
        return fill_and_group(
            self.values,
            start=self.start,
            end=self.end,
            dimensions=self.dimensions,
            group_by=self.group_by,
            gap_filling=self.gap_filling,
            aggregation=self.aggregation,
        )


def load_series(
    session: Session,
    datasource_id: AuthorizedDatasourceId,
    metric_name: str,
    *,
    start: date,
    end: date,
    group_by: Sequence[str],
) -> LoadedSeries:
    """The database half of `metric_series`: checks the query and loads the metric's definition and values.

    ``datasource_id`` must already be authorised for the caller's tenant; nothing here checks it.
    Raises ``InvalidArgument`` for a bad range or a ``group_by`` name that is not one of the metric's
    dimensions, ``NotFound`` when the datasource has no such metric."""
    _raise_on(_range_violations(start, end))
    definition = session.scalar(
        sa.select(MetricDefinition).where(
            MetricDefinition.datasource_id == datasource_id, MetricDefinition.metric_name == metric_name
        )
    )
    if definition is None:
        raise NotFound(f"metric {metric_name!r} not found in metrics datasource {datasource_id!r}")
    dimensions = list(definition.dimensions or [])
    _raise_on(_group_by_violations(definition.metric_name, dimensions, group_by))
    return LoadedSeries(
        values=_load_values(session, datasource_id, metric_name, dimensions, start, end),
        start=start,
        end=end,
        dimensions=dimensions,
        group_by=list(group_by),
        gap_filling=definition.gap_filling,
        aggregation=definition.aggregation,
        unit=definition.unit or "",
    )


def metric_series(
    session: Session,
    datasource_id: AuthorizedDatasourceId,
    metric_name: str,
    *,
    start: date,
    end: date,
    group_by: Sequence[str],
) -> pa.Table:
    """The metric's values for every day of ``[start, end]``, grouped by ``group_by`` and filled as the
    metric's definition says (see the module docstring): columns ``day``, the ``group_by`` columns, ``value``.
    Holds the session's connection while filling; a request path uses `load_series`, releases, then fills.
    Arguments and errors as `load_series`."""
    return load_series(session, datasource_id, metric_name, start=start, end=end, group_by=group_by).filled()


def _raise_on(violations: list[Problem]) -> None:
    if violations:
        raise InvalidArgument(violations)


def _range_violations(start: date, end: date) -> list[Problem]:
    if start > end:
        return [
            Problem(
                ("start",),
                "Invalid Range",
                f"`start` ({start}) is after `end` ({end}); pass the first day of the range as `start`.",
            )
        ]
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        return [
            Problem(
                ("end",),
                "Range Too Long",
                f"The range covers {days} days; a query covers at most {MAX_RANGE_DAYS}. "
                "Split it into several queries.",
            )
        ]
    return []


def _group_by_violations(metric_name: str, dimensions: list[str], group_by: Sequence[str]) -> list[Problem]:
    choices = ", ".join(f"`{d}`" for d in dimensions) or "none: leave `group_by` empty"
    violations = []
    seen: set[str] = set()
    for index, name in enumerate(group_by):
        if name not in dimensions:
            violations.append(
                Problem(
                    ("group_by", index),
                    "Unknown Dimension",
                    f"`{name}` is not a dimension of metric `{metric_name}`; its dimensions are {choices}.",
                )
            )
        elif name in seen:
            violations.append(
                Problem(
                    ("group_by", index), "Duplicate Dimension", f"`{name}` is listed twice; list it once."
                )
            )
        seen.add(name)
    return violations


def _load_values(
    session: Session,
    datasource_id: str,
    metric_name: str,
    dimensions: list[str],
    start: date,
    end: date,
) -> pa.Table:
    """The stored values a query needs, as columns ``day``, one per dimension, ``value``.

    Every value in the range, plus, for each series, only its nearest value in the 400 days before
    ``start`` and its nearest in the 400 days after ``end`` (a window function ranks them per series, so
    the database returns one row per series and side, not 800 days of rows). Nothing further away changes
    any strategy's result. Series are told apart by their dimensions' JSON text; should one series be
    stored under two spellings (key order), both rows come back and ``fill_and_group`` keeps the nearest."""
    scope = (MetricValue.datasource_id == datasource_id, MetricValue.metric_name == metric_name)
    inside = sa.select(MetricValue.day, MetricValue.dimensions, MetricValue.value).where(
        *scope, MetricValue.day >= start, MetricValue.day <= end
    )
    earliest, latest = _shift(start, -LOOKAROUND_DAYS), _shift(end, LOOKAROUND_DAYS)
    before = _nearest(scope, MetricValue.day >= earliest, MetricValue.day < start, MetricValue.day.desc())
    after = _nearest(scope, MetricValue.day > end, MetricValue.day <= latest, MetricValue.day.asc())
    rows = session.execute(sa.union_all(inside, before, after)).all()
    days = pa.array([row[0] for row in rows], pa.date32())
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"day": days}
    if dimensions:
        struct_type = pa.struct([(name, pa.string()) for name in dimensions])
        struct = pa.array([row[1] for row in rows], struct_type)  # a null object: every dimension null
        for index, name in enumerate(dimensions):
            columns[name] = pc.struct_field(struct, [index])
    columns["value"] = pa.array([row[2] for row in rows], pa.float64())
    return pa.table(columns)


def _nearest(
    scope: tuple[sa.ColumnElement[bool], ...],
    lower: sa.ColumnElement[bool],
    upper: sa.ColumnElement[bool],
    order: sa.UnaryExpression[date],
) -> sa.Select:
    """Per series, the value nearest the range among those matching ``lower`` and ``upper``."""
    ranked = (
        sa.select(
            MetricValue.day,
            MetricValue.dimensions,
            MetricValue.value,
            sa.func.row_number()
            .over(partition_by=sa.cast(MetricValue.dimensions, sa.Text), order_by=order)
            .label("nearness"),
        )
        .where(*scope, lower, upper)
        .subquery()
    )
    return sa.select(ranked.c.day, ranked.c.dimensions, ranked.c.value).where(ranked.c.nearness == 1)


def _shift(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


# -- pure core --------------------------------------------------------------------------------------


def fill_and_group(
    values: pa.Table | pd.DataFrame,
    *,
    start: date,
    end: date,
    dimensions: list[str],
    group_by: list[str],
    gap_filling: str,
    aggregation: str,
) -> pa.Table:
    """Fill each series' missing days over ``[start, end]``, then combine the series per day and group
    (semantics in the module docstring). ``values`` has columns ``day``, one per dimension, ``value``; it may
    hold days outside the range, used for filling the edges. Every series in ``values`` takes part: the
    caller chooses how far around the range to look (``metric_series`` looks 400 days each way).

    Returns ``day`` (date32), the ``group_by`` columns (typed as in ``values``), ``value`` (float64): one row
    per day of the range and group present.

    Raises ``ValueError`` for an unknown strategy or aggregation, ``start > end``, a ``group_by`` name not
    in ``dimensions``, or a missing column."""
    # 1. Check the arguments and bring the input to Arrow; null values are not values.
    # 2. Number the series (dimension combinations) and their groups (group_by combinations).
    # 3. Combine duplicates of a (series, day); keep the days in range and each series' nearest day
    #    before and after it: nothing else can change the result.
    # 4. Lay each block of series out as a dense (series × days) matrix framed by the edge values, fill
    #    it, and add each series into its group.
    # 5. Divide by the series per group for Average; one row per (day, group), sorted.
    strategy = GapFilling(gap_filling)
    combine = Aggregation(aggregation)
    if start > end:
        raise ValueError(f"start ({start}) is after end ({end})")
    if unknown := [name for name in group_by if name not in dimensions]:
        raise ValueError(f"group_by names {unknown} are not dimensions ({dimensions})")
    table = _normalise(values, dimensions)
    days = (end - start).days + 1
    group_types = [table.schema.field(name).type for name in group_by]
    if table.num_rows == 0:
        no_groups = pa.table({name: pa.array([], type) for name, type in zip(group_by, group_types, strict=True)})
        return _result(np.empty((0, days)), no_groups, start, group_by)

    series = _number(table, dimensions)
    _, series_first_row = np.unique(series, return_index=True)
    series_keys = table.take(series_first_row)
    group_of_series = _number(series_keys, group_by)
    _, group_first_series = np.unique(group_of_series, return_index=True)
    group_keys = series_keys.take(group_first_series).select(group_by)

    offsets = pc.cast(table["day"], pa.int32()).to_numpy() - (start - _EPOCH).days
    frame = pd.DataFrame({"series": series, "day": offsets, "value": table["value"].to_numpy()})
    how = "sum" if combine is Aggregation.SUM else "mean"
    combined = frame.groupby(["series", "day"], sort=True)["value"].agg(how).reset_index()
    inside = combined[(combined["day"] >= 0) & (combined["day"] < days)]
    before = combined[combined["day"] < 0]
    before = before[~before["series"].duplicated(keep="last")]
    after = combined[combined["day"] >= days]
    after = after[~after["series"].duplicated(keep="first")]

    n_series = len(series_first_row)
    grouped = np.zeros((len(group_first_series), days))
    block = max(1, _CHUNK_CELLS // (days + 2))
    for low in range(0, n_series, block):
        high = min(low + block, n_series)
        known, position = _frame_block(low, high, days, inside, before, after)
        np.add.at(grouped, group_of_series[low:high], _fill(known, position, strategy))
    if combine is Aggregation.AVERAGE:
        grouped /= np.bincount(group_of_series)[:, np.newaxis]
    return _result(grouped, group_keys, start, group_by)


def _normalise(values: pa.Table | pd.DataFrame, dimensions: list[str]) -> pa.Table:
    table = values if isinstance(values, pa.Table) else pa.Table.from_pandas(values, preserve_index=False)
    if missing := [name for name in ("day", *dimensions, "value") if name not in table.column_names]:
        raise ValueError(f"values has no column {', '.join(missing)}")
    table = table.select(["day", *dimensions, "value"])
    columns = {"day": table["day"].cast(pa.date32())}
    for name in dimensions:
        column = table[name]
        columns[name] = column.cast(pa.string()) if pa.types.is_null(column.type) else column
    columns["value"] = table["value"].cast(pa.float64())
    table = pa.table(columns)
    # Null (and NaN) values are dropped: the filter drops rows where the mask is null too.
    return table.filter(pc.and_(pc.is_valid(table["day"]), pc.invert(pc.is_nan(table["value"]))))


def _number(table: pa.Table, names: list[str]) -> np.ndarray:
    """0, 1, ... per distinct combination of ``names`` in ``table``'s rows (null being a value), in order
    of first appearance; all 0 without names."""
    if not names:
        return np.zeros(table.num_rows, dtype=np.int64)
    return table.select(names).to_pandas().groupby(names, dropna=False, sort=False).ngroup().to_numpy()


def _frame_block(
    low: int, high: int, days: int, inside: pd.DataFrame, before: pd.DataFrame, after: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Series ``low`` to ``high`` as (series × columns): column 0 holds each one's nearest value before the
    range, columns 1..days the range, the last its nearest value after; NaN where unknown. ``position`` is
    each column's day offset from ``start`` (-1 and ``days`` where no edge value exists)."""
    count = high - low
    known = np.full((count, days + 2), np.nan)
    position = np.empty((count, days + 2))
    position[:, 1:-1] = np.arange(days)
    position[:, 0] = -1
    position[:, -1] = days
    for rows, column in ((inside, None), (before, 0), (after, days + 1)):
        series = rows["series"].to_numpy()
        lo, hi = np.searchsorted(series, [low, high])
        series = series[lo:hi] - low
        day = rows["day"].to_numpy()[lo:hi]
        value = rows["value"].to_numpy()[lo:hi]
        if column is None:
            known[series, day + 1] = value
        else:
            known[series, column] = value
            position[series, column] = day
    return known, position


def _fill(known: np.ndarray, position: np.ndarray, strategy: GapFilling) -> np.ndarray:
    """The range's columns of ``known`` (see ``_frame_block``) with every missing day filled."""
    width = known.shape[1]
    is_known = ~np.isnan(known)
    columns = np.arange(width)
    # For each cell: the nearest known column at or before it (-1: none), and at or after it (width: none).
    last = np.maximum.accumulate(np.where(is_known, columns, -1), axis=1)
    following = np.minimum.accumulate(np.where(is_known, columns, width)[:, ::-1], axis=1)[:, ::-1]
    has_last = last >= 0
    has_next = following < width
    last_at = np.where(has_last, last, 0)
    next_at = np.where(has_next, following, 0)
    last_value = np.take_along_axis(known, last_at, axis=1)

    if strategy is GapFilling.ZERO:
        filled = np.where(is_known, known, 0.0)
    elif strategy is GapFilling.FORWARD_FILL:
        filled = np.where(has_last, last_value, 0.0)
    elif strategy is GapFilling.LINEAR_INTERPOLATION:
        next_value = np.take_along_axis(known, next_at, axis=1)
        last_position = np.take_along_axis(position, last_at, axis=1)
        span = np.take_along_axis(position, next_at, axis=1) - last_position
        # On a known day last == next, so span is 0 and the value is its own.
        fraction = np.divide(position - last_position, span, out=np.zeros_like(span), where=span > 0)
        between = last_value + (next_value - last_value) * fraction
        filled = np.where(has_last & has_next, between, np.where(has_last, last_value, 0.0))
    else:  # SPREAD
        # A known value's share: itself over the days from the previous known day (exclusive) to its own.
        previous = np.concatenate([np.full((known.shape[0], 1), -1), last[:, :-1]], axis=1)
        previous_position = np.take_along_axis(position, np.maximum(previous, 0), axis=1)
        covered = np.where(previous >= 0, position - previous_position, 1.0)
        share = known / covered
        # A day takes the share of the next known day, unless no known day precedes it (the first value
        # stays on its own day) or none follows it.
        filled = np.where(has_last & has_next, np.take_along_axis(share, next_at, axis=1), 0.0)
    return filled[:, 1:-1]


def _result(grouped: np.ndarray, group_keys: pa.Table, start: date, group_by: list[str]) -> pa.Table:
    """One row per (day, group) from ``grouped`` (groups × days), sorted by day then group columns."""
    groups, days = grouped.shape
    day_numbers = np.repeat(np.arange(days, dtype=np.int32), groups) + np.int32((start - _EPOCH).days)
    group_index = np.tile(np.arange(groups), days)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"day": pa.array(day_numbers).cast(pa.date32())}
    for name in group_by:
        columns[name] = group_keys[name].take(pa.array(group_index, pa.int64()))
    columns["value"] = pa.array(grouped.T.ravel(), pa.float64())
    table = pa.table(columns)
    return table.sort_by([("day", "ascending"), *((name, "ascending") for name in group_by)])
