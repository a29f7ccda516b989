"""Evaluating budgets, alerts and reports: what the scheduler runs after each successful import and daily.

Each rule is evaluated on its own: its scope's daily cost is read (``preview.daily_costs``, the connection given
back before the columnar work), then, in one short transaction, what fired is handed to the notifications outbox
(``notify.enqueue``) under a key naming what it is about, and the rule's own state is updated. The outbox skips a
key already queued, so evaluating twice, or on two replicas at once, notifies once:
- a budget: ``budget:<id>:<period start>:<ACTUAL|FORECAST>:<percent>``, once per period and threshold;
- an alert: ``alert:<id>:<day>``, each day of cost data judged once, in order, quiet for ``dedup_hours`` after
  firing (``last_fired_on``);
- a report: ``report:<id>:<period start>``, once per complete week or month.
A rule that fails (say its dimension was deleted) is logged and skipped; the others are still evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.budgets.forecast import cents, forecast, period_bounds
from control_plane.budgets.models import Alert, Budget, Frequency, Report, ThresholdOf
from control_plane.budgets.preview import AlertRule, daily_costs, firings
from control_plane.budgets.service import Rule, scope_of
from control_plane.cost.model import DIMENSION_PREFIX, Query
from control_plane.dimensions.compute import Engine, money, percent
from control_plane.errors import DomainError
from control_plane.imports.errors import TerminalImportError
from control_plane.models import Tenant
from control_plane.secrets import SecretBox, secret_box
from control_plane.services import Services
from control_plane.teams.models import Team, TeamMember

log = logging.getLogger(__name__)
R = TypeVar("R", Budget, Alert, Report)

HISTORY_DAYS = 28
"""Days before a budget's period read for its forecast (forecast.WEEKDAY_DAYS)."""
ALERT_CONDITION = ("condition", "amount", "trailing_days", "percent", "dedup_hours")
CATCH_UP_DAYS = 35
"""How far back an alert judges days it has not judged yet (after a long outage)."""


# -- budget status -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossed:
    percent: Decimal
    of: ThresholdOf
    threshold_amount: Decimal


@dataclass(frozen=True)
class Status:
    amount: Decimal
    actual: Decimal
    forecast: Decimal
    period_start: date
    period_end: date
    as_of: date | None
    crossed: list[Crossed]


def plain(number: Decimal) -> Decimal:
    """Without trailing zeros or an exponent: 100.0 -> 100, 12.50 -> 12.5."""
    return Decimal(format(number.normalize(), "f"))


def crossed_thresholds(amount: Decimal, thresholds: Sequence[dict[str, Any]], actual: Decimal, projected: Decimal):
    """The thresholds reached: ``percent`` of ``amount`` at or below the actual cost (ACTUAL) or the forecast."""
    out = []
    for threshold in thresholds:
        share = Decimal(str(threshold["percent"]))
        limit = cents(amount * share / 100)
        of = ThresholdOf(threshold["of"])
        if (actual if of == ThresholdOf.ACTUAL else projected) >= limit:
            out.append(Crossed(plain(share), of, limit))
    return out


def budget_status(session: Session, tenant: Tenant, engine: Engine, budget: Budget, today: date) -> Status:
    """The budget's current period (the one holding ``today``): actual so far, forecast, thresholds crossed."""
    start, end = period_bounds(budget.period, today)
    amount, thresholds = Decimal(budget.amount), list(budget.thresholds)
    _, _, daily = daily_costs(
        session,
        tenant,
        engine,
        scope_of({"filters": budget.filters}),
        budget.metric,
        start=start - timedelta(days=HISTORY_DAYS),
        end=min(end, today),
    )
    result = forecast(daily, start, end)
    crossed = crossed_thresholds(amount, thresholds, result.actual, result.forecast)
    return Status(amount, result.actual, result.forecast, start, end, result.as_of, crossed)


def budget_message(name: str, status: Status, crossed: Crossed) -> tuple[str, str]:
    """The subject and text of a threshold reached."""
    span = f"{status.period_start} – {status.period_end}"
    reached = f"reaching the {crossed.percent}% threshold ({money(crossed.threshold_amount)})"
    if crossed.of == ThresholdOf.ACTUAL:
        return f"Budget {name}: {crossed.percent}% reached", (
            f"{name} has spent {money(status.actual)} of its {money(status.amount)} budget for {span}, {reached}. "
            f"Forecast for the period: {money(status.forecast)}."
        )
    return f"Budget {name}: {crossed.percent}% forecast", (
        f"{name} is forecast to spend {money(status.forecast)} of its {money(status.amount)} budget for {span}, "
        f"{reached}. Spent so far: {money(status.actual)}."
    )


