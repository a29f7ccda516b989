"""How many requests a process works on at once, and how much of that one tenant may take.

Both servers ask the same ``Admission`` before any work (before authentication, so before any database
connection is taken): a request over its API token's share is refused with ResourceExhausted (429), a
request over the process's limit with Unavailable (503), both at once and with a retry hint. Load beyond
capacity is answered quickly instead of queueing until pool timeouts, and one tenant's heavy requests
always leave room for another's.

The share is counted per API token (hashed), the one thing known before the database is asked; a
request without a token counts against a shared anonymous share.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from control_plane.errors import ResourceExhausted, Unavailable
from control_plane.settings import Settings

RETRY_AFTER_SECONDS = 1.0


class Admission:
    def __init__(self, max_in_flight: int, max_in_flight_per_token: int):
        self.max_in_flight = max_in_flight
        self.max_in_flight_per_token = max_in_flight_per_token
        self._lock = threading.Lock()
        self._in_flight = 0
        self._by_token: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls(settings.max_requests_in_flight, settings.max_requests_in_flight_per_token)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def admit(self, token: str | None) -> Iterator[None]:
        """Hold one slot while the block runs; raise at once when none is free."""
        key = self.acquire(token)
        try:
            yield
        finally:
            self.release(key)

    def acquire(self, token: str | None) -> str:
        """Take a slot for ``token`` (pass the returned key to ``release``), or raise ResourceExhausted (the
        token's share is in use) / Unavailable (the process's) at once."""
        key = hashlib.sha256(token.encode()).hexdigest() if token else ""
        with self._lock:
            if self._by_token.get(key, 0) >= self.max_in_flight_per_token:
                raise ResourceExhausted(
                    f"This API token already has {self.max_in_flight_per_token} requests in progress; "
                    "wait for one to finish, then retry.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            if self._in_flight >= self.max_in_flight:
                raise Unavailable(
                    f"The control plane is working on {self.max_in_flight} requests already; retry shortly.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self._in_flight += 1
            self._by_token[key] = self._by_token.get(key, 0) + 1
        return key

    def release(self, key: str) -> None:
        with self._lock:
            self._in_flight -= 1
            left = self._by_token[key] - 1
            if left:
                self._by_token[key] = left
            else:
                del self._by_token[key]
