"""The scheduler's evaluation hook, with a controlled clock: evaluated after a tick in which an import run
succeeded and once per UTC day, tried again at the next tick when it failed; deliveries at every tick."""

from __future__ import annotations

import logging
from datetime import datetime

from control_plane.scheduler import ClaimedRun, Scheduler
from tests.control_plane.scheduler.support import Clock, add_datasource, at


def test_evaluated_after_new_data_and_once_a_day(sessions, settings, caplog):
    with sessions.begin() as session:
        add_datasource(session, at("2026-01-01 10:00"))  # daily slots at 06:00 from January 2
    evaluated: list[datetime] = []
    delivered: list[datetime] = []
    failures = [RuntimeError("database unreachable")]
    runs: list[ClaimedRun] = []

    def evaluate(now: datetime) -> None:
        evaluated.append(now)
        if failures:
            raise failures.pop()

    def execute(run: ClaimedRun) -> None:
        runs.append(run)
        if len(runs) == 2:
            raise RuntimeError("the bucket is gone")

    clock = Clock(at("2026-01-02 05:00"))
    scheduler = Scheduler(sessions, execute, settings=settings, now=clock, evaluate=evaluate, deliver=delivered.append)
    steps = [
        ("2026-01-02 05:00", 0),  # first tick of the day: evaluated (and fails: logged)
        ("2026-01-02 05:30", 0),  # the failed evaluation is tried again
        ("2026-01-02 05:45", 0),  # evaluated today already, no new data: not again
        ("2026-01-02 06:00", 1),  # the 06:00 import succeeds: evaluated after it
        ("2026-01-02 07:00", 0),  # nothing new
        ("2026-01-03 00:10", 0),  # a new UTC day
        ("2026-01-03 06:00", 1),  # an import that fails brings nothing new: not evaluated again
    ]
    with caplog.at_level(logging.ERROR):
        for instant, ran in steps:
            clock.set(at(instant))
            assert scheduler.tick() == ran, instant
    assert evaluated == [
        at(t) for t in ("2026-01-02 05:00", "2026-01-02 05:30", "2026-01-02 06:00", "2026-01-03 00:10")
    ]
    assert delivered == [at(instant) for instant, _ in steps]
    assert "evaluating budgets, alerts and reports failed; next try at the next tick" in caplog.text


def test_a_failing_delivery_is_logged_and_the_tick_goes_on(sessions, settings, caplog):
    def deliver(_now: datetime) -> None:
        raise OSError("SMTP server unreachable")

    scheduler = Scheduler(
        sessions, lambda _run: None, settings=settings, now=Clock(at("2026-01-02 05:00")), deliver=deliver
    )
    with caplog.at_level(logging.ERROR):
        assert scheduler.tick() == 0
    assert "delivering notifications failed; next try at the next tick" in caplog.text
