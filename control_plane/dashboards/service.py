"""Dashboard operations for one tenant; the gRPC servicer, the REST routes (and the MCP tools) call these.

Input is the plain-Python view of a ``Dashboard`` message (``messages.to_data``, or the same shape as JSON):
unset optionals are absent. Widgets are stored as given (the proto JSON of each), so a query reads back exactly
as it was written. Every lookup is by tenant: another tenant's dashboard is not found, and a widget may only
name the caller's own virtual dimensions.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from google.protobuf.json_format import ParseDict, ParseError
from sqlalchemy.orm import Session

from control_plane.cost import api as cost_api
from control_plane.cost import query as cost_query
from control_plane.cost.model import DIMENSION_PREFIX, Query
from control_plane.cost.query import dimension_ids
from control_plane.dashboards.models import Dashboard
from control_plane.db import release
from control_plane.errors import DomainError, InvalidArgument, NotFound, public_view
from control_plane.findings import raise_errors
from control_plane.messages import rfc3339, to_data, to_json
from control_plane.models import Dimension, Tenant, utcnow
from control_plane.pagination import Page, page_of
from control_plane.services import Services
from costory_proto.costory.v1 import cost_pb2
from costory_proto.costory.v1 import dashboard_pb2 as pb
from costory_schema import rules
from costory_schema.problems import Path, Problem

Data = Mapping[str, Any]
FIELDS = ("name", "description", "widgets")
"""What an update may change: every configurable attribute of a dashboard."""
MAX_LENGTHS = {"name": 200, "title": 200}
"""Column size of `name`; a widget's title is held to the same."""


def _message(data: Data) -> pb.Dashboard:
    """``data`` as a Dashboard message; a value of the wrong shape is refused naming the request."""
    try:
        return ParseDict(dict(data), pb.Dashboard())
    except ParseError as error:
        raise InvalidArgument([Problem((), "Invalid Dashboard", str(error))]) from None


def _too_long(message: pb.Dashboard) -> list[Problem]:
    named: list[tuple[Path, str]] = [(("name",), message.name)]
    named += [(("widgets", i, "title"), w.title) for i, w in enumerate(message.widgets)]
    return [
        Problem(path, "Value Too Long", f"`{path[-1]}` has {len(value)} characters; at most {limit} are accepted.")
        for path, value in named
        if len(value) > (limit := MAX_LENGTHS[str(path[-1])])
    ]


def dimension_problems(session: Session, tenant: Tenant, query: Query, path: Path) -> list[Problem]:
    """`dimension:<id>` fields naming no virtual dimension of ``tenant`` (another tenant's id included), each at
    its place in the query: a saved query is checked when it is saved, not first when a dashboard is opened."""
    named = [((*path, "group_by", i), name) for i, name in enumerate(query.group_by)]
    named += [((*path, "filters", i, "field"), f.field) for i, f in enumerate(query.filters)]
    named = [(where, name) for where, name in named if name.startswith(DIMENSION_PREFIX)]
    if not named:
        return []
    found = set(
        session.scalars(
            sa.select(Dimension.id).where(Dimension.tenant_id == tenant.id, Dimension.id.in_(dimension_ids(query)))
        )
    )
    return [
        Problem(
            where,
            "Unknown Dimension",
            f"`{name}` names no virtual dimension of this tenant; use `dimension:<id>` with the id of one "
            "(the `id` of a `costory_virtual_dimension`, or GET /v1/dimensions).",
        )
        for where, name in named
        if name[len(DIMENSION_PREFIX) :] not in found
    ]


def check_dashboard(session: Session, tenant: Tenant, message: pb.Dashboard) -> list[Problem]:
    """The proto's rules, then each widget's query as the cost API checks it (`cost.query.problems`) plus the
    tenant's dimensions. One problem per attribute: the first found is the one shown."""
    problems = rules.check(pb.Dashboard.DESCRIPTOR, to_data(message)) + _too_long(message)
    for index, widget in enumerate(message.widgets):
        if not widget.HasField("query"):
            continue
        path = ("widgets", index, "query")
        try:
            query = cost_api.to_query(widget.query, path)
        except InvalidArgument as error:
            problems += error.violations
            continue
        problems += cost_query.problems(query, path)
        problems += dimension_problems(session, tenant, query, path)
    first: dict[tuple, Problem] = {}
    for problem in problems:
        first.setdefault(problem.path, problem)
    return list(first.values())


