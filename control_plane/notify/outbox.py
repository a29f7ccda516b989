"""The notification outbox: rules queue messages inside their own transaction (``enqueue``); the scheduler
delivers what is due (``deliver_due``), once, across any number of replicas.

Nothing is sent twice. Slack webhooks and SMTP take no idempotency key, so a message whose outcome was not
recorded cannot be told apart from one that was never sent. The outbox therefore commits SENDING before it
sends and SENT after; a row found SENDING once its lease has expired was possibly delivered, and becomes
UNCERTAIN (shown in history with what to check) instead of being sent again. That is at-most-once on the one
ambiguous window (a crash between the send and its record), and exactly-once everywhere else.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane import secrets
from control_plane.db import insert_new
from control_plane.errors import InvalidArgument
from control_plane.imports.errors import TerminalImportError
from control_plane.models import utcnow
from control_plane.notify import email, slack
from control_plane.notify.errors import DeliveryError, PermanentDelivery, TransientDelivery, UncertainDelivery
from control_plane.notify.models import Channel, Notification, Status
from control_plane.scheduler.slots import require_utc
from control_plane.settings import EMAIL_ADDRESS, Settings
from costory_schema.problems import Problem

if TYPE_CHECKING:  # not at run time: the services import the whole control plane
    from control_plane.services import Services

log = logging.getLogger(__name__)

CRASH_AFTER_SEND = "COSTORY_TEST_ONLY_CRASH_AFTER_SEND"
"""Test-only failpoint: when set, the process kills itself (SIGKILL) right after a message is delivered and
before the delivery is recorded, so a test can show the message is not sent again. Never set it in a
deployment."""

MAX_ATTEMPTS = 5
"""Attempts in all before a transiently failing notification is FAILED."""
RETRY_BASE_SECONDS = 60.0
"""Backoff after the first failed attempt; it doubles each time (60 s, 120 s, 240 s, 480 s), unless Slack's
``Retry-After`` says how long to wait."""



@dataclass(frozen=True)
class Recipient:
    """Where one copy goes: a Slack incoming webhook URL (a secret) or an email address."""

    kind: Literal["SLACK", "EMAIL"]
    address: str

    def __repr__(self) -> str:  # the address is a secret: never in a repr, a log line or a traceback
        return f"Recipient(kind={self.kind!r}, address={mask(self.kind, self.address)!r})"


def mask(kind: str, address: str) -> str:
    """What history shows of a recipient: the webhook's host (``hooks.slack.com/…``), or the address's first
    character and domain (``a***@example.com``)."""
    if kind == Channel.SLACK:
        parts = urlsplit(address.strip())
        host = parts.hostname or "?"
        return f"{host}:{parts.port}/…" if parts.port else f"{host}/…"
    local, _, domain = address.strip().rpartition("@")
    return f"{local[:1]}***@{domain}"


def fingerprint(settings: Settings, kind: str, address: str) -> str:
    """HMAC-SHA256 of the recipient under a key derived from the secret key: the same recipient gives the same
    value (what the unique constraint compares), and the database alone does not reveal or confirm it."""
    normal = address.strip().lower() if kind == Channel.EMAIL else address.strip()
    return secrets.keyed_digest(settings, "costory notification recipient", f"{kind}\0{normal}")


def check_recipients(recipients: Sequence[Recipient]) -> list[Problem]:
    """Each recipient's kind and address; messages never quote a webhook URL."""
    problems = []
    for index, recipient in enumerate(recipients):
        path = ("recipients", index)
        if recipient.kind == Channel.SLACK:
            parts = urlsplit(recipient.address.strip())
            loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
            if not (parts.scheme == "https" or (parts.scheme == "http" and loopback)) or not parts.hostname:
                problems.append(
                    Problem(
                        (*path, "address"),
                        "Invalid Webhook URL",
                        "A Slack recipient's address must be an https:// incoming webhook URL "
                        "(https://hooks.slack.com/services/…); copy it from the Slack app's Incoming Webhooks page.",
                    )
                )
        elif recipient.kind == Channel.EMAIL:
            if not EMAIL_ADDRESS.fullmatch(recipient.address.strip()):
                problems.append(
                    Problem(
                        (*path, "address"),
                        "Invalid Email Address",
                        "An email recipient's address must be one address such as `name@example.com` (one `@`, "
                        "a domain with a dot, no spaces).",
                    )
                )
        else:
            problems.append(
                Problem((*path, "kind"), "Invalid Value", "A recipient's `kind` must be `SLACK` or `EMAIL`.")
            )
    return problems


