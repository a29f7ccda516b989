"""The one HTTP client of the billing APIs (Anthropic, OpenAI, Cursor, Elastic Cloud): retries what may pass
(429 honouring ``Retry-After``, 5xx, connection errors and timeouts) and turns what will not into an import
failure that names the attribute to fix. The credential never appears in a message (every text taken from a
response is scrubbed of it) nor in the client's ``repr``. JSON numbers with a fraction are read as ``Decimal``
from their text, so an amount never passes through a float."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests

from control_plane.imports.errors import TerminalImportError, TransientImportError

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
REFUSED_STATUSES = frozenset({401, 403})
MAX_DETAIL = 300


@dataclass
class ApiClient:
    source: str
    """How messages name the API, e.g. "Anthropic Admin API"."""
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    """Sent with every request; they carry the credential, so they are left out of ``repr``."""
    credential_attribute: str
    """The Terraform attribute holding the credential, named when it is refused (e.g. `admin_api_key`)."""
    secret: str = field(repr=False)
    """Scrubbed from any text quoted in a message."""
    auth: tuple[str, str] | None = field(default=None, repr=False)
    """HTTP Basic credentials (Cursor)."""
    exact_numbers: bool = True
    """JSON numbers with a fraction as ``Decimal`` (read from their text); False: as floats."""
    attempts: int = 5
    max_wait_seconds: float = 60.0
    timeout_seconds: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> Any:
        """The response's JSON. Raises TransientImportError once the retries are spent, TerminalImportError
        for a refused credential or a request the API rejects."""
        url = self.base_url.rstrip("/") + path
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=dict(self.headers),
                    auth=self.auth,
                    timeout=self.timeout_seconds,
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                if attempt == self.attempts:
                    raise TransientImportError(
                        f"{self.source} could not be reached at {self.base_url} ({type(error).__name__}); the "
                        "import is retried automatically."
                    ) from None
                self.sleep(self._backoff(attempt))
                continue
            if response.status_code in RETRIED_STATUSES:
                if attempt == self.attempts:
                    what = (
                        "rate limited the import (HTTP 429)"
                        if response.status_code == 429
                        else (f"answered HTTP {response.status_code}")
                    )
                    raise TransientImportError(
                        f"{self.source} {what} {self.attempts} times in a row at {path}; the import is retried "
                        "automatically."
                    )
                wait = self.retry_after(response) if response.status_code == 429 else None
                log.info(
                    "%s answered %d at %s; attempt %d of %d",
                    self.source,
                    response.status_code,
                    path,
                    attempt,
                    self.attempts,
                )
                self.sleep(wait if wait is not None else self._backoff(attempt))
                continue
            if response.status_code in REFUSED_STATUSES:
                raise TerminalImportError(
                    f"{self.source} refused the `{self.credential_attribute}` (HTTP {response.status_code}: "
                    f"{self._detail(response)}). The key may have been revoked or lack admin rights: create a "
                    f"new one and set `{self.credential_attribute}` (changing it re-creates the datasource)."
                )
            if response.status_code >= 400:
                raise TerminalImportError(
                    f"{self.source} rejected the request {method} {path} (HTTP {response.status_code}: "
                    f"{self._detail(response)})."
                )
            try:
                return response.json(parse_float=Decimal) if self.exact_numbers else response.json()
            except ValueError:
                raise TransientImportError(
                    f"{self.source} answered {path} with something that is not JSON; the import is retried "
                    "automatically."
                ) from None
        raise AssertionError("unreachable")

    def scrub(self, text: str) -> str:
        """``text`` without the credential, cut to a readable length."""
        if self.secret:
            text = text.replace(self.secret, "[redacted]")
        return text[:MAX_DETAIL]

    def _detail(self, response: requests.Response) -> str:
        """What the API said went wrong: its JSON error message when it gives one, else the reason phrase."""
        try:
            body = response.json()
        except ValueError:
            return self.scrub(response.reason or "no detail")
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        if not isinstance(message, str) and isinstance(body, dict):
            message = body.get("message") or body.get("errors")
        return self.scrub(str(message) if message else response.reason or "no detail")

    def retry_after(self, response: requests.Response) -> float | None:
        """``Retry-After`` as seconds (a number or an HTTP date), capped; None when absent or unreadable."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = (when - datetime.now(UTC)).total_seconds()
        return min(max(seconds, 0.0), self.max_wait_seconds)

    def _backoff(self, attempt: int) -> float:
        return min(0.5 * 2 ** (attempt - 1), self.max_wait_seconds)
