"""Slack delivery to a webhook receiver on 127.0.0.1: the exact JSON, retries of 429 (after Retry-After) and 503
(after the backoff) through ``next_attempt_at``, a revoked webhook failing at once, giving up after the last
attempt, and a connection that breaks after sending left UNCERTAIN."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

from control_plane.notify import Recipient, Status, deliver_due
from control_plane.notify.outbox import MAX_ATTEMPTS
from control_plane.scheduler.slots import as_utc
from devtools.standins.server import Reply
from tests.control_plane.notify.conftest import WEBHOOK_PATH
from tests.control_plane.notify.support import BLOCKS, NOW, one, queue


def test_the_webhook_receives_text_and_blocks_once(services, tenant_id, slack, webhook):
    assert queue(services, tenant_id, Recipient("SLACK", webhook), blocks=BLOCKS) is True

    assert deliver_due(services, NOW) == 1
    assert deliver_due(services, NOW + timedelta(days=1)) == 0

    [request] = slack.requests
    assert (request.method, request.path) == ("POST", WEBHOOK_PATH)
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"text": "Platform spent $1,234.50 of its $1,000.00 March budget.", "blocks": BLOCKS}
    row = one(services)
    assert (row.status, row.attempts, as_utc(row.sent_at), row.last_error) == (Status.SENT, 1, NOW, "")


def test_without_blocks_only_text_is_sent(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    deliver_due(services, NOW)
    assert [r.body for r in slack.requests] == [{"text": "Platform spent $1,234.50 of its $1,000.00 March budget."}]


def test_429_waits_for_retry_after_then_sends(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    slack.fail_next(Reply(429, b"rate_limited", {"Retry-After": "30"}))

    assert deliver_due(services, NOW) == 0
    row = one(services)
    assert (row.status, row.attempts, as_utc(row.next_attempt_at)) == (Status.PENDING, 1, NOW + timedelta(seconds=30))
    assert row.last_error == "Slack rate limited the webhook (HTTP 429: rate_limited)."

    assert deliver_due(services, NOW + timedelta(seconds=29)) == 0  # not due yet: nothing posted
    assert len(slack.requests) == 1
    assert deliver_due(services, NOW + timedelta(seconds=30)) == 1
    assert len(slack.requests) == 2
    row = one(services)
    assert (row.status, row.attempts, as_utc(row.sent_at)) == (Status.SENT, 2, NOW + timedelta(seconds=30))


def test_503_backs_off_60_then_120_seconds(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    slack.fail_next(Reply(503, b"service_unavailable"), Reply(503, b"service_unavailable"))

    deliver_due(services, NOW)
    assert as_utc(one(services).next_attempt_at) == NOW + timedelta(seconds=60)
    deliver_due(services, NOW + timedelta(seconds=60))
    assert as_utc(one(services).next_attempt_at) == NOW + timedelta(seconds=60 + 120)
    assert deliver_due(services, NOW + timedelta(seconds=180)) == 1
    row = one(services)
    assert (row.status, row.attempts) == (Status.SENT, 3)
    assert row.last_error == "Slack failed (HTTP 503: service_unavailable)."  # the last failure stays on record


def test_a_revoked_webhook_fails_at_once_with_the_reason(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    slack.fail_next(Reply(404, b"no_service"))

    assert deliver_due(services, NOW) == 0
    assert deliver_due(services, NOW + timedelta(days=1)) == 0
    assert len(slack.requests) == 1
    row = one(services)
    assert (row.status, row.attempts) == (Status.FAILED, 1)
    assert row.last_error == (
        "Slack refused the webhook (HTTP 404: no_service): the webhook or its channel no longer exists. Create a new "
        "incoming webhook in Slack and update the recipient."
    )


def test_a_rejected_payload_fails_at_once(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    slack.fail_next(Reply(400, b"invalid_blocks"))
    deliver_due(services, NOW)
    row = one(services)
    assert (row.status, row.last_error) == (
        Status.FAILED,
        "Slack rejected the message (HTTP 400: invalid_blocks). Check the message's blocks against Slack's Block Kit "
        "reference.",
    )


def test_gives_up_after_the_last_attempt(services, tenant_id, slack, webhook):
    queue(services, tenant_id, Recipient("SLACK", webhook))
    slack.fail_next(*[Reply(500, b"oops")] * MAX_ATTEMPTS)
    at = NOW
    for _attempt in range(MAX_ATTEMPTS):
        deliver_due(services, at)
        at += timedelta(hours=1)
    assert len(slack.requests) == MAX_ATTEMPTS == 5
    row = one(services)
    assert (row.status, row.attempts) == (Status.FAILED, 5)
    assert row.last_error == "Slack failed (HTTP 500: oops). Gave up after 5 attempts."


def test_an_unreachable_webhook_is_retried(services, tenant_id):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connection refused
        queue(services, tenant_id, Recipient("SLACK", f"http://127.0.0.1:{port}{WEBHOOK_PATH}"))
        deliver_due(services, NOW)
    row = one(services)
    assert (row.status, as_utc(row.next_attempt_at)) == (Status.PENDING, NOW + timedelta(seconds=60))
    assert row.last_error == "Slack could not be reached (no connection to the webhook's host)."


def test_a_connection_broken_after_sending_is_uncertain_and_never_resent(services, tenant_id):
    """The receiver reads the whole request, then hangs up without answering: the message may be posted."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def hang_up() -> None:
        connection, _ = server.accept()
        with connection:
            received.append(connection.recv(65536))

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    queue(services, tenant_id, Recipient("SLACK", f"http://127.0.0.1:{port}{WEBHOOK_PATH}"))
    try:
        deliver_due(services, NOW)
        thread.join(5)
        deliver_due(services, NOW + timedelta(days=1))
    finally:
        server.close()
    assert len(received) == 1 and received[0].startswith(f"POST {WEBHOOK_PATH} ".encode())
    row = one(services)
    assert (row.status, row.attempts) == (Status.UNCERTAIN, 1)
    assert row.last_error == (
        "The connection to Slack broke after the message was sent: it may have been posted. Check the channel; it is "
        "not resent automatically."
    )


