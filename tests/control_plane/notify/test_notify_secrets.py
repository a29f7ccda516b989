"""The webhook URL, the email address and the SMTP password reach no log line (at DEBUG, from any logger of the
control plane and its HTTP client), no stored error, no API answer and no database column: the whole database
file is searched for them."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from control_plane.notify import Recipient, deliver_due
from control_plane.rest.app import create_app
from control_plane.services import Services
from control_plane.settings import Settings
from control_plane.tenants.service import create_tenant
from devtools.standins.server import Reply
from tests.control_plane.notify.conftest import SMTP_PASSWORD, WEBHOOK_PATH
from tests.control_plane.notify.support import NOW, outbox, queue

TOKEN = WEBHOOK_PATH.rsplit("/", 1)[1]
ADDRESS = "ada.lovelace@example.com"
TEST_SMTP_SERVER = "mail.log"
"""aiosmtpd's logger: the test's SMTP server, which logs what it receives (AUTH included); not ours."""


def secrets_in(text: str, webhook: str) -> list[str]:
    plain_auth = base64.b64encode(f"\0costory-mailer\0{SMTP_PASSWORD}".encode()).decode()
    found = [s for s in (webhook, WEBHOOK_PATH, TOKEN, SMTP_PASSWORD, plain_auth, ADDRESS) if s in text]
    return found


def test_no_secret_in_logs_errors_answers_or_the_database(services, settings, slack, webhook, caplog):
    caplog.set_level(logging.DEBUG)
    with services.sessions.begin() as session:
        tenant, token = create_tenant(session, "Tenant A")
        tenant_id = tenant.id
    wrong_password = Services(
        settings.model_copy(update={"smtp_password": SecretStr("x" + SMTP_PASSWORD)}),
        services.sessions,
        services.identity,
        services.access,
        services.owner,
    )

    queue(services, tenant_id, Recipient("SLACK", webhook), Recipient("EMAIL", ADDRESS), key="sent", now=NOW)
    deliver_due(services, NOW)  # both delivered (SMTP with the right password)
    slack.fail_next(Reply(404, f"no_service for {WEBHOOK_PATH}".encode()))  # a reply quoting the path
    queue(services, tenant_id, Recipient("SLACK", webhook), key="revoked")
    deliver_due(services, NOW + timedelta(seconds=1))
    slack.fail_next(Reply(503, webhook.encode()))
    queue(services, tenant_id, Recipient("SLACK", webhook), key="retried")
    deliver_due(services, NOW + timedelta(seconds=2))
    queue(services, tenant_id, Recipient("EMAIL", ADDRESS), key="wrong password")
    deliver_due(wrong_password, NOW + timedelta(seconds=3))
    queue(services, tenant_id, Recipient("SLACK", "http://127.0.0.1:9" + WEBHOOK_PATH), key="unreachable")
    deliver_due(services, NOW + timedelta(seconds=4))

    rows = outbox(services)
    assert [r.status for r in rows] == ["SENT", "SENT", "FAILED", "PENDING", "FAILED", "PENDING"]
    assert all(r.last_error for r in rows[2:])

    ours = [r for r in caplog.records if not r.name.startswith(TEST_SMTP_SERVER)]
    assert any(r.name == "urllib3.connectionpool" and "POST /[redacted]" in r.getMessage() for r in ours)
    assert [
        (r.name, r.getMessage(), secrets_in(r.getMessage(), webhook))
        for r in ours
        if secrets_in(r.getMessage(), webhook)
    ] == []
    assert secrets_in(" ".join(r.last_error for r in rows), webhook) == []
    assert rows[2].last_error == (
        "Slack refused the webhook (HTTP 404: no_service for /[redacted]): the webhook or its channel no longer "
        "exists. Create a new incoming webhook in Slack and update the recipient."
    )
    assert rows[3].last_error == "Slack failed (HTTP 503: [redacted])."

    with TestClient(create_app(services)) as api:
        answer = api.get("/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and len(answer.json()["notifications"]) == 6
    assert secrets_in(answer.text, webhook) == []

    database = Path(settings.database_url.removeprefix("sqlite:///"))
    services.sessions.kw["bind"].dispose()  # everything written to the file itself
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*")).decode("latin-1")
    assert "a***@example.com" in stored  # the search does see the rows' text
    assert secrets_in(stored, webhook) == []


def test_the_smtp_password_is_not_in_the_settings_repr_nor_their_errors():
    settings = Settings(
        smtp_host="mail.example.com", smtp_from="c@example.com", smtp_username="u", smtp_password=SMTP_PASSWORD
    )
    assert SMTP_PASSWORD not in repr(settings) and SMTP_PASSWORD not in str(settings)
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == SMTP_PASSWORD
    with pytest.raises(ValidationError) as refused:
        Settings(smtp_host="mail.example.com", smtp_password=SMTP_PASSWORD)
    assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [
        (("smtp_from",), "Value error, must be set with COSTORY_SMTP_HOST: the sender of notification email")
    ]
    assert SMTP_PASSWORD not in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "loc", "msg"),
    [
        pytest.param(
            {"smtp_from": "nobody"},
            "smtp_from",
            "Value error, must be an email address such as `costory@example.com`",
            id="from",
        ),
        pytest.param(
            {"smtp_username": "u"},
            "smtp_password",
            "Value error, must be set with COSTORY_SMTP_USERNAME",
            id="password",
        ),
        pytest.param({"smtp_port": 0}, "smtp_port", "Input should be greater than or equal to 1", id="port"),
    ],
)
def test_smtp_settings_are_checked_naming_the_setting(settings, loc, msg):
    with pytest.raises(ValidationError) as refused:
        Settings(**settings)
    assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [((loc,), msg)]