# -- recipients ----------------------------------------------------------------------------------------------


def recipients(session: Session, rule: Rule, secrets: SecretBox) -> list[Any]:
    """Who a rule notifies, now: its webhook (opened), its emails, and the emails of its teams' members (a team
    since deleted is skipped with a warning)."""
    from control_plane.notify import Recipient

    out: list[Recipient] = []
    if rule.slack_webhook_sealed:
        try:
            out.append(Recipient("SLACK", secrets.open(rule.slack_webhook_sealed, "slack_webhook_url")))
        except TerminalImportError as error:  # sealed under another key: say so, notify the others
            log.warning("%s: no Slack notification: %s", rule.id, error)
    emails = list(rule.emails)
    for team_id in rule.team_ids:
        team = session.scalar(sa.select(Team.id).where(Team.tenant_id == rule.tenant_id, Team.id == team_id))
        if team is None:
            log.warning("%s: team %s no longer exists; its members are not notified", rule.id, team_id)
            continue
        members = sa.select(TeamMember.email).where(TeamMember.team_id == team_id, TeamMember.email.is_not(None))
        emails += session.scalars(members.order_by(TeamMember.created_at, TeamMember.id))
    out += [Recipient("EMAIL", email) for email in dict.fromkeys(emails)]
    return out


def _enqueue(session: Session, services: Services, rule: Rule, kind: str, key: str, subject: str, text: str) -> bool:
    from control_plane.notify import enqueue

    return enqueue(
        session,
        tenant_id=rule.tenant_id,
        source_kind=kind,
        source_id=rule.id,
        key=key,
        subject=subject,
        text=text,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": f"*{subject}*\n{text}"}}],
        recipients=recipients(session, rule, secret_box(services.settings)),
        settings=services.settings,
    )


# -- rules ---------------------------------------------------------------------------------------------------


def evaluate_budget(services: Services, budget_id: str, today: date) -> int:
    """Notify each threshold crossed in the current period, once; returns how many were newly queued."""
    with services.sessions() as session:
        loaded = _load(session, Budget, budget_id)
        if loaded is None:
            return 0
        budget, tenant = loaded
        status = budget_status(session, tenant, services.engine, budget, today)
    queued = 0
    with services.sessions.begin() as session:
        saved = session.get(Budget, budget_id)
        if saved is None:
            return 0
        for crossed in status.crossed:
            key = f"budget:{saved.id}:{status.period_start}:{crossed.of}:{crossed.percent}"
            subject, text = budget_message(saved.name, status, crossed)
            queued += _enqueue(session, services, saved, "BUDGET", key, subject, text)
    return queued


def evaluate_alert(services: Services, alert_id: str, today: date) -> int:
    """Judge each complete day of cost data not judged yet (the latest only, the first time); returns how many
    notifications were newly queued."""
    with services.sessions() as session:
        loaded = _load(session, Alert, alert_id)
        if loaded is None:
            return 0
        alert, tenant = loaded
        rule = AlertRule.of({name: getattr(alert, name) for name in ALERT_CONDITION})
        yesterday = today - timedelta(days=1)
        first = yesterday - timedelta(days=CATCH_UP_DAYS)
        if alert.evaluated_through is not None:
            first = max(first, alert.evaluated_through + timedelta(days=1))
        _, _, daily = daily_costs(
            session,
            tenant,
            services.engine,
            scope_of({"filters": alert.filters}),
            alert.metric,
            start=first - timedelta(days=rule.trailing_days),
            end=yesterday,
        )
    judged = [day for day in daily if day >= first]
    if not judged:
        return 0
    as_of = max(judged)
    queued = 0
    with services.sessions.begin() as session:
        current = session.get(Alert, alert_id)
        if current is None:
            return 0
        # The first evaluation judges the latest day only; later ones every day after the last judged (another
        # replica may have moved it since the read).
        start = (
            as_of if current.evaluated_through is None else max(first, current.evaluated_through + timedelta(days=1))
        )
        for firing in firings(daily, rule, start, as_of, current.last_fired_on):
            subject = f"Alert {current.name}: {money(firing.cost)} on {firing.day}"
            text = (
                f"The cost of {firing.day} was {money(firing.cost)}, above {money(firing.threshold)} "
                f"({_condition_text(rule)})."
            )
            queued += _enqueue(session, services, current, "ALERT", f"alert:{current.id}:{firing.day}", subject, text)
            current.last_fired_on = firing.day
        if current.evaluated_through is None or as_of > current.evaluated_through:
            current.evaluated_through = as_of
    return queued


