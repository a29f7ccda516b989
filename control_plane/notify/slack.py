"""Slack incoming webhooks: one POST of ``{"text": ..., "blocks": [...]}`` to the webhook URL.

The URL is the credential: it is scrubbed from every message, and the HTTP client's own DEBUG line (urllib3
logs each request's path) is redacted by ``RedactWebhookPaths``. One attempt per call: retries belong to the
outbox (``next_attempt_at``), so a message waits in the database, not in a sleeping thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import requests
import urllib3.exceptions

from control_plane.billing.sources.http import RETRIED_STATUSES, ApiClient
from control_plane.logs import WEBHOOK_PATH
from control_plane.notify.errors import PermanentDelivery, TransientDelivery, UncertainDelivery

TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER_SECONDS = 3600.0


_GONE = {
    403: "the webhook's token was revoked or the app removed",
    404: "the webhook or its channel no longer exists",
    410: "the webhook's channel was archived",
}


class RedactWebhookPaths(logging.Filter):
    """Replaces webhook paths in the records of the logger it is attached to (urllib3's connection pool,
    which logs ``"POST /services/… HTTP/1.1" 200`` at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = WEBHOOK_PATH.sub("/[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _install_redaction() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactWebhookPaths) for f in logger.filters):
        logger.addFilter(RedactWebhookPaths())


_install_redaction()


def payload(text: str, blocks: Sequence[Any] | None) -> dict[str, Any]:
    """The webhook's JSON: ``text`` always (Slack's fallback for notifications), ``blocks`` when given."""
    body: dict[str, Any] = {"text": text}
    if blocks:
        body["blocks"] = list(blocks)
    return body


def send(url: str, text: str, blocks: Sequence[Any] | None, *, http: requests.Session | None = None) -> None:
    """Post one message; raises a ``DeliveryError`` saying whether it may be tried again."""
    client = ApiClient(
        source="Slack",
        base_url=url,
        headers={},
        credential_attribute="webhook URL",
        secret=url,
        attempts=1,
        max_wait_seconds=MAX_RETRY_AFTER_SECONDS,
        timeout_seconds=TIMEOUT_SECONDS,
        session=http or requests.Session(),
    )
    try:
        response = client.session.post(url, json=payload(text, blocks), timeout=client.timeout_seconds)
    except requests.Timeout as error:
        if isinstance(error, requests.ConnectTimeout):
            raise TransientDelivery("Slack could not be reached (the connection timed out).") from None
        raise UncertainDelivery(
            f"Slack did not answer within {TIMEOUT_SECONDS:g} s after the message was sent: it may have been "
            "posted. Check the channel; it is not resent automatically."
        ) from None
    except requests.ConnectionError as error:
        if _never_connected(error):
            raise TransientDelivery("Slack could not be reached (no connection to the webhook's host).") from None
        raise UncertainDelivery(
            "The connection to Slack broke after the message was sent: it may have been posted. Check the "
            "channel; it is not resent automatically."
        ) from None
    finally:
        if http is None:
            client.session.close()
    if response.status_code < 300:
        return
    said = _scrub(client, response.text.strip() or response.reason or "no detail")
    if response.status_code in RETRIED_STATUSES:
        wait = client.retry_after(response) if response.status_code == 429 else None
        what = "rate limited the webhook" if response.status_code == 429 else "failed"
        raise TransientDelivery(f"Slack {what} (HTTP {response.status_code}: {said}).", retry_after=wait)
    reason = _GONE.get(response.status_code)
    if reason is not None:
        raise PermanentDelivery(
            f"Slack refused the webhook (HTTP {response.status_code}: {said}): {reason}. Create a new incoming "
            "webhook in Slack and update the recipient."
        )
    raise PermanentDelivery(
        f"Slack rejected the message (HTTP {response.status_code}: {said}). Check the message's blocks against "
        "Slack's Block Kit reference."
    )


def _never_connected(error: requests.ConnectionError) -> bool:
    """Whether the request never left (refused, unresolvable): then it is safe to send again."""
    cause = error.args[0] if error.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def _scrub(client: ApiClient, text: str) -> str:
    return WEBHOOK_PATH.sub("/[redacted]", client.scrub(text))[:200]
