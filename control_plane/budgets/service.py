"""Budget, alert and report operations for one tenant; the gRPC servicers and the REST routes both call these.

The three are saved the same way (one ``Kind`` each says what differs): input is the plain-Python view of the
message (``messages.to_data``, unset optionals absent), checked by the proto's rules and then by what only the
control plane knows (the scope's fields, the teams named, the condition's parameters). The Slack webhook URL is
sealed before it is stored and is never put back in a message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

import sqlalchemy as sa
from google.protobuf.message import Message
from sqlalchemy.orm import Session

from control_plane.budgets.models import (
    DEFAULT_DEDUP_HOURS,
    DEFAULT_METRIC,
    DEFAULT_PERIOD,
    DEFAULT_TOP_N,
    Alert,
    Budget,
    Condition,
    Report,
)
from control_plane.cost.model import DIMENSION_PREFIX, Filter, Query
from control_plane.errors import InvalidArgument, NotFound
from control_plane.findings import raise_errors
from control_plane.models import Dimension, Tenant, utcnow
from control_plane.pagination import Page, page_of
from control_plane.secrets import SecretBox
from control_plane.teams.models import Team
from costory_proto.costory.v1 import alerting_pb2 as pb
from costory_schema import rules
from costory_schema.problems import Problem

Data = Mapping[str, Any]
Rule = Budget | Alert | Report
WEBHOOK = "slack_webhook_url"
RECIPIENTS = (WEBHOOK, "emails", "team_ids")
MAX_LENGTHS = {"name": 200, "amount": 20, "dimension_id": 64}
MAX_TRAILING_DAYS = 90
MAX_DEDUP_HOURS = 366 * 24
MAX_TOP_N = 50
MAX_PERCENT = 10_000


M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Kind(Generic[M]):
    """What differs between budgets, alerts and reports."""

    noun: str
    model: type[Rule]
    message: type[M]
    id_prefix: str
    fields: tuple[str, ...]
    """Every configurable field: what an update may name."""
    defaults: Mapping[str, Any]
    """The value an optional field takes when unset."""
    check: Callable[[Session, Tenant, Data], list[Problem]]
    """The kind's own checks, after the proto's rules."""


# -- checks ------------------------------------------------------------------------------------------------


def _too_long(data: Data) -> list[Problem]:
    return [
        Problem((name,), "Value Too Long", f"`{name}` has {len(value)} characters; at most {limit} are accepted.")
        for name, limit in MAX_LENGTHS.items()
        if isinstance(value := data.get(name), str) and len(value) > limit
    ]


def scope_of(data: Data) -> tuple[Filter, ...]:
    """The saved scope (``filters``) as the query model's filters."""
    return tuple(
        Filter(f.get("field", ""), cast(Any, f.get("operator", "")), tuple(f.get("values", ())))
        for f in data.get("filters") or ()
    )


def _scope_problems(session: Session, tenant: Tenant, data: Data) -> list[Problem]:
    """The filters checked as the query model checks them (one rule, one message), and each dimension named
    must be one of the tenant's."""
    from control_plane.cost.query import problems

    filters = scope_of(data)
    placeholder = date(2000, 1, 1)  # a range is required by the query model; only the filters are checked here
    query = Query(filters=filters, start=placeholder, end=placeholder)
    found = [p for p in problems(query, path=()) if p.path[:1] == ("filters",)]
    if found:
        return found
    ids = {f.field[len(DIMENSION_PREFIX) :] for f in filters if f.field.startswith(DIMENSION_PREFIX)}
    known = set(session.scalars(sa.select(Dimension.id).where(Dimension.tenant_id == tenant.id, Dimension.id.in_(ids))))
    return [
        Problem(
            ("filters", index, "field"),
            "Unknown Dimension",
            f"`{f.field}` names no virtual dimension of this tenant; use `dimension:<id>` with the id of a "
            "`costory_virtual_dimension`.",
        )
        for index, f in enumerate(filters)
        if f.field.startswith(DIMENSION_PREFIX) and f.field[len(DIMENSION_PREFIX) :] not in known
    ]


def _recipient_problems(session: Session, tenant: Tenant, data: Data) -> list[Problem]:
    team_ids = list(data.get("team_ids") or ())
    known = set(session.scalars(sa.select(Team.id).where(Team.tenant_id == tenant.id, Team.id.in_(team_ids))))
    return [
        Problem(
            ("team_ids", index),
            "Unknown Team",
            f"`{team_id}` is not a team of this tenant; use the `id` of a `costory_team`.",
        )
        for index, team_id in enumerate(team_ids)
        if team_id not in known
    ]


