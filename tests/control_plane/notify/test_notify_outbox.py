"""Queueing: one row per recipient, a key queued once per recipient (whatever the case or spacing of an email
address), inside the caller's transaction, recipients sealed and fingerprinted, bad recipients refused naming
the field without quoting a webhook URL; the statuses equal the proto's."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from control_plane.errors import InvalidArgument
from control_plane.notify import Notification, Recipient, Status, enqueue
from control_plane.notify.outbox import fingerprint, mask
from control_plane.secrets import secret_box
from costory_proto.costory.v1 import notification_pb2
from costory_schema.options import field_rules
from tests.control_plane.notify.support import NOW, outbox, queue

SLACK_URL = "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/s3cr3tW3bh00kT0k3n"


def test_one_row_per_recipient_and_a_key_is_queued_once(services, tenant_id):
    slack, ada = Recipient("SLACK", SLACK_URL), Recipient("EMAIL", "ada@example.com")
    assert queue(services, tenant_id, slack, ada, now=NOW) is True
    assert queue(services, tenant_id, slack, ada) is False  # the rule evaluated again: nothing new
    assert queue(services, tenant_id, Recipient("EMAIL", " ADA@example.com ")) is False  # the same address
    assert queue(services, tenant_id, Recipient("EMAIL", "grace@example.com"), ada) is True  # one new recipient
    assert queue(services, tenant_id, ada, key="budget_1:2026-03:90") is True  # another key

    rows = outbox(services)
    assert sorted((r.key, r.channel, r.recipient_masked) for r in rows) == [
        ("budget_1:2026-03:100", "EMAIL", "a***@example.com"),
        ("budget_1:2026-03:100", "EMAIL", "g***@example.com"),
        ("budget_1:2026-03:100", "SLACK", "hooks.slack.com/…"),
        ("budget_1:2026-03:90", "EMAIL", "a***@example.com"),
    ]
    assert {(r.status, r.attempts, r.next_attempt_at, r.last_error) for r in rows} == {(Status.PENDING, 0, None, "")}
    assert all(r.id.startswith("ntf_") for r in rows)
    assert sum(r.created_at.replace(tzinfo=NOW.tzinfo) == NOW for r in rows) == 2  # the first call's `now`


def test_the_same_recipient_twice_in_one_call_is_one_row(services, tenant_id):
    assert queue(services, tenant_id, Recipient("SLACK", SLACK_URL), Recipient("SLACK", SLACK_URL + " ")) is True
    assert len(outbox(services)) == 1


def test_the_same_key_for_two_tenants_is_two_rows(services, tenant_id):
    from control_plane.tenants.service import create_tenant

    with services.sessions.begin() as session:
        other = create_tenant(session, "Tenant B")[0].id
    assert queue(services, tenant_id, Recipient("SLACK", SLACK_URL)) is True
    assert queue(services, other, Recipient("SLACK", SLACK_URL)) is True
    assert len(outbox(services)) == 2


def test_queued_in_the_callers_transaction(services, tenant_id):
    with services.sessions() as session:
        assert enqueue(
            session,
            tenant_id=tenant_id,
            source_kind="ALERT",
            source_id="alert_1",
            key="alert_1:2026-03-02",
            subject="s",
            text="t",
            recipients=[Recipient("EMAIL", "ada@example.com")],
            settings=services.settings,
        )
        session.rollback()  # the rule's transaction failed: nothing is queued
    assert outbox(services) == []


def test_the_recipient_is_sealed_and_fingerprinted(services, tenant_id):
    queue(services, tenant_id, Recipient("SLACK", SLACK_URL))
    [row] = outbox(services)
    assert SLACK_URL not in row.recipient_sealed
    assert secret_box(services.settings).open(row.recipient_sealed, "address") == SLACK_URL
    assert row.recipient_fingerprint == fingerprint(services.settings, "SLACK", SLACK_URL)
    assert len(row.recipient_fingerprint) == 64
    other_key = services.settings.model_copy(update={"secret_key": "x" * 43 + "="})
    assert fingerprint(other_key, "SLACK", SLACK_URL) != row.recipient_fingerprint  # keyed, not a plain hash


@pytest.mark.parametrize(
    ("recipient", "field", "detail"),
    [
        pytest.param(
            Recipient("SLACK", "http://hooks.slack.com/services/T0/B0/plainhttp"),
            "address",
            "A Slack recipient's address must be an https:// incoming webhook URL "
            "(https://hooks.slack.com/services/…); copy it from the Slack app's Incoming Webhooks page.",
            id="slack-http",
        ),
        pytest.param(
            Recipient("EMAIL", "ada.example.com"),
            "address",
            "An email recipient's address must be one address such as `name@example.com` (one `@`, a domain with a "
            "dot, no spaces).",
            id="email-no-at",
        ),
        pytest.param(
            Recipient("TEAMS", "x"),  # type: ignore[arg-type]
            "kind",
            "A recipient's `kind` must be `SLACK` or `EMAIL`.",
            id="kind",
        ),
    ],
)
def test_bad_recipients_are_refused_naming_the_field(services, tenant_id, recipient, field, detail):
    with pytest.raises(InvalidArgument) as refused:
        queue(services, tenant_id, Recipient("EMAIL", "ok@example.com"), recipient)
    [problem] = refused.value.violations
    assert (problem.path, problem.detail) == (("recipients", 1, field), detail)
    assert "plainhttp" not in str(refused.value)
    assert outbox(services) == []


def test_masks():
    assert mask("SLACK", SLACK_URL) == "hooks.slack.com/…"
    assert mask("SLACK", "http://127.0.0.1:8123/services/T/B/x") == "127.0.0.1:8123/…"
    assert mask("EMAIL", "ada@example.com") == "a***@example.com"
    assert repr(Recipient("SLACK", SLACK_URL)) == "Recipient(kind='SLACK', address='hooks.slack.com/…')"


def test_statuses_equal_the_protos_one_of():
    descriptor = notification_pb2.ListNotificationsRequest.DESCRIPTOR.fields_by_name["status"]
    assert list(field_rules(descriptor).one_of) == [s.value for s in Status]


def test_the_table_has_no_plain_recipient_column(services):
    columns = set(sa.inspect(Notification).columns.keys())
    assert {c for c in columns if "recipient" in c or "address" in c} == {
        "recipient_sealed",
        "recipient_fingerprint",
        "recipient_masked",
    }
