"""How one attempt to deliver a notification failed. The channel decides the kind; the outbox decides what
follows (retry later, fail now, or never resend). Every message is safe to store and show: no webhook URL,
no address in full, no credential."""

from __future__ import annotations


class DeliveryError(Exception):
    """An attempt that did not deliver; ``str(error)`` names the cause and what to do."""


class TransientDelivery(DeliveryError):
    """Nothing was delivered and trying again later may work (Slack 429 / 5xx, SMTP 4xx, no connection)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds the channel asked us to wait (Slack's ``Retry-After``); None: the outbox's backoff."""


class PermanentDelivery(DeliveryError):
    """Nothing was delivered and trying again without a change cannot work (a revoked webhook, SMTP 5xx)."""


class UncertainDelivery(DeliveryError):
    """The message may have been delivered (the connection broke after it was sent): never resent."""