def _positive(data: Data, name: str) -> list[Problem]:
    """An amount of zero (the pattern, checked before, already refused anything but a decimal number)."""
    value = data.get(name)
    if isinstance(value, str) and not Decimal(value):
        return [Problem((name,), "Invalid Amount", f"`{name}` is 0; set an amount above zero.")]
    return []


def _check_budget(_session: Session, _tenant: Tenant, data: Data) -> list[Problem]:
    problems = _positive(data, "amount")
    seen: set[tuple[float, str]] = set()
    for index, threshold in enumerate(data.get("thresholds") or ()):
        percent, of = threshold.get("percent", 0.0), threshold.get("of", "")
        if not 0 < percent <= MAX_PERCENT:
            problems.append(
                Problem(
                    ("thresholds", index, "percent"),
                    "Invalid Percent",
                    f"`percent` is {percent:g}; use a percent of the amount above 0 and at most {MAX_PERCENT}.",
                )
            )
        elif (percent, of) in seen:
            problems.append(
                Problem(
                    ("thresholds", index),
                    "Duplicate Threshold",
                    f"{percent:g}% of the {of.lower()} cost is listed twice; list each threshold once.",
                )
            )
        seen.add((percent, of))
    return problems


def _check_alert(_session: Session, _tenant: Tenant, data: Data) -> list[Problem]:
    condition = data.get("condition")
    problems: list[Problem] = []
    wanted = {Condition.ABOVE_AMOUNT: ("amount",), Condition.ABOVE_TRAILING_AVERAGE: ("trailing_days", "percent")}
    if condition in wanted:
        for name in ("amount", "trailing_days", "percent"):
            if name in wanted[Condition(condition)] and data.get(name) is None:
                problems.append(Problem((name,), "Missing Attribute", f"`{condition}` needs `{name}`; set it."))
            elif name not in wanted[Condition(condition)] and data.get(name) is not None:
                problems.append(
                    Problem((name,), "Conflicting Attributes", f"`{name}` has no meaning for `{condition}`; remove it.")
                )
    problems += _positive(data, "amount")
    days = data.get("trailing_days")
    if days is not None and not 1 <= days <= MAX_TRAILING_DAYS:
        problems.append(
            Problem(("trailing_days",), "Invalid Value", f"`trailing_days` is {days}; use 1 to {MAX_TRAILING_DAYS}.")
        )
    percent = data.get("percent")
    if percent is not None and not 0 <= percent <= MAX_PERCENT:
        problems.append(Problem(("percent",), "Invalid Percent", f"`percent` is {percent:g}; use 0 to {MAX_PERCENT}."))
    hours = data.get("dedup_hours")
    if hours is not None and not 1 <= hours <= MAX_DEDUP_HOURS:
        problems.append(
            Problem(("dedup_hours",), "Invalid Value", f"`dedup_hours` is {hours}; use 1 to {MAX_DEDUP_HOURS}.")
        )
    return problems


def _check_report(session: Session, tenant: Tenant, data: Data) -> list[Problem]:
    problems: list[Problem] = []
    dimension_id = data.get("dimension_id")
    if (
        dimension_id
        and session.scalar(
            sa.select(Dimension.id).where(Dimension.tenant_id == tenant.id, Dimension.id == dimension_id)
        )
        is None
    ):
        problems.append(
            Problem(
                ("dimension_id",),
                "Unknown Dimension",
                f"`{dimension_id}` is not a virtual dimension of this tenant; use the `id` of a "
                "`costory_virtual_dimension`.",
            )
        )
    top_n = data.get("top_n")
    if top_n is not None and not 1 <= top_n <= MAX_TOP_N:
        problems.append(Problem(("top_n",), "Invalid Value", f"`top_n` is {top_n}; use 1 to {MAX_TOP_N}."))
    return problems


_COMMON = ("name", "filters", "metric", *RECIPIENTS)
BUDGET: Kind[pb.Budget] = Kind(
    "budget",
    Budget,
    pb.Budget,
    "bud",
    (*_COMMON, "period", "amount", "thresholds"),
    {"period": DEFAULT_PERIOD.value, "metric": DEFAULT_METRIC.value},
    _check_budget,
)
ALERT: Kind[pb.Alert] = Kind(
    "alert",
    Alert,
    pb.Alert,
    "alr",
    (*_COMMON, "condition", "amount", "trailing_days", "percent", "dedup_hours"),
    {"metric": DEFAULT_METRIC.value, "dedup_hours": DEFAULT_DEDUP_HOURS},
    _check_alert,
)
REPORT: Kind[pb.Report] = Kind(
    "report",
    Report,
    pb.Report,
    "rep",
    (*_COMMON, "dimension_id", "frequency", "top_n"),
    {"metric": DEFAULT_METRIC.value, "top_n": DEFAULT_TOP_N},
    _check_report,
)


