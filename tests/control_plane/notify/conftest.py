"""Notification fixtures: a migrated SQLite database and its services, a tenant, a real SMTP server (aiosmtpd) and
a Slack webhook receiver (LoopbackApi), both on 127.0.0.1 and stopped after the test."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from control_plane.secrets import new_key
from control_plane.services import Services, build_services
from control_plane.settings import Settings
from control_plane.tenants.service import create_tenant
from devtools.standins.server import LoopbackApi, Reply, Request

WEBHOOK_PATH = "/services/T0AB12CD3/B0EF45GH6/s3cr3tW3bh00kT0k3n"
SMTP_USER = "costory-mailer"
SMTP_PASSWORD = "hunter2-Sm7p-Pa55w0rd"


class LoopbackController(Controller):
    """aiosmtpd's Controller on port 0: its readiness check connects to the port the server was given, so it
    is pointed at the one the system chose."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Mailbox:
    """What the SMTP server received, and the replies it is told to give next (``"451 4.3.0 Try later"``)."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    """(envelope sender, envelope recipients, parsed message) in order of arrival."""
    data_replies: deque[str] = field(default_factory=deque)
    rcpt_replies: deque[str] = field(default_factory=deque)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.data_replies:
            return self.data_replies.popleft()
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 2.0.0 OK: queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.logins.append(auth_data.login.decode())
            ok = auth_data.login.decode() == SMTP_USER and auth_data.password.decode() == SMTP_PASSWORD
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """(mailbox, port) of an SMTP server on 127.0.0.1 that accepts LOGIN/PLAIN as SMTP_USER / SMTP_PASSWORD."""
    box = Mailbox()
    controller = LoopbackController(
        box, hostname="127.0.0.1", port=0, authenticator=box.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@pytest.fixture
def slack() -> Iterator[LoopbackApi]:
    """A Slack incoming webhook on 127.0.0.1: answers `ok` (text) to a POST on any /services/… path."""

    def ok(_request: Request) -> Reply:
        return Reply(200, b"ok")

    api = LoopbackApi({("POST", "/services/*"): ok}, authenticate=lambda _request: True)
    with api:
        yield api


@pytest.fixture
def webhook(slack) -> str:
    return slack.url + WEBHOOK_PATH


@pytest.fixture
def settings(tmp_path, mailbox) -> Settings:
    _, port = mailbox
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'costory.db'}",
        data_dir=tmp_path / "data",
        secret_key=new_key(),
        trust_validation="skip",
        lease_seconds=600,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        smtp_from="costory@example.com",
        smtp_starttls=False,
    )


@pytest.fixture
def services(settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture
def tenant_id(services) -> str:
    with services.sessions.begin() as session:
        tenant, _token = create_tenant(session, "Tenant A")
        return tenant.id