def enqueue(
    session: Session,
    *,
    tenant_id: str,
    source_kind: str,
    source_id: str,
    key: str,
    subject: str,
    text: str,
    blocks: Sequence[Mapping[str, Any]] | None = None,
    recipients: Sequence[Recipient],
    settings: Settings | None = None,
    now: datetime | None = None,
) -> bool:
    """Queue one message per recipient in the caller's transaction (flushed, not committed); returns whether
    anything new was queued. A (tenant, ``key``, recipient) already queued is skipped (``INSERT … ON CONFLICT
    DO NOTHING``), so evaluating a rule twice notifies once.

    ``settings`` holds the secret key that seals the recipients: pass the process's (``services.settings``);
    unset, they are read from the environment. ``now`` is the creation time shown in history; a new row is due
    at the next delivery whatever the deliverer's clock says.
    """
    if problems := check_recipients(recipients):
        raise InvalidArgument(problems)
    settings = settings or Settings()
    box = secrets.secret_box(settings)
    created = now or utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for recipient in recipients:
        address = recipient.address.strip()
        digest = fingerprint(settings, recipient.kind, address)
        rows.setdefault(
            digest,
            {
                "id": f"ntf_{uuid.uuid4().hex}",
                "tenant_id": tenant_id,
                "source_kind": source_kind,
                "source_id": source_id,
                "key": key,
                "channel": recipient.kind,
                "recipient_sealed": box.seal(address),
                "recipient_fingerprint": digest,
                "recipient_masked": mask(recipient.kind, address),
                "subject": subject,
                "text": text,
                "blocks": list(blocks) if blocks else None,
                "status": Status.PENDING.value,
                "attempts": 0,
                "next_attempt_at": None,
                "last_error": "",
                "created_at": created,
            },
        )
    if not rows:
        return False
    unique = [Notification.tenant_id, Notification.key, Notification.recipient_fingerprint]
    return insert_new(session, Notification, list(rows.values()), unique) > 0


@dataclass(frozen=True)
class Claimed:
    """A plain snapshot of the row being delivered (the session is closed while it is sent)."""

    id: str
    channel: str
    recipient_sealed: str
    recipient_masked: str
    subject: str
    text: str
    blocks: list | None
    attempts: int


def deliver_due(services: Services, now: datetime) -> int:
    """Deliver every due notification; returns how many were sent.

    1. Rows left SENDING by a process whose lease expired become UNCERTAIN (never resent: see the module).
    2. Claim the oldest due row (PENDING, and new or past ``next_attempt_at``): SENDING under this process's
       lease, committed, with a compare-and-swap on its status and attempts (and ``FOR UPDATE SKIP LOCKED`` on
       PostgreSQL), so two replicas never claim one row.
    3. Send it outside any transaction.
    4. Record the outcome, if this process still holds the lease: SENT; PENDING again at ``next_attempt_at``
       after a transient failure with attempts left; FAILED; or UNCERTAIN. Repeat from 2.
    """
    now = require_utc(now)
    settings = services.settings
    lease = timedelta(seconds=settings.lease_seconds)
    with services.sessions() as session:
        _expire_leases(session, now)
    sent = 0
    while True:
        with services.sessions() as session:
            claimed = _claim(session, now, services.owner, lease)
        if claimed is None:
            return sent
        try:
            _send(claimed, settings)
        except DeliveryError as error:
            outcome: DeliveryError | None = error
        except Exception as error:  # a bug: whether anything left is unknown, so never resent
            log.error("notification %s: delivery stopped on %s", claimed.id, type(error).__name__)
            outcome = UncertainDelivery(
                f"Delivery stopped on an unexpected error ({type(error).__name__}): it may have been delivered, and "
                "is not resent automatically. Report it with the control plane's log."
            )
        else:
            outcome = None
            if os.environ.get(CRASH_AFTER_SEND):  # test-only failpoint, see CRASH_AFTER_SEND
                os.kill(os.getpid(), signal.SIGKILL)
        with services.sessions() as session:
            status = _record(session, claimed, services.owner, now, outcome)
        label = f"notification {claimed.id} ({claimed.channel} to {claimed.recipient_masked})"
        if status is None:
            log.warning("%s: its lease expired before the outcome was recorded", label)
        elif status == Status.SENT:
            sent += 1
            log.info("%s sent", label)
        elif status == Status.PENDING:
            log.warning("%s failed, will retry: %s", label, outcome)
        else:
            log.error("%s %s: %s", label, status.lower(), outcome)