def _condition_text(rule: AlertRule) -> str:
    if rule.amount is not None:
        return f"the daily amount {money(rule.amount)}"
    return f"the {rule.trailing_days}-day average raised by {plain(rule.percent)}%"


def report_period(frequency: Frequency | str, today: date) -> tuple[date, date]:
    """The last complete ISO week (Monday to Sunday) or calendar month before ``today``."""
    if frequency == Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    end = today.replace(day=1) - timedelta(days=1)
    return end.replace(day=1), end


def evaluate_report(services: Services, report_id: str, today: date) -> int:
    """Queue the digest of the last complete period, once; returns 1 when newly queued."""
    from control_plane.cost import query

    with services.sessions() as session:
        loaded = _load(session, Report, report_id)
        if loaded is None:
            return 0
        report, tenant = loaded
        start, end = report_period(report.frequency, today)
        asked = Query(
            group_by=(f"{DIMENSION_PREFIX}{report.dimension_id}",),
            filters=scope_of({"filters": report.filters}),
            granularity="TOTAL",
            metric=cast(Any, report.metric),
            start=start,
            end=end,
            compare=True,
            top_n=report.top_n,
        )
        result = query.run(session, tenant, services.engine, asked)
    lines = []
    for row in sorted(result.rows, key=lambda r: (r.group.get(asked.group_by[0]) == "Other", -r.cost)):
        value = row.group.get(asked.group_by[0]) or "(none)"
        lines.append(f"• {value}: {money(row.cost)} ({_change(row.cost, row.previous_cost)})")
    previous_total = result.previous_total or Decimal(0)
    text = "\n".join(
        [f"Total {money(result.total)} ({_change(result.total, previous_total)}) for {start} – {end}.", *lines]
    )
    with services.sessions.begin() as session:
        saved = session.get(Report, report_id)
        if saved is None:
            return 0
        subject = f"{saved.name}: {start} – {end}"
        return int(_enqueue(session, services, saved, "REPORT", f"report:{saved.id}:{start}", subject, text))


def _change(current: Decimal, previous: Decimal | None) -> str:
    if not previous:
        return "new" if current else "no change"
    return f"{money(current - previous, signed=True)}, {percent(current - previous, previous):+}% vs previous period"


def _load(session: Session, model: type[R], id_: str) -> tuple[R, Tenant] | None:
    """The rule and its tenant; None when the rule was deleted since the evaluation was planned."""
    row = session.get(model, id_)
    tenant = session.get(Tenant, row.tenant_id) if row is not None else None
    return (row, tenant) if row is not None and tenant is not None else None


# -- the scheduler's hook ------------------------------------------------------------------------------------


def evaluate_all(services: Services, now: datetime) -> int:
    """Evaluate every tenant's budgets, alerts and reports as of ``now`` (UTC); returns how many notifications were
    newly queued. One rule failing is logged and does not stop the others."""
    today = now.date()
    with services.sessions() as session:
        work = [
            (evaluate, row_id)
            for model, evaluate in ((Budget, evaluate_budget), (Alert, evaluate_alert), (Report, evaluate_report))
            for row_id in session.scalars(sa.select(model.id).order_by(model.created_at, model.id))
        ]
    queued = 0
    for evaluate, row_id in work:
        try:
            queued += evaluate(services, row_id, today)
        except Exception as error:
            level = logging.WARNING if isinstance(error, DomainError) else logging.ERROR
            log.log(level, "evaluating %s failed: %s", row_id, error, exc_info=not isinstance(error, DomainError))
    return queued


def evaluate_and_deliver(services: Services, now: datetime) -> None:
    """The scheduler's hook: evaluate every rule, then deliver what is due."""
    from control_plane.notify import deliver_due

    queued = evaluate_all(services, now)
    if queued:
        log.info("%d notification(s) queued", queued)
    deliver_due(services, now)
