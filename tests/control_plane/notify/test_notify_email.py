"""Email delivery to a real SMTP server (aiosmtpd) on 127.0.0.1: the exact envelope, headers and plain-text body
after authenticating; SMTP 451 retried, 550 failing at once, refused credentials and a missing STARTTLS named
without the password, and no server configured."""

from __future__ import annotations

from datetime import timedelta

import pytest
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
    assert sorted((sender, to) for sender, to, _ in box.messages) == [
        ("costory@example.com", ["Grace@Example.org"]),
        ("costory@example.com", ["ada@example.com"]),
    ]
    for (_, to, mail), row in zip(box.messages, rows, strict=True):  # delivered in the outbox's order
        assert mail["From"] == "costory@example.com"
        assert mail["To"] == to[0]
        assert mail["Subject"] == "Budget Platform: 100% of March reached"
        assert mail["Message-ID"] == f"<{row.id}@example.com>"
        assert mail.get_content_type() == "text/plain"
        assert mail.get_content() == "Platform spent $1,234.50 of its $1,000.00 March budget.\r\n"  # as on the wire
        assert (row.status, row.attempts, as_utc(row.sent_at)) == (Status.SENT, 1, NOW)
    assert sorted(r.recipient_masked for r in rows) == ["G***@Example.org", "a***@example.com"]


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


def self_signed(directory) -> tuple[str, str]:
    """(certificate, key) files of a certificate for 127.0.0.1, generated now."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp.pem", directory / "smtp.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_starttls_before_authenticating(services, tenant_id, tmp_path, monkeypatch, trusted):
    """A server that requires STARTTLS (and TLS for AUTH): with its certificate trusted (through SSL_CERT_FILE) the
    message is delivered over the verified connection; untrusted, nothing is sent and the reason is given."""
    import ssl

    from tests.control_plane.notify.conftest import LoopbackController, Mailbox

    cert, key = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", cert)  # what ssl.create_default_context() trusts
    box = Mailbox()
    controller = LoopbackController(
        box,
        hostname="127.0.0.1",
        port=0,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=box.authenticate,
    )
    controller.start()
    try:
        queue(services, tenant_id, Recipient("EMAIL", "ada@example.com"))
        tls = with_settings(services, smtp_port=controller.port, smtp_starttls=True)
        assert deliver_due(tls, NOW) == int(trusted)
    finally:
        controller.stop()
    row = one(services)
    if trusted:
        assert (box.logins, row.status) == ([SMTP_USER], Status.SENT)
        assert [to for _, to, _ in box.messages] == [["ada@example.com"]]
        return
    assert (box.logins, box.messages, row.status) == ([], [], Status.FAILED)
    assert row.last_error == (
        f"The SMTP server 127.0.0.1:{controller.port} presented a certificate that is not trusted (self-signed "
        "certificate). Give it a certificate from a trusted authority, or add its CA to the trusted certificates "
        "(SSL_CERT_FILE)."
    )
