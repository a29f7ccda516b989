"""Admission with a bounded wait: a request that finds no slot waits for one (in a thread for gRPC, in the event
loop for REST), a freed slot goes to the longest-waiting request whose token is under its share, and a request
still waiting after `wait_seconds` is refused as before (429 over its token's share, else 503)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time

import pytest

from control_plane.admission import Admission
from control_plane.errors import ResourceExhausted, Unavailable

WAIT = 5.0
"""Long enough that a test never refuses by accident; refusals are tested with short waits."""


def start_waiting(admission: Admission, token: str, taken: list[str]) -> threading.Thread:
    """``token`` asks for a slot in a thread of its own; ``taken`` gets the token once admitted."""

    def ask() -> None:
        admission.acquire(token)
        taken.append(token)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    return thread


def key_of(token: str) -> str:
    """What ``acquire`` returns for ``token``: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def wait_for_queue(admission: Admission, length: int) -> None:
    deadline = time.monotonic() + 5
    while admission.waiting != length:
        assert time.monotonic() < deadline, f"{admission.waiting} waiting, expected {length}"
        time.sleep(0.005)


class TestSyncWait:
    def test_a_freed_slot_goes_to_the_waiting_request(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=WAIT)
        first = admission.acquire("cst_a")
        taken: list[str] = []
        thread = start_waiting(admission, "cst_b", taken)
        wait_for_queue(admission, 1)
        assert taken == []
        admission.release(first)
        thread.join(5)
        assert (taken, admission.in_flight, admission.waiting) == (["cst_b"], 1, 0)

    def test_a_waiting_request_over_its_share_does_not_take_another_tokens_slot(self):
        # process: 3 slots; per token: 2. A holds 2 (its share), B holds 1: the process is full.
        # Queue: A (over its share), then B. When B's slot frees, it goes to B although A waited longer;
        # when one of A's frees, A's waiting request gets it.
        #   release B1 -> A: 2 of 2, B: 0 -> B2 admitted (A still waiting)
        #   release A1 -> A: 1 of 2       -> A3 admitted
        admission = Admission(max_in_flight=3, max_in_flight_per_token=2, wait_seconds=WAIT)
        a1, _a2, b1 = admission.acquire("cst_a"), admission.acquire("cst_a"), admission.acquire("cst_b")
        taken: list[str] = []
        waiting_a = start_waiting(admission, "cst_a", taken)
        wait_for_queue(admission, 1)
        waiting_b = start_waiting(admission, "cst_b", taken)
        wait_for_queue(admission, 2)

        admission.release(b1)
        waiting_b.join(5)
        assert (taken, admission.waiting) == (["cst_b"], 1)
        admission.release(a1)
        waiting_a.join(5)
        assert (taken, admission.in_flight, admission.waiting) == (["cst_b", "cst_a"], 3, 0)

    def test_the_longest_waiting_eligible_request_goes_first(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=WAIT)
        held = admission.acquire("cst_x")
        taken: list[str] = []
        for index, token in enumerate(["cst_c", "cst_d", "cst_e"], start=1):
            start_waiting(admission, token, taken)
            wait_for_queue(admission, index)
        for admitted in range(1, 4):
            admission.release(held)
            deadline = time.monotonic() + 5
            while len(taken) < admitted:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            held = key_of(taken[-1])
        assert (taken, admission.in_flight, admission.waiting) == (["cst_c", "cst_d", "cst_e"], 1, 0)

    def test_still_waiting_after_the_wait_is_refused_by_what_was_full(self):
        admission = Admission(max_in_flight=2, max_in_flight_per_token=1, wait_seconds=0.05)
        admission.acquire("cst_a")
        started = time.monotonic()
        with pytest.raises(ResourceExhausted) as over_share:
            admission.acquire("cst_a")
        waited = time.monotonic() - started
        admission.acquire("cst_b")
        with pytest.raises(Unavailable) as full:
            admission.acquire("cst_c")
        assert (str(over_share.value), over_share.value.retry_after) == (
            "This API token already has 1 requests in progress; wait for one to finish, then retry.",
            1.0,
        )
        assert (str(full.value), full.value.retry_after) == (
            "The control plane is working on 2 requests already; retry shortly.",
            1.0,
        )
        assert 0.05 <= waited < 1.0
        assert (admission.in_flight, admission.waiting) == (2, 0)

    def test_no_wait_refuses_at_once(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=0)
        admission.acquire("cst_a")
        started = time.monotonic()
        with pytest.raises(Unavailable):
            admission.acquire("cst_b")
        assert time.monotonic() - started < 0.05
        assert admission.waiting == 0


class TestAsyncWait:
    def test_waits_in_the_event_loop_and_is_handed_the_slot_a_thread_frees(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=WAIT)
        held = admission.acquire("cst_a")

        async def scenario() -> tuple[str, int, int]:
            waiting = asyncio.ensure_future(admission.acquire_async("cst_b"))
            while admission.waiting == 0:
                await asyncio.sleep(0.001)
            threading.Timer(0.02, admission.release, [held]).start()  # a gRPC thread finishing its call
            key = await waiting
            return key, admission.in_flight, admission.waiting

        key, in_flight, waiting = asyncio.run(scenario())
        assert (key, in_flight, waiting) == (key_of("cst_b"), 1, 0)

    def test_refused_after_the_wait(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=0.05)
        admission.acquire("cst_a")

        async def scenario() -> None:
            await admission.acquire_async("cst_b")

        with pytest.raises(Unavailable):
            asyncio.run(scenario())
        assert (admission.in_flight, admission.waiting) == (1, 0)

    def test_a_cancelled_wait_leaves_no_slot_taken_and_no_waiter(self):
        admission = Admission(max_in_flight=1, max_in_flight_per_token=1, wait_seconds=WAIT)
        held = admission.acquire("cst_a")

        async def scenario() -> None:
            waiting = asyncio.ensure_future(admission.acquire_async("cst_b"))
            while admission.waiting == 0:
                await asyncio.sleep(0.001)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting

        asyncio.run(scenario())
        assert (admission.in_flight, admission.waiting) == (1, 0)
        admission.release(held)
        assert admission.in_flight == 0
