"""`costory.v1.CostQuery` <-> `cost.model.Query`, and the checks a saved query passes before it is stored.

Written here because the cost domain had no such conversion when dashboards needed one; it belongs next to
`cost.model` (move it to control_plane/cost/ when the cost API grows its own, and keep one). Every problem names
its field under the caller's path (`widgets[2].query.filters[0].field`), so a dashboard, an alert scope and the
cost API can all point at the offending attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import cast, get_args

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.allocation.rules import TAG_PREFIX
from control_plane.billing.schema import RULE_COLUMNS
from control_plane.cost.model import DIMENSION_PREFIX, Filter, Granularity, Metric, Operator, Preset, Query
from control_plane.errors import InvalidArgument
from control_plane.messages import FIRST_DAY, LAST_DAY
from control_plane.models import Dimension, Tenant
from costory_proto.costory.v1 import query_pb2
from costory_schema.problems import Path, Problem

OPERATORS: tuple[str, ...] = get_args(Operator)
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
METRICS: tuple[str, ...] = get_args(Metric)
PRESETS: tuple[str, ...] = get_args(Preset)


def _listed(values: Sequence[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def field_problem(name: str, path: Path) -> Problem | None:
    """Whether ``name`` is a field a query may group or filter by (a cost column, `tag:<key>`, `dimension:<id>`)."""
    if name in RULE_COLUMNS:
        return None
    for prefix, what in ((TAG_PREFIX, "key"), (DIMENSION_PREFIX, "id")):
        if name.startswith(prefix):
            if name[len(prefix) :].strip():
                return None
            return Problem(path, "Invalid Field", f"`{name}` names no {what}; write `{prefix}<{what}>`.")
    return Problem(
        path,
        "Unknown Field",
        f"`{name}` is not a field; use `tag:<key>`, `dimension:<id>` or a cost column such as `ServiceName`, "
        "`Provider` or `x_Model` (every one is listed in docs/resources/dashboard.md).",
    )


def _one_of(value: str, allowed: tuple[str, ...], path: Path) -> list[Problem]:
    if value in allowed:
        return []
    return [Problem(path, "Invalid Value", f"`{path[-1]}` is `{value}`; it must be one of {_listed(allowed)}.")]


def _day(value: str, path: Path) -> tuple[date | None, list[Problem]]:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, [Problem(path, "Invalid Date", f"`{path[-1]}` is `{value}`; use a UTC day as YYYY-MM-DD.")]
    if not FIRST_DAY <= day <= LAST_DAY:
        return None, [
            Problem(path, "Date Out Of Range", f"`{path[-1]}` is {day}; use a day from {FIRST_DAY} to {LAST_DAY}.")
        ]
    return day, []


def _range(message: query_pb2.CostQuery, path: Path) -> tuple[date | None, date | None, list[Problem]]:
    """A preset, or both days in order; never both forms, never neither."""
    given = [name for name in ("start_date", "end_date") if getattr(message, name)]
    if message.preset and given:
        return (
            None,
            None,
            [
                Problem(
                    (*path, given[0]),
                    "Conflicting Attributes",
                    f"`preset` and `{given[0]}` are both set; give either a preset or `start_date` and `end_date`.",
                )
            ],
        )
    if message.preset:
        return None, None, []
    if len(given) < 2:
        missing = "end_date" if given == ["start_date"] else "start_date"
        return (
            None,
            None,
            [
                Problem(
                    (*path, missing),
                    "Missing Date Range",
                    f"`{missing}` is not set; give `start_date` and `end_date` (YYYY-MM-DD), or a `preset` "
                    f"({_listed(PRESETS)}).",
                )
            ],
        )
    start, problems = _day(message.start_date, (*path, "start_date"))
    end, more = _day(message.end_date, (*path, "end_date"))
    problems += more
    if start is not None and end is not None and start > end:
        problems.append(
            Problem((*path, "start_date"), "Invalid Range", f"`start_date` ({start}) is after `end_date` ({end}).")
        )
    return start, end, problems


def _filter_problems(item: query_pb2.QueryFilter, path: Path) -> list[Problem]:
    problems = [p for p in [field_problem(item.field, (*path, "field"))] if p is not None]
    problems += _one_of(item.operator, OPERATORS, (*path, "operator"))
    if not item.values:
        problems.append(Problem((*path, "values"), "Missing Values", "A filter needs at least one value."))
    elif item.operator == "EQUALS" and len(item.values) != 1:
        problems.append(
            Problem(
                (*path, "values"),
                "Invalid Values",
                f"`EQUALS` takes exactly one value ({len(item.values)} given); use `IN` for several.",
            )
        )
    return problems


def problems_of(message: query_pb2.CostQuery, path: Path = ()) -> list[Problem]:
    """Everything wrong with a query on its own (no database: a dimension id is only checked for its form)."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(message.group_by):
        item_path = (*path, "group_by", index)
        problem = field_problem(name, item_path)
        if problem is not None:
            problems.append(problem)
        elif name in seen:
            problems.append(
                Problem(item_path, "Duplicate Value", f"`{name}` is already grouped by at group_by[{seen[name]}].")
            )
        seen.setdefault(name, index)
    for index, item in enumerate(message.filters):
        problems += _filter_problems(item, (*path, "filters", index))
    if message.granularity:
        problems += _one_of(message.granularity, GRANULARITIES, (*path, "granularity"))
    if message.metric:
        problems += _one_of(message.metric, METRICS, (*path, "metric"))
    if message.preset:
        problems += _one_of(message.preset, PRESETS, (*path, "preset"))
    problems += _range(message, path)[2]
    if message.top_n < 0:
        problems.append(
            Problem((*path, "top_n"), "Invalid Value", "`top_n` must not be negative (0 keeps every group).")
        )
    return problems