def test_an_unexpected_error_is_uncertain_and_logged_without_detail(services, tenant_id, webhook, monkeypatch, caplog):
    """A bug in a channel: whether anything left is unknown, so the row is never resent."""
    from control_plane.notify import slack

    def broken(url, text, blocks):
        raise RuntimeError(f"bug while posting to {url}")

    monkeypatch.setattr(slack, "send", broken)
    queue(services, tenant_id, Recipient("SLACK", webhook))
    deliver_due(services, NOW)
    deliver_due(services, NOW + timedelta(days=1))
    row = one(services)
    assert (row.status, row.attempts) == (Status.UNCERTAIN, 1)
    assert row.last_error == (
        "Delivery stopped on an unexpected error (RuntimeError): it may have been delivered, and is not resent "
        "automatically. Report it with the control plane's log."
    )
    assert f"notification {row.id}: delivery stopped on RuntimeError" in caplog.messages
    assert WEBHOOK_PATH not in caplog.text


def test_an_outcome_after_the_lease_was_taken_over_is_not_recorded(services, tenant_id, slack, webhook, caplog):
    """While this process sends, another finds the lease expired (its clock past it) and marks the row UNCERTAIN:
    the late SENT is not written over it, and the loss is logged."""
    from control_plane.services import Services

    other = Services(services.settings, services.sessions, services.identity, services.access, "replica-b")
    later = NOW + timedelta(seconds=services.settings.lease_seconds + 1)

    def takeover(_request):
        deliver_due(other, later)
        return Reply(200, b"ok")

    slack.routes[("POST", "/services/*")] = takeover
    queue(services, tenant_id, Recipient("SLACK", webhook))
    assert deliver_due(services, NOW) == 0
    row = one(services)
    assert (row.status, row.sent_at, len(slack.requests)) == (Status.UNCERTAIN, None, 1)
    assert row.last_error.startswith(f"The process sending it ({services.owner}) stopped before recording")
    assert (
        f"notification {row.id} (SLACK to {row.recipient_masked}): its lease expired before the outcome was "
        "recorded" in caplog.messages
    )
