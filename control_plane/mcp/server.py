"""The MCP tools (official `mcp` SDK, FastMCP). Each one is a thin edge like a REST route: it authenticates
the call's token, runs the same service function REST and gRPC run in a session committed on success (in a
worker thread, like REST's sync routes), and answers the proto3 JSON REST answers. Errors become tool errors
(`isError: true`) with the public message of the error's kind — an invalid argument names its field — and
anything unexpected is logged and answered `INTERNAL: internal error`, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import Message
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations
from pydantic import Field
from sqlalchemy.orm import Session

from control_plane.billing import service as billing
from control_plane.billing import sources_service
from control_plane.billing.grpc import to_proto as aws_to_proto
from control_plane.billing.kinds import KINDS
from control_plane.budgets import service as rules
from control_plane.budgets.grpc import budget_status_of, preview_of
from control_plane.budgets.service import ALERT
from control_plane.cost import api as cost_api
from control_plane.dashboards import service as dashboards
from control_plane.dimensions import service as dimensions
from control_plane.dimensions.messages import state_to_proto
from control_plane.dimensions.messages import to_proto as dimension_to_proto
from control_plane.errors import InvalidArgument, as_domain_error, public_view
from control_plane.limits import check_message
from control_plane.mcp import explain
from control_plane.mcp.auth import token_of
from control_plane.mcp.schema import input_model, to_data
from control_plane.messages import to_data as data_of
from control_plane.messages import to_json
from control_plane.metrics import service as metrics
from control_plane.metrics.messages import to_proto as metrics_to_proto
from control_plane.models import Tenant
from control_plane.pagination import MAX_PAGE_SIZE, Page
from control_plane.secrets import secret_box
from control_plane.services import Services
from control_plane.teams import service as teams
from control_plane.teams.grpc import to_proto as team_to_proto
from control_plane.tenants.service import TokenCache
from costory_proto.costory.v1 import alerting_pb2, cost_pb2, dashboard_pb2, query_pb2, team_pb2, virtual_dimension_pb2
from costory_schema.options import terraform_attribute
from costory_schema.problems import Problem

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=Message)

READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False, openWorldHint=False)
"""Writes create an object each time they are called without an id: not idempotent."""

INSTRUCTIONS = """\
Costory control plane: cost data imported from cloud and AI providers, allocated by virtual dimensions \
(e.g. team) with rules. Ids are used everywhere (a dimension is `vd_...`, a datasource `mds_...` / `bds_...`). \
A query field is a cost column (`ServiceName`, `Provider`, `x_Model`, ...), `tag:<key>`, or `dimension:<id>` \
(the value of a virtual dimension). Amounts are decimal strings in the billing currency, rounded to cents."""

MetricSplitIn = input_model(virtual_dimension_pb2.MetricSplit.DESCRIPTOR)
CostQueryIn = input_model(query_pb2.CostQuery.DESCRIPTOR)
AlertIn = input_model(alerting_pb2.Alert.DESCRIPTOR)
DashboardIn = input_model(dashboard_pb2.Dashboard.DESCRIPTOR)
_WIDGET_QUERY: Any = dashboard_pb2.Widget.DESCRIPTOR.fields_by_name["query"]
QUERY_DESCRIPTION = terraform_attribute(_WIDGET_QUERY).description
"""What a query is, as the `costory_dashboard` resource documents a widget's query."""
RuleConditionIn = input_model(virtual_dimension_pb2.RuleCondition.DESCRIPTOR)

PageSize = Annotated[int, Field(ge=0, le=MAX_PAGE_SIZE, description="Items per page; 0: 50.")]
PageToken = Annotated[str, Field(description="`next_page_token` of the previous page; empty: the first page.")]
Day = Annotated[str, Field(description="A UTC day, YYYY-MM-DD.", examples=["2026-01-31"])]
DimensionId = Annotated[str, Field(description="The virtual dimension's id (`vd_...`; list_dimensions lists them).")]


class Edge:
    """How a tool runs its work: the token checked, a session, errors made tool errors."""

    def __init__(self, services: Services, tokens: TokenCache, token: str | None):
        self.services = services
        self.tokens = tokens
        self.token = token

    async def run(self, ctx: Context, work: Callable[[Session, Tenant], T]) -> T:
        token = token_of(ctx, self.token)
        try:
            return await anyio.to_thread.run_sync(self._in_session, token, work)
        except Exception as exc:
            error = as_domain_error(exc)
            if error is None:
                log.error("unexpected error in an MCP tool", exc_info=exc)
                raise ToolError("INTERNAL: internal error") from None
            view = public_view(error)
            raise ToolError(f"{view.status.grpc.name}: {view.message}") from None

    def _in_session(self, token: str | None, work: Callable[[Session, Tenant], T]) -> T:
        with self.services.sessions() as session:
            tenant = self.tokens.authenticate(session, token)
            result = work(session, tenant)
            session.commit()
            return result