def dimension_problems(
    session: Session, tenant: Tenant, message: query_pb2.CostQuery, path: Path = ()
) -> list[Problem]:
    """`dimension:<id>` fields that name no virtual dimension of ``tenant`` (another tenant's id included)."""
    named: list[tuple[str, Path]] = [
        (name, (*path, "group_by", i)) for i, name in enumerate(message.group_by) if name.startswith(DIMENSION_PREFIX)
    ]
    named += [
        (f.field, (*path, "filters", i, "field"))
        for i, f in enumerate(message.filters)
        if f.field.startswith(DIMENSION_PREFIX)
    ]
    ids = {name[len(DIMENSION_PREFIX) :] for name, _ in named}
    if not ids:
        return []
    found = set(session.scalars(sa.select(Dimension.id).where(Dimension.tenant_id == tenant.id, Dimension.id.in_(ids))))
    return [
        Problem(
            item_path,
            "Unknown Dimension",
            f"`{name}` names no virtual dimension of this tenant; use `dimension:<id>` with the id of one "
            "(the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions).",
        )
        for name, item_path in named
        if name[len(DIMENSION_PREFIX) :] not in found
    ]


def to_query(message: query_pb2.CostQuery, path: Path = ()) -> Query:
    """The model's Query for a message; InvalidArgument naming every bad field under ``path``."""
    problems = problems_of(message, path)
    if problems:
        raise InvalidArgument(problems)
    start, end, _ = _range(message, path)
    return Query(
        group_by=tuple(message.group_by),
        filters=tuple(Filter(f.field, cast(Operator, f.operator), tuple(f.values)) for f in message.filters),
        granularity=cast(Granularity, message.granularity or "DAY"),
        metric=cast(Metric, message.metric or "BILLED"),
        start=start,
        end=end,
        preset=cast(Preset, message.preset) if message.preset else None,
        compare=message.compare,
        top_n=message.top_n,
        with_quantity=message.with_quantity,
    )


def from_query(query: Query) -> query_pb2.CostQuery:
    """The message for a Query: fields at their defaults are left unset, so a round trip reads back the same."""
    message = query_pb2.CostQuery(
        group_by=query.group_by,
        filters=[query_pb2.QueryFilter(field=f.field, operator=f.operator, values=f.values) for f in query.filters],
        compare=query.compare,
        top_n=query.top_n,
        with_quantity=query.with_quantity,
    )
    if query.granularity != "DAY":
        message.granularity = query.granularity
    if query.metric != "BILLED":
        message.metric = query.metric
    if query.preset is not None:
        message.preset = query.preset
    if query.start is not None and query.end is not None:
        message.start_date, message.end_date = query.start.isoformat(), query.end.isoformat()
    return message