def check(session: Session, tenant: Tenant, kind: Kind, data: Data, unknown: Sequence[str] = ()) -> list[Problem]:
    """Every problem with ``data``: the proto's rules, then the kind's own checks (which need the rules to hold).
    Problems on a path listed in ``unknown`` (not known yet at plan time) are left out."""
    found = rules.check(kind.message.DESCRIPTOR, data) + _too_long(data)
    if not found:
        found = _scope_problems(session, tenant, data) + _recipient_problems(session, tenant, data)
        found += kind.check(session, tenant, data)
    return [p for p in found if not any(_under(p.field, path) for path in unknown)]


def _under(field: str, path: str) -> bool:
    return field == path or field.startswith((f"{path}.", f"{path}["))


# -- saving --------------------------------------------------------------------------------------------------


def _values(kind: Kind, data: Data) -> dict[str, Any]:
    """Column values for the configurable fields in ``data`` (defaults for unset optionals), webhook aside."""
    values = {name: data.get(name) for name in kind.fields if name != WEBHOOK}
    for name, default in kind.defaults.items():
        if values.get(name) is None:
            values[name] = default
    for name in ("filters", "emails", "team_ids", "thresholds"):
        if name in values:
            values[name] = [dict(item) if isinstance(item, Mapping) else item for item in values[name] or ()]
    return values


def create(session: Session, tenant: Tenant, kind: Kind, data: Data, secrets: SecretBox) -> Rule:
    raise_errors(check(session, tenant, kind, data))
    now = utcnow()
    webhook = data.get(WEBHOOK)
    row = kind.model(
        id=f"{kind.id_prefix}_{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        slack_webhook_sealed=secrets.seal(webhook) if webhook else None,
        created_at=now,
        updated_at=now,
        **_values(kind, data),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, tenant: Tenant, kind: Kind, id_: str) -> Rule:
    model = kind.model
    row = cast(Rule | None, session.scalar(sa.select(model).where(model.tenant_id == tenant.id, model.id == id_)))
    if row is None:
        raise NotFound(f"{kind.noun} {id_!r} not found")
    return row


def update(
    session: Session, tenant: Tenant, kind: Kind, id_: str, data: Data, update_mask: Sequence[str], secrets: SecretBox
) -> Rule:
    """Replace the fields named in ``update_mask`` (all when empty); a named optional field absent from ``data``
    goes back to its default (a named webhook URL absent: no Slack notification)."""
    row = get(session, tenant, kind, id_)
    paths = list(dict.fromkeys(update_mask)) or list(kind.fields)
    unknown = [p for p in paths if p not in kind.fields]
    if unknown:
        allowed = ", ".join(f"`{f}`" for f in kind.fields)
        raise InvalidArgument(
            [
                Problem((p,), "Invalid Update Mask", f"`{p}` cannot be updated; a {kind.noun}'s {allowed} can.")
                for p in unknown
            ]
        )
    current = {name: getattr(row, name) for name in kind.fields if name != WEBHOOK}
    merged = {**current, **{p: data.get(p) for p in paths if p != WEBHOOK}}
    present = {k: v for k, v in merged.items() if v is not None}
    raise_errors(check(session, tenant, kind, present | _webhook(data, paths)))
    values = _values(kind, merged)
    changed = values != current
    for name, value in values.items():
        setattr(row, name, value)
    if WEBHOOK in paths:
        webhook = data.get(WEBHOOK)
        row.slack_webhook_sealed = secrets.seal(webhook) if webhook else None
        changed = True
    if changed:
        row.updated_at = utcnow()
    session.flush()
    return row


def _webhook(data: Data, paths: Sequence[str]) -> dict[str, Any]:
    return {WEBHOOK: data[WEBHOOK]} if WEBHOOK in paths and data.get(WEBHOOK) is not None else {}


def delete(session: Session, tenant: Tenant, kind: Kind, id_: str) -> None:
    session.delete(get(session, tenant, kind, id_))
    session.flush()


def list_rules(session: Session, tenant: Tenant, kind: Kind, page_size: int = 0, page_token: str = "") -> Page:
    model = kind.model
    query = sa.select(model).where(model.tenant_id == tenant.id)
    return page_of(session, query, model.created_at, model.id, page_size, page_token)


# -- messages ------------------------------------------------------------------------------------------------


def to_proto(kind: Kind[M], row: Rule) -> M:
    """The saved object as its message; the webhook URL is never set (it is write-only)."""
    message = kind.message()
    for name in kind.fields:
        value = getattr(row, name, None) if name != WEBHOOK else None
        if value is None:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.message_type is not None:
            for item in value:
                getattr(message, name).add(**item)
        elif isinstance(value, list):
            getattr(message, name).extend(value)
        else:
            setattr(message, name, value)
    setattr(message, "id", row.id)  # noqa: B010 (every rule message has an id)
    return message