def build_server(services: Services, token: str | None = None, tokens: TokenCache | None = None) -> FastMCP:
    """The MCP server over ``services``. ``token``: the tenant token of every call without an HTTP request
    (stdio, in memory); ``tokens``: the REST app's cache when mounted on it."""
    server = FastMCP(
        "costory",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        stateless_http=True,  # no session state: any REST process answers any request
        json_response=True,
        # The bearer token guards every request; DNS-rebinding checks on Host would refuse a real hostname.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    edge = Edge(services, tokens or TokenCache(services.settings.token_cache_seconds), token)
    engine = lambda: services.engine  # noqa: E731 - built on first use, as REST does

    @server.tool(annotations=READ_ONLY)
    async def list_dimensions(ctx: Context, page_size: PageSize = 0, page_token: PageToken = "") -> dict[str, Any]:
        """The tenant's virtual dimensions (id, name, rules, leftover value, allocation status), oldest first."""

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            page = dimensions.list_dimensions(s, t, page_size, page_token)
            return to_json(
                virtual_dimension_pb2.ListVirtualDimensionsResponse(
                    virtual_dimensions=[dimension_to_proto(d) for d in page.items],
                    next_page_token=page.next_page_token,
                )
            )

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def search_dimensions(
        ctx: Context,
        name: Annotated[str, Field(min_length=1, description="Part of the name, any case (`team` finds `Team`).")],
    ) -> dict[str, Any]:
        """The virtual dimensions whose name contains ``name`` (case-insensitive)."""
        wanted = name.casefold()

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            found = [
                dimension_to_proto(d)
                for d in _every(lambda token: dimensions.list_dimensions(s, t, MAX_PAGE_SIZE, token))
                if wanted in d.name.casefold()
            ]
            return to_json(virtual_dimension_pb2.ListVirtualDimensionsResponse(virtual_dimensions=found))

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def list_dimension_values(ctx: Context, dimension_id: DimensionId) -> dict[str, Any]:
        """A virtual dimension's values with their cost and share, its leftover, cost per rule and the range of
        days covered (its allocation state, as last computed)."""

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            return to_json(state_to_proto(dimensions.allocation_state(s, t, dimension_id, engine())))

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def explain_allocation(
        ctx: Context,
        dimension_id: DimensionId,
        value: Annotated[str, Field(description="One of the dimension's values (list_dimension_values).")],
    ) -> dict[str, Any]:
        """Why a dimension's value got its cost: each rule that gave it cost (with the rule's conditions and the
        column or metric it reads), the cost by provider, service, account and model, and the leftover."""
        return await edge.run(ctx, lambda s, t: explain.explain(s, t, engine(), dimension_id, value))

    @server.tool(annotations=READ_ONLY)
    async def list_datasources(ctx: Context) -> dict[str, Any]:
        """Every metrics datasource (usage metrics) and billing datasource (cloud and AI bills) with its status,
        status message and last import. Credentials are never shown."""
        return await edge.run(ctx, _datasources)

    @server.tool(annotations=READ_ONLY)
    async def list_teams(ctx: Context, page_size: PageSize = 0, page_token: PageToken = "") -> dict[str, Any]:
        """The tenant's teams (id, name, description, visibility), oldest first."""

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            page = teams.list_teams(s, t, page_size, page_token)
            return to_json(
                team_pb2.ListTeamsResponse(
                    teams=[team_to_proto(x) for x in page.items], next_page_token=page.next_page_token
                )
            )

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def preview_split(
        ctx: Context,
        start_date: Day,
        end_date: Day,
        metric: Annotated[MetricSplitIn, Field(description="The usage metric whose shares split the cost.")],  # type: ignore[valid-type]
        cost_filter: Annotated[
            list[RuleConditionIn],  # type: ignore[valid-type]
            Field(description="Conditions the cost rows must all match; none: all cost."),
        ] = [],  # noqa: B006 - never mutated; FastMCP copies arguments into a model
    ) -> dict[str, Any]:
        """Preview a split of cost by a usage metric, as the explorer does: a = each owner's usage, b = the
        total, d = the filtered cost, c = a / b * d (rows add up to d)."""
        body = {
            "start_date": start_date,
            "end_date": end_date,
            "metric": to_data(metric),
            "cost_filter": [to_data(c) for c in cost_filter],
        }

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            request = _parse(body, cost_pb2.PreviewCostSplitRequest(), services)
            return to_json(cost_api.preview(services, s, t, request))

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def query_costs(
        ctx: Context,
        query: Annotated[CostQueryIn, Field(description=QUERY_DESCRIPTION)],  # type: ignore[valid-type]
        page_size: Annotated[int, Field(ge=0, le=1000, description="Rows per page; 0: 100.")] = 0,
        page_token: PageToken = "",
    ) -> dict[str, Any]:
        """Cost (and token quantities) over a range or preset, grouped by any fields (`dimension:<id>`, cost
        columns, `tag:<key>`), filtered, by DAY / WEEK / MONTH / TOTAL, with the previous period and top-N: the
        rows, their total and the range read. The same answer as the REST API's `POST /v1/costs:query`."""
        body = {"query": to_data(query), "page_size": page_size, "page_token": page_token}

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            return to_json(cost_api.query(services, s, t, _parse(body, cost_pb2.QueryCostsRequest(), services)))

        return await edge.run(ctx, work)

    @server.tool(annotations=READ_ONLY)
    async def budget_status(
        ctx: Context,
        budget_id: Annotated[str, Field(description="The budget's id.")],
        date: Annotated[str, Field(description="A day of the period to read (YYYY-MM-DD); empty: today (UTC).")] = "",
    ) -> dict[str, Any]:
        """A budget's period: its amount, the actual cost so far, the forecast of the period-end cost and the
        thresholds crossed."""
        return await edge.run(ctx, lambda s, t: to_json(budget_status_of(services, s, t, budget_id, date)))

    @server.tool(annotations=READ_ONLY)
    async def preview_alert(
        ctx: Context,
        alert: Annotated[AlertIn, Field(description="The alert to try (nothing is saved).")],  # type: ignore[valid-type]
        days: Annotated[
            int, Field(ge=0, le=366, description="Days looked back from the last day with cost; 0: 90.")
        ] = 0,
    ) -> dict[str, Any]:
        """The days an alert would have fired on over the look-back, after its de-duplication window."""
        body = {"alert": to_data(alert), "days": days}

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            return to_json(preview_of(services, s, t, _parse(body, alerting_pb2.PreviewAlertRequest(), services)))

        return await edge.run(ctx, work)

    @server.tool(annotations=WRITE)
    async def create_alert(
        ctx: Context,
        alert: Annotated[AlertIn, Field(description="The alert to save.")],  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        """Save an alert on a scope's daily cost (notified by Slack and/or email). The webhook URL is stored
        encrypted and never shown again."""
        body = {"alert": to_data(alert)}

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            request = _parse(body, alerting_pb2.CreateAlertRequest(), services)
            row = rules.create(s, t, ALERT, data_of(request.alert), secret_box(services.settings))
            return to_json(rules.to_proto(ALERT, row))

        return await edge.run(ctx, work)

    @server.tool(annotations=WRITE)
    async def create_or_update_dashboard(
        ctx: Context,
        dashboard: Annotated[DashboardIn, Field(description="The dashboard: its name, description and widgets.")],  # type: ignore[valid-type]
        dashboard_id: Annotated[
            str, Field(description="The id of the dashboard to replace (all its fields); empty: create one.")
        ] = "",
    ) -> dict[str, Any]:
        """Save a dashboard made of widgets, each a cost query (the query model of query_costs) and how to draw
        it; with `dashboard_id`, replace that dashboard's name, description and widgets."""
        body = to_data(dashboard)

        def work(s: Session, t: Tenant) -> dict[str, Any]:
            data = data_of(_parse(body, dashboard_pb2.Dashboard(), services))
            if dashboard_id:
                return to_json(dashboards.to_proto(dashboards.update_dashboard(s, t, dashboard_id, data, [])))
            return to_json(dashboards.to_proto(dashboards.create_dashboard(s, t, data)))

        return await edge.run(ctx, work)

    return server


def _parse(data: dict[str, Any], message: M, services: Services) -> M:
    """A tool's input as the request message, with the list and text checks every API request gets."""
    try:
        ParseDict(data, message)
    except ParseError as exc:
        raise InvalidArgument([Problem((), "Invalid Request", str(exc))]) from None
    check_message(message, services.settings.max_list_items)
    return message


def _every(list_page: Callable[[str], Page[T]]) -> list[T]:
    """Every item of a paginated list (for lists a tenant keeps small: dimensions, datasources)."""
    items: list[T] = []
    token = ""
    while True:
        page = list_page(token)
        items.extend(page.items)
        token = page.next_page_token
        if not token:
            return items


def _datasources(s: Session, t: Tenant) -> dict[str, Any]:
    billing_datasources = [
        {"kind": "AWS", **to_json(aws_to_proto(d))}
        for d in _every(lambda token: billing.list_datasources(s, t, MAX_PAGE_SIZE, token))
    ]
    for kind in KINDS:
        billing_datasources.extend(
            {"kind": kind.kind, **to_json(sources_service.to_proto(kind, d))}
            for d in _every(partial(sources_service.list_datasources, s, t, kind, MAX_PAGE_SIZE))
        )
    return {
        "metrics_datasources": [
            to_json(metrics_to_proto(d))
            for d in _every(lambda token: metrics.list_datasources(s, t, MAX_PAGE_SIZE, token))
        ],
        "billing_datasources": billing_datasources,
    }