def _send(claimed: Claimed, settings: Settings) -> None:
    try:
        address = secrets.secret_box(settings).open(claimed.recipient_sealed, "address")
    except TerminalImportError:
        raise PermanentDelivery(
            "The recipient cannot be decrypted with this control plane's COSTORY_SECRET_KEY (the key changed, or "
            "replicas use different keys). Restore the key; the message is not sent."
        ) from None
    if claimed.channel == Channel.SLACK:
        slack.send(address, claimed.text, claimed.blocks)
    else:
        email.send(settings, claimed.id, address, claimed.recipient_masked, claimed.subject, claimed.text)


def _expire_leases(session: Session, now: datetime) -> None:
    stale = session.execute(
        sa.select(Notification.id, Notification.lease_owner, Notification.channel).where(
            Notification.status == Status.SENDING.value, Notification.lease_expires_at < now
        )
    ).all()
    for row_id, owner, channel in stale:
        where = "the Slack channel" if channel == Channel.SLACK else "the recipient's inbox or the SMTP server's log"
        _update(
            session,
            (Notification.id == row_id, Notification.status == Status.SENDING.value),
            status=Status.UNCERTAIN.value,
            lease_expires_at=None,
            last_error=(
                f"The process sending it ({owner}) stopped before recording the outcome: it may have been "
                f"delivered. Check {where}; it is not resent automatically."
            ),
        )
        log.warning("notification %s: its sender %s stopped mid-delivery; marked UNCERTAIN", row_id, owner)
    session.commit()


def _claim(session: Session, now: datetime, owner: str, lease: timedelta) -> Claimed | None:
    due = sa.and_(
        Notification.status == Status.PENDING.value,
        sa.or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
    )
    while True:
        row = session.scalars(
            sa.select(Notification)
            .where(due)
            .order_by(Notification.created_at, Notification.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if row is None:
            session.commit()
            return None
        guard = (
            Notification.id == row.id,
            Notification.status == Status.PENDING.value,
            Notification.attempts == row.attempts,
        )
        claimed = Claimed(
            row.id,
            row.channel,
            row.recipient_sealed,
            row.recipient_masked,
            row.subject,
            row.text,
            row.blocks,
            row.attempts + 1,
        )
        if _update(
            session,
            guard,
            status=Status.SENDING.value,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=claimed.attempts,
        ):
            session.commit()
            return claimed
        session.rollback()  # another process claimed it first


def _record(
    session: Session, claimed: Claimed, owner: str, now: datetime, outcome: DeliveryError | None
) -> Status | None:
    """Write the attempt's outcome; None (nothing written) if this process no longer holds the lease."""
    values: dict[str, Any] = {"lease_expires_at": None}
    if outcome is None:
        status = Status.SENT
        values["sent_at"] = now
    elif isinstance(outcome, TransientDelivery) and claimed.attempts < MAX_ATTEMPTS:
        status = Status.PENDING
        delay = outcome.retry_after
        if delay is None:
            delay = RETRY_BASE_SECONDS * 2 ** (claimed.attempts - 1)
        values.update(next_attempt_at=now + timedelta(seconds=delay), last_error=str(outcome))
    elif isinstance(outcome, TransientDelivery):
        status = Status.FAILED
        values["last_error"] = f"{outcome} Gave up after {claimed.attempts} attempts."
    elif isinstance(outcome, UncertainDelivery):
        status = Status.UNCERTAIN
        values["last_error"] = str(outcome)
    else:
        status = Status.FAILED
        values["last_error"] = str(outcome)
    owned = (
        Notification.id == claimed.id,
        Notification.lease_owner == owner,
        Notification.status == Status.SENDING.value,
    )
    recorded = _update(session, owned, status=status.value, **values)
    session.commit()
    return status if recorded else None


def _update(session: Session, where: tuple[sa.ColumnElement[bool], ...], **values: Any) -> bool:
    result = session.execute(
        sa.update(Notification).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return cast(sa.CursorResult, result).rowcount == 1
