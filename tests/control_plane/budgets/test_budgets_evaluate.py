"""Evaluation by the scheduler with a controlled clock, on the hand-made March (support.py): a budget crossing its
threshold, an alert judging each new day once within its de-duplication window, a weekly report; each notification
queued once however often (or from however many replicas) the rules are evaluated, and delivered to a real SMTP
server and a Slack webhook receiver on loopback. The webhook URL never reaches a log."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from control_plane.budgets import service
from control_plane.budgets.evaluate import evaluate_all, recipients
from control_plane.budgets.models import Alert
from control_plane.budgets.service import ALERT, BUDGET, REPORT
from control_plane.jobs import scheduler_for
from control_plane.models import Tenant
from control_plane.notify import Notification, Recipient
from control_plane.secrets import new_key, secret_box
from control_plane.services import Services, build_services
from control_plane.settings import Settings
from control_plane.teams import service as teams
from control_plane.tenants.service import create_tenant
from tests.control_plane.budgets.support import CLAUDE_ONLY, seed_march
from tests.control_plane.notify.conftest import SMTP_PASSWORD, SMTP_USER, mailbox, slack, webhook  # noqa: F401
from tests.control_plane.scheduler.support import Clock, at

BUDGET_DATA = {
    "name": "Claude API",
    "filters": CLAUDE_ONLY,
    "amount": "5000",
    "thresholds": [{"percent": 100.0, "of": "FORECAST"}],
    "emails": ["finops@example.com"],
    "team_ids": [],
}


@pytest.fixture
def settings(tmp_path, mailbox) -> Settings:  # noqa: F811
    _, port = mailbox
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        data_dir=tmp_path / "data",
        secret_key=new_key(),
        trust_validation="skip",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username=SMTP_USER,
        smtp_password=SecretStr(SMTP_PASSWORD),
        smtp_from="costory@example.com",
        smtp_starttls=False,
    )


@pytest.fixture
def services(settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def tenant(services) -> Tenant:
    with services.sessions.begin() as session:
        tenant, _ = create_tenant(session, "Tenant A")
        session.expunge(tenant)
        return tenant


@pytest.fixture
def dimension_id(services, settings, tenant) -> str:
    return seed_march(services.sessions, settings.data_dir, tenant.id)


def create(services: Services, tenant: Tenant, kind, data: dict) -> str:
    with services.sessions.begin() as session:
        return service.create(session, tenant, kind, data, secret_box(services.settings)).id


def queued(services: Services) -> list[tuple[str, str, str]]:
    with services.sessions() as session:
        rows = session.scalars(sa.select(Notification).order_by(Notification.key, Notification.channel))
        return [(n.key, n.channel, n.status) for n in rows]


def test_a_budget_crossing_its_threshold_notifies_once(services, tenant, dimension_id, mailbox, slack, webhook, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    box, _ = mailbox
    budget_id = create(services, tenant, BUDGET, {**BUDGET_DATA, "slack_webhook_url": webhook})
    clock = Clock(at("2026-03-05 07:00"))
    ticks = scheduler_for(services, now=clock)  # the scheduler `serve` runs, evaluating and delivering

    # March 5: 700 spent, forecast 700 + 26 × 140 = 4340 < 5000: nothing.
    ticks.tick()
    assert queued(services) == []

    # March 11: forecast 6340 >= 5000: one email and one Slack message, sent at once.
    clock.set(at("2026-03-11 07:00"))
    ticks.tick()
    key = f"budget:{budget_id}:2026-03-01:FORECAST:100"
    assert queued(services) == [(key, "EMAIL", "SENT"), (key, "SLACK", "SENT")]
    text = (
        "Claude API is forecast to spend $6,340.00 of its $5,000.00 budget for 2026-03-01 – 2026-03-31, reaching the "
        "100% threshold ($5,000.00). Spent so far: $1,810.00."
    )
    [(_, to, mail)] = box.messages
    assert (to, mail["Subject"], mail.get_content().strip()) == (
        ["finops@example.com"],
        "Budget Claude API: 100% forecast",
        text,
    )
    [request] = slack.requests
    assert request.body == {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Budget Claude API: 100% forecast*\n{text}"}}
        ],
    }

    # Evaluated again (the same day, the next day, directly): nothing new is queued or sent.
    ticks.tick()
    clock.set(at("2026-03-12 07:00"))
    ticks.tick()
    assert evaluate_all(services, at("2026-03-12 08:00")) == 0
    assert len(queued(services)) == 2 and len(box.messages) == 1 and len(slack.requests) == 1
    assert webhook not in caplog.text and "s3cr3tW3bh00kT0k3n" not in caplog.text


def test_an_alert_judges_the_latest_day_first_then_each_new_day_once(services, tenant, dimension_id):
    alert = {
        "name": "Claude daily",
        "filters": CLAUDE_ONLY,
        "condition": "ABOVE_AMOUNT",
        "amount": "250",
        "dedup_hours": 72,
        "emails": ["oncall@example.com"],
    }
    alert_id = create(services, tenant, ALERT, alert)
    # The first evaluation (March 11) judges the last complete day with cost, the 10th: 400 > 250.
    assert evaluate_all(services, at("2026-03-11 07:00")) == 1
    assert evaluate_all(services, at("2026-03-12 07:00")) == 0  # no new day of cost
    assert queued(services) == [(f"alert:{alert_id}:2026-03-10", "EMAIL", "PENDING")]
    with services.sessions() as session:
        row = session.get(Alert, alert_id)
        assert row is not None and (row.evaluated_through, row.last_fired_on) == (date(2026, 3, 10), date(2026, 3, 10))


def test_an_alert_catching_up_keeps_its_dedup_window(services, tenant, dimension_id):
    # Judged through the 4th already: the 5th (300) fires, the 7th (260) is 48 h later (quiet for 72 h), the 8th
    # (250) is not above, the 10th (400) fires.
    alert = {
        "name": "Claude daily",
        "filters": CLAUDE_ONLY,
        "condition": "ABOVE_AMOUNT",
        "amount": "250",
        "dedup_hours": 72,
        "emails": ["oncall@example.com"],
    }
    alert_id = create(services, tenant, ALERT, alert)
    with services.sessions.begin() as session:
        row = session.get(Alert, alert_id)
        assert row is not None
        row.evaluated_through = date(2026, 3, 4)
    assert evaluate_all(services, at("2026-03-11 07:00")) == 2
    assert [key for key, _, _ in queued(services)] == [f"alert:{alert_id}:2026-03-05", f"alert:{alert_id}:2026-03-10"]


def test_a_weekly_report_of_the_last_complete_week(services, tenant, dimension_id):
    # Wednesday March 11: the last complete ISO week is March 2-8. Claude API 1210 (100 the week before, on March 1),
    # Amazon RDS 7 × 50 = 350 (50 before): 1560 against 150.
    report_id = create(
        services,
        tenant,
        REPORT,
        {
            "name": "Weekly by service",
            "dimension_id": dimension_id,
            "frequency": "WEEKLY",
            "emails": ["finops@example.com"],
        },
    )
    assert evaluate_all(services, at("2026-03-11 07:00")) == 1
    assert evaluate_all(services, at("2026-03-15 07:00")) == 0  # Sunday: the same week is still the last complete
    with services.sessions() as session:
        [row] = session.scalars(sa.select(Notification))
    assert (row.key, row.subject) == (f"report:{report_id}:2026-03-02", "Weekly by service: 2026-03-02 – 2026-03-08")
    assert row.text == (
        "Total $1,560.00 (+$1,410.00, +940.00% vs previous period) for 2026-03-02 – 2026-03-08.\n"
        "• Claude API: $1,210.00 (+$1,110.00, +1110.00% vs previous period)\n"
        "• Amazon RDS: $350.00 (+$300.00, +600.00% vs previous period)"
    )


def test_team_members_are_recipients_and_a_deleted_team_is_skipped_with_a_warning(services, tenant, webhook, caplog):  # noqa: F811
    with services.sessions.begin() as session:
        team = teams.create_team(session, tenant, {"name": "Platform"})
        teams.create_member(session, tenant, {"team_id": team.id, "email": "ada@example.com"})
        teams.create_member(session, tenant, {"team_id": team.id, "user_id": "u-no-email"})
        teams.create_member(session, tenant, {"team_id": team.id, "email": "finops@example.com"})
        team_id = team.id
    budget_id = create(services, tenant, BUDGET, {**BUDGET_DATA, "team_ids": [team_id], "slack_webhook_url": webhook})
    box = secret_box(services.settings)
    with services.sessions() as session:
        rule = service.get(session, tenant, BUDGET, budget_id)
        assert recipients(session, rule, box) == [
            Recipient("SLACK", webhook),
            Recipient("EMAIL", "finops@example.com"),
            Recipient("EMAIL", "ada@example.com"),
        ]
    with services.sessions.begin() as session:
        teams.delete_team(session, tenant, team_id)
    with services.sessions() as session, caplog.at_level(logging.WARNING):
        rule = service.get(session, tenant, BUDGET, budget_id)
        assert recipients(session, rule, box) == [Recipient("SLACK", webhook), Recipient("EMAIL", "finops@example.com")]
    assert f"{budget_id}: team {team_id} no longer exists; its members are not notified" in caplog.text


def test_a_webhook_sealed_under_another_key_is_skipped_with_a_warning(services, tenant, webhook, caplog):  # noqa: F811
    budget_id = create(services, tenant, BUDGET, {**BUDGET_DATA, "slack_webhook_url": webhook})
    with services.sessions() as session, caplog.at_level(logging.WARNING):
        rule = service.get(session, tenant, BUDGET, budget_id)
        assert recipients(session, rule, secret_box(Settings(secret_key=new_key()))) == [
            Recipient("EMAIL", "finops@example.com")
        ]
    assert f"{budget_id}: no Slack notification: The stored `slack_webhook_url` cannot be decrypted" in caplog.text
    assert webhook not in caplog.text


def test_a_rule_that_fails_is_logged_and_the_others_still_run(services, tenant, dimension_id, caplog):
    report_id = create(
        services,
        tenant,
        REPORT,
        {"name": "r", "dimension_id": dimension_id, "frequency": "MONTHLY", "emails": ["finops@example.com"]},
    )
    create(services, tenant, BUDGET, BUDGET_DATA)
    with services.sessions.begin() as session:
        session.execute(sa.text("DELETE FROM virtual_dimensions"))
    with caplog.at_level(logging.WARNING):
        assert evaluate_all(services, at("2026-03-11 07:00")) == 1  # the budget's
    assert f"evaluating {report_id} failed: " in caplog.text


def test_two_replicas_on_postgresql_queue_each_notification_once(postgres_url, tmp_path):
    settings = Settings(
        database_url=postgres_url, data_dir=tmp_path / "data", secret_key=new_key(), trust_validation="skip"
    )
    replicas = [build_services(settings), build_services(settings)]
    try:
        first = replicas[0]
        with first.sessions.begin() as session:
            tenant, _ = create_tenant(session, "Tenant A")
            session.expunge(tenant)
        seed_march(first.sessions, settings.data_dir, tenant.id)
        budget_id = create(first, tenant, BUDGET, BUDGET_DATA)
        alert_id = create(
            first,
            tenant,
            ALERT,
            {
                "name": "a",
                "filters": CLAUDE_ONLY,
                "condition": "ABOVE_AMOUNT",
                "amount": "250",
                "emails": ["oncall@example.com"],
            },
        )
        start = threading.Barrier(2)
        counts: list[int] = []

        def evaluate(replica: Services) -> None:
            start.wait()
            counts.append(evaluate_all(replica, at("2026-03-11 07:00")))

        threads = [threading.Thread(target=evaluate, args=(replica,)) for replica in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(counts) == 2  # between them, one budget and one alert notification
        assert evaluate_all(replicas[1], at("2026-03-11 08:00")) == 0
        assert queued(first) == [
            (f"alert:{alert_id}:2026-03-10", "EMAIL", "PENDING"),
            (f"budget:{budget_id}:2026-03-01:FORECAST:100", "EMAIL", "PENDING"),
        ]
    finally:
        for replica in replicas:
            replica.close()
