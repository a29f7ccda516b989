"""Email delivery to a real SMTP server (aiosmtpd) on 127.0.0.1: the exact envelope, headers and plain-text body
after authenticating; SMTP 451 retried, 550 failing at once, refused credentials and a missing STARTTLS named
without the password, and no server configured."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr

from control_plane.notify import Recipient, Status, deliver_due
from control_plane.scheduler.slots import as_utc
from control_plane.services import Services
from tests.control_plane.notify.conftest import SMTP_PASSWORD, SMTP_USER
from tests.control_plane.notify.support import NOW, one, outbox, queue


def with_settings(services: Services, **changes) -> Services:
    """The same database and process, other SMTP settings."""
    return Services(
        services.settings.model_copy(update=changes),
        services.sessions,
        services.identity,
        services.access,
        services.owner,
    )


def test_each_recipient_gets_the_exact_message(services, tenant_id, mailbox):
    box, _port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"), Recipient("EMAIL", "Grace@Example.org"))

    assert deliver_due(services, NOW) == 2
    assert deliver_due(services, NOW + timedelta(days=1)) == 0

    assert box.logins == [SMTP_USER, SMTP_USER]
    rows = outbox(services)
    assert [(sender, to) for sender, to, _ in box.messages] == [
        ("costory@example.com", ["ada@example.com"]),
        ("costory@example.com", ["Grace@Example.org"]),
    ]
    for (_, to, mail), row in zip(box.messages, rows, strict=True):
        assert mail["From"] == "costory@example.com"
        assert mail["To"] == to[0]
        assert mail["Subject"] == "Budget Platform: 100% of March reached"
        assert mail["Message-ID"] == f"<{row.id}@example.com>"
        assert mail.get_content_type() == "text/plain"
        assert mail.get_content() == "Platform spent $1,234.50 of its $1,000.00 March budget.\r\n"  # as on the wire
        assert (row.status, row.attempts, as_utc(row.sent_at)) == (Status.SENT, 1, NOW)
    assert [r.recipient_masked for r in rows] == ["a***@example.com", "G***@Example.org"]


def test_451_is_retried_after_the_backoff(services, tenant_id, mailbox):
    box, port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    box.data_replies.append("451 4.3.0 Mail server temporarily rejected message")

    assert deliver_due(services, NOW) == 0
    row = one(services)
    assert (row.status, as_utc(row.next_attempt_at)) == (Status.PENDING, NOW + timedelta(seconds=60))
    assert row.last_error == (
        f"The SMTP server 127.0.0.1:{port} refused the message (451: 4.3.0 Mail server temporarily rejected "
        "message); it is retried."
    )
    assert deliver_due(services, NOW + timedelta(seconds=60)) == 1
    assert len(box.messages) == 1
    assert (one(services).status, one(services).attempts) == (Status.SENT, 2)


def test_550_fails_at_once(services, tenant_id, mailbox):
    box, port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    box.data_replies.append("550 5.7.1 Message rejected as spam")

    deliver_due(services, NOW)
    deliver_due(services, NOW + timedelta(days=1))
    row = one(services)
    assert (row.status, row.attempts, box.messages) == (Status.FAILED, 1, [])
    assert row.last_error == (
        f"The SMTP server 127.0.0.1:{port} refused the message (550: 5.7.1 Message rejected as spam). Check the "
        "address and the server's policy."
    )


def test_refused_credentials_name_the_settings_not_the_password(services, tenant_id, mailbox):
    box, port = mailbox
    wrong = with_settings(services, smtp_password=SecretStr("not-" + SMTP_PASSWORD))
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))

    deliver_due(wrong, NOW)
    row = one(services)
    assert row.status == Status.FAILED and box.messages == []
    assert row.last_error == (
        f"The SMTP server 127.0.0.1:{port} refused COSTORY_SMTP_USERNAME / COSTORY_SMTP_PASSWORD (535: 5.7.8 "
        "Authentication credentials invalid). Set the right credentials."
    )


def test_starttls_required_but_not_offered(services, tenant_id, mailbox):
    _box, port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    deliver_due(with_settings(services, smtp_starttls=True), NOW)
    row = one(services)
    assert (row.status, row.last_error) == (
        Status.FAILED,
        f"The SMTP server 127.0.0.1:{port} does not offer STARTTLS. Use a server that does, or set "
        "COSTORY_SMTP_STARTTLS=false for a relay on loopback or a private network.",
    )


def test_no_smtp_server_configured(services, tenant_id):
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    deliver_due(with_settings(services, smtp_host=None), NOW)
    row = one(services)
    assert (row.status, row.last_error) == (
        Status.FAILED,
        "No SMTP server is configured: set COSTORY_SMTP_HOST and COSTORY_SMTP_FROM (and COSTORY_SMTP_USERNAME / "
        "COSTORY_SMTP_PASSWORD if it requires authentication).",
    )


def test_an_unreachable_smtp_server_is_retried(services, tenant_id):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
        deliver_due(with_settings(services, smtp_port=port), NOW)
    row = one(services)
    assert (row.status, as_utc(row.next_attempt_at)) == (Status.PENDING, NOW + timedelta(seconds=60))
    assert row.last_error == f"The SMTP server 127.0.0.1:{port} could not be reached (ConnectionRefusedError)."


def test_a_refused_recipient_is_named_masked(services, tenant_id, mailbox):
    box, port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    box.rcpt_replies.append("550 5.1.1 <ada@example.com>: Recipient address rejected: User unknown")
    deliver_due(services, NOW)
    row = one(services)
    assert (row.status, box.messages) == (Status.FAILED, [])
    assert row.last_error == (
        f"The SMTP server 127.0.0.1:{port} refused a***@example.com (550: 5.1.1 <a***@example.com>: Recipient "
        "address rejected: User unknown). Check the address and the server's policy."
    )


def test_a_recipient_deferred_with_450_is_retried(services, tenant_id, mailbox):
    box, _port = mailbox
    queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
    box.rcpt_replies.append("450 4.2.0 Mailbox busy")
    deliver_due(services, NOW)
    assert (one(services).status, as_utc(one(services).next_attempt_at)) == (
        Status.PENDING,
        NOW + timedelta(seconds=60),
    )
    assert deliver_due(services, NOW + timedelta(seconds=60)) == 1
    assert [to for _, to, _ in box.messages] == [["ada@example.com"]]