def _widgets(message: pb.Dashboard) -> list[dict[str, Any]]:
    return [to_json(widget) for widget in message.widgets]


def create_dashboard(session: Session, tenant: Tenant, data: Data) -> Dashboard:
    message = _message(data)
    raise_errors(check_dashboard(session, tenant, message))
    now = utcnow()
    dashboard = Dashboard(
        id=f"dash_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        name=message.name,
        description=message.description,
        widgets=_widgets(message),
        created_at=now,
        updated_at=now,
    )
    session.add(dashboard)
    session.flush()
    return dashboard


def get_dashboard(session: Session, tenant: Tenant, dashboard_id: str) -> Dashboard:
    dashboard = session.scalar(
        sa.select(Dashboard).where(Dashboard.tenant_id == tenant.id, Dashboard.id == dashboard_id)
    )
    if dashboard is None:
        raise NotFound(f"dashboard {dashboard_id!r} not found")
    return dashboard


def update_dashboard(
    session: Session, tenant: Tenant, dashboard_id: str, data: Data, update_mask: Sequence[str]
) -> Dashboard:
    """Replace the fields named in ``update_mask`` (all when empty); `widgets` is replaced as a whole list, and a
    named `description` absent from ``data`` goes back to empty."""
    dashboard = get_dashboard(session, tenant, dashboard_id)
    paths = list(dict.fromkeys(update_mask)) or list(FIELDS)
    unknown = [p for p in paths if p not in FIELDS]
    if unknown:
        allowed = ", ".join(f"`{f}`" for f in FIELDS)
        raise InvalidArgument(
            [
                Problem((p,), "Invalid Update Mask", f"`{p}` cannot be updated; a dashboard's {allowed} can.")
                for p in unknown
            ]
        )
    given = _message(data)
    merged = to_proto(dashboard)
    for path in paths:
        merged.ClearField(path)
        if path == "widgets":
            merged.widgets.extend(given.widgets)
        elif path == "name" or given.HasField(path):
            setattr(merged, path, getattr(given, path))
    raise_errors(check_dashboard(session, tenant, merged))
    changed = {"name": merged.name, "description": merged.description, "widgets": _widgets(merged)}
    if changed != {name: getattr(dashboard, name) for name in FIELDS}:
        for name, value in changed.items():
            setattr(dashboard, name, value)
        dashboard.updated_at = utcnow()
    session.flush()
    return dashboard


def delete_dashboard(session: Session, tenant: Tenant, dashboard_id: str) -> None:
    session.delete(get_dashboard(session, tenant, dashboard_id))
    session.flush()


def list_dashboards(session: Session, tenant: Tenant, page_size: int = 0, page_token: str = "") -> Page:
    query = sa.select(Dashboard).where(Dashboard.tenant_id == tenant.id)
    return page_of(session, query, Dashboard.created_at, Dashboard.id, page_size, page_token)


def to_proto(dashboard: Dashboard) -> pb.Dashboard:
    return pb.Dashboard(
        id=dashboard.id,
        name=dashboard.name,
        description=dashboard.description,
        widgets=[ParseDict(widget, pb.Widget()) for widget in dashboard.widgets],
        created_at=rfc3339(dashboard.created_at),
        updated_at=rfc3339(dashboard.updated_at),
    )


def dashboard_data(services: Services, session: Session, tenant: Tenant, dashboard_id: str) -> pb.DashboardData:
    """Every widget's query answered by the cost API's own `api.query` (the numbers are the API's by
    construction), one page of the largest size each. A query gives its connection back before its columnar work
    (`db.release`), so each runs in a session of its own, and the request's is released once the dashboard is
    read. A widget whose query cannot be answered now (a dimension deleted since) carries the error the cost API
    would give, and the others are still answered."""
    dashboard = to_proto(get_dashboard(session, tenant, dashboard_id))
    release(session)
    out = pb.DashboardData(dashboard_id=dashboard.id)
    for widget in dashboard.widgets:
        item = out.widgets.add(title=widget.title, kind=widget.kind, query=widget.query)
        request = cost_pb2.QueryCostsRequest(query=widget.query, page_size=cost_api.MAX_PAGE_SIZE)
        try:
            with services.sessions() as own:
                item.result.CopyFrom(cost_api.query(services, own, tenant, request))
        except DomainError as error:
            item.error = public_view(error).message
    return out
