"""How many requests a process works on at once, and how much of that one tenant may take.

Both servers ask the same ``Admission`` before any work (before authentication, so before any database
connection is taken). A request that finds no free slot waits for one, at most ``wait_seconds`` (a short burst
of quick reads is served instead of refused); then a request over its API token's share is refused with
ResourceExhausted (429), one over the process's limit with Unavailable (503), both with a retry hint. Load beyond
capacity is answered within that bound instead of queueing until pool timeouts.

Fairness: a freed slot goes to the longest-waiting request whose token is under its share, never to one whose
token is at its share, so one tenant's burst always leaves room for another's requests. New arrivals take a free
slot at once: a slot is only ever free while no waiting request may take it.

The share is counted per API token (hashed), the one thing known before the database is asked; a request
without a token counts against a shared anonymous share.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from control_plane.errors import DomainError, ResourceExhausted, Unavailable
from control_plane.settings import Settings

RETRY_AFTER_SECONDS = 1.0


@dataclass(eq=False)
class _Waiter:
    key: str
    wake: Callable[[], None]
    granted: bool = field(default=False)


class Admission:
    def __init__(self, max_in_flight: int, max_in_flight_per_token: int, wait_seconds: float = 0.0):
        self.max_in_flight = max_in_flight
        self.max_in_flight_per_token = max_in_flight_per_token
        self.wait_seconds = wait_seconds
        self._lock = threading.Lock()
        self._in_flight = 0
        self._by_token: dict[str, int] = {}
        self._waiting: deque[_Waiter] = deque()

    @classmethod
    def from_settings(cls, settings: Settings) -> Admission:
        return cls(
            settings.max_requests_in_flight,
            settings.max_requests_in_flight_per_token,
            settings.admission_wait_seconds,
        )

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @contextmanager
    def admit(self, token: str | None) -> Iterator[None]:
        """Hold one slot while the block runs (waiting for one in this thread, see ``acquire``)."""
        key = self.acquire(token)
        try:
            yield
        finally:
            self.release(key)

    def acquire(self, token: str | None) -> str:
        """Take a slot for ``token`` (pass the returned key to ``release``), waiting up to ``wait_seconds`` in
        this thread; then raise ResourceExhausted (the token's share is in use) or Unavailable (the process's)."""
        key = _key(token)
        event = threading.Event()
        waiter = self._take_or_queue(key, event.set)
        if waiter is None:
            return key
        event.wait(self.wait_seconds)
        self._give_up(waiter)
        return key

    async def acquire_async(self, token: str | None) -> str:
        """``acquire`` for an event loop: the wait suspends this task only. A task cancelled while waiting
        (the client went away) leaves no slot taken."""
        key = _key(token)
        loop = asyncio.get_running_loop()
        woken = loop.create_future()

        def resolve() -> None:
            if not woken.done():
                woken.set_result(None)

        def wake() -> None:  # called under the lock, from whichever thread released a slot
            loop.call_soon_threadsafe(resolve)

        waiter = self._take_or_queue(key, wake)
        if waiter is None:
            return key
        try:
            await asyncio.wait_for(woken, self.wait_seconds)
        except TimeoutError:
            pass
        except BaseException:
            if self._withdraw(waiter):
                self.release(key)
            raise
        self._give_up(waiter)
        return key

    def release(self, key: str) -> None:
        """Give the slot back: it goes to the longest-waiting request that may take it, if any."""
        with self._lock:
            self._in_flight -= 1
            left = self._by_token[key] - 1
            if left:
                self._by_token[key] = left
            else:
                del self._by_token[key]
            self._hand_over()

    # -- under the lock ---------------------------------------------------------------------------------------

    def _may_take(self, key: str) -> bool:
        return self._in_flight < self.max_in_flight and self._by_token.get(key, 0) < self.max_in_flight_per_token

    def _take(self, key: str) -> None:
        self._in_flight += 1
        self._by_token[key] = self._by_token.get(key, 0) + 1

    def _take_or_queue(self, key: str, wake: Callable[[], None]) -> _Waiter | None:
        """None when a slot was taken at once; else the waiter now queued (refused at once without a wait)."""
        with self._lock:
            if self._may_take(key):
                self._take(key)
                return None
            if self.wait_seconds <= 0:
                raise self._refusal(key)
            waiter = _Waiter(key, wake)
            self._waiting.append(waiter)
            return waiter

    def _hand_over(self) -> None:
        for waiter in list(self._waiting):
            if self._in_flight >= self.max_in_flight:
                return
            if self._by_token.get(waiter.key, 0) < self.max_in_flight_per_token:
                self._waiting.remove(waiter)
                self._take(waiter.key)
                waiter.granted = True
                waiter.wake()

    def _withdraw(self, waiter: _Waiter) -> bool:
        """Take ``waiter`` out of the queue; True when a slot had been handed to it meanwhile."""
        with self._lock:
            if waiter.granted:
                return True
            self._waiting.remove(waiter)
            return False

    def _give_up(self, waiter: _Waiter) -> None:
        """After the wait: keep the slot handed over meanwhile, or leave the queue and raise the refusal."""
        with self._lock:
            if waiter.granted:
                return
            self._waiting.remove(waiter)
            raise self._refusal(waiter.key)

    def _refusal(self, key: str) -> DomainError:
        if self._by_token.get(key, 0) >= self.max_in_flight_per_token:
            return ResourceExhausted(
                f"This API token already has {self.max_in_flight_per_token} requests in progress; "
                "wait for one to finish, then retry.",
                retry_after=RETRY_AFTER_SECONDS,
            )
        return Unavailable(
            f"The control plane is working on {self.max_in_flight} requests already; retry shortly.",
            retry_after=RETRY_AFTER_SECONDS,
        )


def _key(token: str | None) -> str:
    return hashlib.sha256(token.encode()).hexdigest() if token else ""
