"""The Scheduler of one process on SQLite, driven by a controllable clock."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from control_plane.models import ImportRun
from control_plane.scheduler import ClaimedRun, Scheduler
from control_plane.scheduler.slots import as_utc
from tests.control_plane.scheduler.support import add_datasource, at


class TransientError(Exception):
    pass


class Recorder:
    """An executor that records each run it is handed, and fails with the given errors first."""

    def __init__(self, *failures: Exception):
        self.runs: list[ClaimedRun] = []
        self.failures = list(failures)

    def __call__(self, run: ClaimedRun) -> None:
        self.runs.append(run)
        if self.failures:
            raise self.failures.pop(0)

    @property
    def slots(self) -> list:
        return [run.scheduled_for for run in self.runs]


def make_scheduler(sessions, settings, clock, execute, owner: str = "A") -> Scheduler:
    return Scheduler(
        sessions,
        execute,
        settings=settings,
        owner=owner,
        now=clock,
        is_transient=lambda error: isinstance(error, TransientError),
    )


def all_runs(sessions) -> list[ImportRun]:
    with sessions() as session:
        return list(session.scalars(sa.select(ImportRun).order_by(ImportRun.scheduled_for)))


@pytest.fixture
def datasource_id(sessions) -> str:
    with sessions.begin() as session:
        return add_datasource(session, at("2026-01-01 10:00"))


class TestTick:
    def test_catches_up_every_missed_day_once_in_order(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-05 07:00"))
        execute = Recorder()
        scheduler = make_scheduler(sessions, settings, clock, execute)

        assert scheduler.tick() == 4
        assert execute.slots == [at(f"2026-01-0{day} 06:00") for day in (2, 3, 4, 5)]
        assert {(run.datasource_id, run.attempt, run.owner) for run in execute.runs} == {
            (datasource_id, 1, "A")
        }
        assert [(run.status, run.attempts, run.lease_owner) for run in all_runs(sessions)] == [
            ("SUCCEEDED", 1, "A")
        ] * 4
        assert {as_utc(run.finished_at) for run in all_runs(sessions)} == {at("2026-01-05 07:00")}

        assert scheduler.tick() == 0
        assert len(execute.runs) == 4

    def test_the_days_run_waits_for_the_schedule_hour(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-05 05:59"))
        execute = Recorder()
        scheduler = make_scheduler(sessions, settings, clock, execute)

        assert scheduler.tick() == 3
        assert execute.slots == [at(f"2026-01-0{day} 06:00") for day in (2, 3, 4)]

        clock.set(at("2026-01-05 06:00"))
        assert scheduler.tick() == 1
        assert execute.slots[-1] == at("2026-01-05 06:00")

    def test_transient_failures_are_retried_with_backoff_then_fail(
        self, sessions, settings, clock, datasource_id
    ):
        # import_retry_attempts=3, import_retry_base_seconds=60; the run of 2026-01-02 06:00 fails each time:
        #
        #   attempt  at      outcome   next_attempt_at
        #   1        07:00   PENDING   07:01  (+60 s)
        #   2        07:01   PENDING   07:03  (+120 s)
        #   3        07:03   FAILED    -
        clock.set(at("2026-01-02 07:00"))
        execute = Recorder(*(TransientError(f"throttled {n}") for n in (1, 2, 3)))
        scheduler = make_scheduler(sessions, settings, clock, execute)

        for attempt, (now, next_attempt_at) in enumerate(
            [("2026-01-02 07:00", "2026-01-02 07:01"), ("2026-01-02 07:01", "2026-01-02 07:03")], start=1
        ):
            clock.set(at(now))
            assert scheduler.tick() == 1
            [run] = all_runs(sessions)
            assert (run.status, run.attempts, run.lease_owner) == ("PENDING", attempt, None)
            assert as_utc(run.next_attempt_at) == at(next_attempt_at)
            assert run.last_error == f"TransientError: throttled {attempt}"
            clock.set(at(next_attempt_at) - timedelta(seconds=1))
            assert scheduler.tick() == 0, "not due before its backoff ends"

        clock.set(at("2026-01-02 07:03"))
        assert scheduler.tick() == 1
        [run] = all_runs(sessions)
        assert (run.status, run.attempts, run.last_error) == ("FAILED", 3, "TransientError: throttled 3")
        assert as_utc(run.finished_at) == at("2026-01-02 07:03")
        assert [r.attempt for r in execute.runs] == [1, 2, 3]

        clock.set(at("2026-01-02 12:00"))
        assert scheduler.tick() == 0

    def test_a_retry_can_succeed(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-02 07:00"))
        execute = Recorder(TransientError("throttled"))
        scheduler = make_scheduler(sessions, settings, clock, execute)
        assert scheduler.tick() == 1
        clock.set(at("2026-01-02 07:01"))
        assert scheduler.tick() == 1
        [run] = all_runs(sessions)
        assert (run.status, run.attempts, run.last_error) == ("SUCCEEDED", 2, "TransientError: throttled")

    def test_a_terminal_failure_fails_at_once(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-02 07:00"))
        execute = Recorder(ValueError("column `day` is missing"))
        scheduler = make_scheduler(sessions, settings, clock, execute)
        assert scheduler.tick() == 1
        [run] = all_runs(sessions)
        assert (run.status, run.attempts, run.last_error) == (
            "FAILED",
            1,
            "ValueError: column `day` is missing",
        )
        clock.set(at("2026-01-03 05:00"))
        assert scheduler.tick() == 0

    def test_without_is_transient_every_failure_is_terminal(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-02 07:00"))
        scheduler = Scheduler(
            sessions, Recorder(TransientError("x")), settings=settings, owner="A", now=clock
        )
        assert scheduler.tick() == 1
        assert [run.status for run in all_runs(sessions)] == ["FAILED"]


class TestLeaseTakeover:
    def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(self, sessions, settings, clock):
        clock.set(at("2026-01-05 07:00"))
        with sessions.begin() as session:
            for owner, lease_expires_at in (("dead", "2026-01-05 06:50"), ("alive", "2026-01-05 07:05")):
                session.add(
                    ImportRun(
                        datasource_id=add_datasource(session, at("2026-01-04 10:00")),
                        scheduled_for=at("2026-01-05 06:00"),
                        status="RUNNING",
                        attempts=1,
                        next_attempt_at=at("2026-01-05 06:00"),
                        lease_owner=owner,
                        lease_expires_at=at(lease_expires_at),
                    )
                )
        execute = Recorder()
        scheduler = make_scheduler(sessions, settings, clock, execute, owner="new")

        assert scheduler.tick() == 1
        runs = {run.id: run for run in all_runs(sessions)}
        [taken] = execute.runs
        assert (taken.attempt, taken.owner) == (2, "new")
        assert (runs[taken.id].status, runs[taken.id].lease_owner) == ("SUCCEEDED", "new")
        [other] = [run for run in runs.values() if run.id != taken.id]
        assert (other.status, other.lease_owner, other.attempts) == ("RUNNING", "alive", 1)

    def test_the_lease_is_renewed_while_the_run_executes(self, sessions, settings, clock, datasource_id):
        settings = settings.model_copy(update={"lease_seconds": 0.3})  # renewed every 0.1 s
        clock.set(at("2026-01-02 07:00"))
        seen = []

        def execute(run: ClaimedRun) -> None:
            clock.advance(timedelta(minutes=5))
            time.sleep(0.35)
            with sessions() as session:
                seen.append(as_utc(session.get(ImportRun, run.id).lease_expires_at))

        assert make_scheduler(sessions, settings, clock, execute).tick() == 1
        assert seen == [at("2026-01-02 07:05") + timedelta(seconds=0.3)]

    def test_a_late_owner_cannot_finish_a_run_taken_over(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-02 07:00"))
        late = {}

        def execute(run: ClaimedRun) -> None:
            # Meanwhile the lease expires and another process takes the run over and finishes it.
            clock.advance(timedelta(seconds=settings.lease_seconds + 1))
            late["executed"] = make_scheduler(sessions, settings, clock, Recorder(), owner="B").tick()

        assert make_scheduler(sessions, settings, clock, execute, owner="A").tick() == 1
        assert late == {"executed": 1}
        [run] = all_runs(sessions)
        assert (run.status, run.lease_owner, run.attempts) == ("SUCCEEDED", "B", 2)


class TestRunForever:
    def test_ticks_until_stopped(self, sessions, settings, clock, datasource_id):
        clock.set(at("2026-01-03 07:00"))
        execute = Recorder()
        scheduler = make_scheduler(sessions, settings, clock, execute)
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run_forever, args=(stop,))
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while len(execute.runs) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            clock.set(at("2026-01-04 06:00"))  # the next poll plans and runs the new day
            while len(execute.runs) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            thread.join(10)
        assert not thread.is_alive()
        assert execute.slots == [at(f"2026-01-0{day} 06:00") for day in (2, 3, 4)]

    def test_a_failing_tick_is_logged_and_retried(self, sessions, settings, clock, datasource_id, caplog):
        calls = []

        def failing_clock():
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("database unreachable")
            return at("2026-01-02 07:00")

        execute = Recorder()
        scheduler = make_scheduler(sessions, settings, failing_clock, execute)
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run_forever, args=(stop,))
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not execute.runs and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            stop.set()
            thread.join(10)
        assert execute.slots == [at("2026-01-02 06:00")]
        assert "scheduler tick failed" in caplog.text
