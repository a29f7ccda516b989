"""The run functions one by one, on SQLite, at chosen instants."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from control_plane.models import ImportRun
from control_plane.scheduler import (
    MAX_CATCH_UP_DAYS,
    RunStatus,
    claim_next_run,
    complete_run,
    fail_run,
    plan_due_runs,
    renew_lease,
)
from control_plane.scheduler.slots import as_utc
from tests.control_plane.scheduler.support import add_datasource, at


def slots(session, datasource_id: str | None = None) -> list:
    query = sa.select(ImportRun.scheduled_for).order_by(ImportRun.scheduled_for)
    if datasource_id is not None:
        query = query.where(ImportRun.datasource_id == datasource_id)
    return [as_utc(slot) for slot in session.scalars(query)]


def run_row(session, run_id: int) -> ImportRun:
    session.expire_all()
    return session.get(ImportRun, run_id)


def insert_run(session, datasource_id: str, slot, **values) -> int:
    run = ImportRun(
        datasource_id=datasource_id,
        scheduled_for=slot,
        status=values.pop("status", "PENDING"),
        attempts=values.pop("attempts", 0),
        next_attempt_at=values.pop("next_attempt_at", slot),
        **values,
    )
    session.add(run)
    session.commit()
    return run.id


class TestPlanDueRuns:
    def test_one_run_per_missed_day_since_creation(self, sessions, settings):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2026-01-01 10:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 4
            assert slots(session) == [at(f"2026-01-0{day} 06:00") for day in (2, 3, 4, 5)]
            run = session.scalars(sa.select(ImportRun).order_by(ImportRun.id)).first()
            assert (run.datasource_id, run.status, run.attempts) == (datasource_id, "PENDING", 0)
            assert as_utc(run.next_attempt_at) == at("2026-01-02 06:00")

    def test_planning_again_inserts_nothing(self, sessions, settings):
        with sessions() as session:
            add_datasource(session, at("2026-01-01 10:00"))
            session.commit()
            plan_due_runs(session, at("2026-01-05 07:00"), settings)
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 0
            assert len(slots(session)) == 4

    def test_the_days_slot_is_due_only_from_the_schedule_hour(self, sessions, settings):
        with sessions() as session:
            add_datasource(session, at("2026-01-01 10:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 05:59"), settings) == 3
            assert slots(session)[-1] == at("2026-01-04 06:00")
            assert plan_due_runs(session, at("2026-01-05 06:00"), settings) == 1
            assert slots(session)[-1] == at("2026-01-05 06:00")

    def test_creation_exactly_on_a_slot_includes_it(self, sessions, settings):
        with sessions() as session:
            add_datasource(session, at("2026-01-05 06:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 06:00"), settings) == 1

    def test_catch_up_starts_after_the_latest_run(self, sessions, settings):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2026-01-01 10:00"))
            insert_run(session, datasource_id, at("2026-01-03 06:00"), status="SUCCEEDED")
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 2
            assert slots(session) == [at(f"2026-01-0{day} 06:00") for day in (3, 4, 5)]

    def test_each_datasource_from_its_own_creation(self, sessions, settings):
        with sessions() as session:
            early = add_datasource(session, at("2026-01-01 10:00"))
            late = add_datasource(session, at("2026-01-04 12:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 5
            assert len(slots(session, early)) == 4
            assert slots(session, late) == [at("2026-01-05 06:00")]

    def test_catch_up_is_capped(self, sessions, settings):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2020-01-01 00:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == MAX_CATCH_UP_DAYS == 400
            planned = slots(session, datasource_id)
            assert planned[0] == at("2026-01-05 06:00") - timedelta(days=399)
            assert planned[-1] == at("2026-01-05 06:00")

    def test_naive_now_is_refused(self, sessions, settings):
        with sessions() as session, pytest.raises(ValueError, match="timezone-aware"):
            plan_due_runs(session, at("2026-01-05 07:00").replace(tzinfo=None), settings)


class TestClaimNextRun:
    def test_claims_the_oldest_due_run(self, sessions, settings):
        with sessions() as session:
            add_datasource(session, at("2026-01-01 10:00"))
            session.commit()
            plan_due_runs(session, at("2026-01-05 07:00"), settings)
            run = claim_next_run(session, at("2026-01-05 07:00"), "A", settings)
            assert run.scheduled_for == at("2026-01-02 06:00")
            assert (run.status, run.lease_owner, run.attempts) == ("RUNNING", "A", 1)
            assert run.lease_expires_at == at("2026-01-05 07:10")
            stored = run_row(session, run.id)
            assert (stored.status, stored.lease_owner, stored.attempts) == ("RUNNING", "A", 1)
            assert as_utc(stored.lease_expires_at) == at("2026-01-05 07:10")

    def test_a_claimed_run_is_not_claimed_again(self, sessions, settings):
        with sessions() as session:
            add_datasource(session, at("2026-01-04 10:00"))
            session.commit()
            plan_due_runs(session, at("2026-01-05 07:00"), settings)
            assert claim_next_run(session, at("2026-01-05 07:00"), "A", settings) is not None
            with sessions() as other:
                assert claim_next_run(other, at("2026-01-05 07:00"), "B", settings) is None

    def test_runs_not_yet_due_are_not_claimed(self, sessions, settings):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2026-01-04 10:00"))
            insert_run(session, datasource_id, at("2026-01-05 06:00"), next_attempt_at=at("2026-01-05 07:01"))
            assert claim_next_run(session, at("2026-01-05 07:00"), "A", settings) is None
            assert claim_next_run(session, at("2026-01-05 07:01"), "A", settings) is not None

    @pytest.mark.parametrize(
        ("lease_expires_at", "claimed"),
        [
            pytest.param("2026-01-05 06:59:59", True, id="expired"),
            pytest.param("2026-01-05 07:00", False, id="expires-now"),
            pytest.param("2026-01-05 07:05", False, id="live"),
        ],
    )
    def test_a_run_is_taken_over_only_once_its_lease_expired(
        self, sessions, settings, lease_expires_at, claimed
    ):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2026-01-04 10:00"))
            run_id = insert_run(
                session,
                datasource_id,
                at("2026-01-05 06:00"),
                status="RUNNING",
                attempts=1,
                lease_owner="dead",
                lease_expires_at=at(lease_expires_at),
            )
            run = claim_next_run(session, at("2026-01-05 07:00"), "new", settings)
            assert (run is not None) is claimed
            stored = run_row(session, run_id)
            expected = ("new", 2) if claimed else ("dead", 1)
            assert (stored.status, stored.lease_owner, stored.attempts) == ("RUNNING", *expected)

    def test_a_taken_over_run_without_attempts_left_fails(self, sessions, settings):
        with sessions() as session:
            datasource_id = add_datasource(session, at("2026-01-04 10:00"))
            run_id = insert_run(
                session,
                datasource_id,
                at("2026-01-05 06:00"),
                status="RUNNING",
                attempts=settings.import_retry_attempts,
                lease_owner="dead",
                lease_expires_at=at("2026-01-05 06:10"),
            )
            assert claim_next_run(session, at("2026-01-05 07:00"), "new", settings) is None
            stored = run_row(session, run_id)
            assert (stored.status, stored.lease_owner, stored.attempts) == ("FAILED", "dead", 3)
            assert as_utc(stored.finished_at) == at("2026-01-05 07:00")
            assert stored.last_error == (
                "the lease of dead expired at 2026-01-05T06:10:00+00:00 after attempt 3 of 3; not retried"
            )


class TestFinishingARun:
    @pytest.fixture
    def run_id(self, sessions, settings) -> int:
        with sessions() as session:
            add_datasource(session, at("2026-01-04 10:00"))
            session.commit()
            plan_due_runs(session, at("2026-01-05 07:00"), settings)
            return claim_next_run(session, at("2026-01-05 07:00"), "A", settings).id

    def test_complete(self, sessions, run_id):
        with sessions() as session:
            assert complete_run(session, run_id, "A", at("2026-01-05 07:03")) is True
            stored = run_row(session, run_id)
            assert (stored.status, stored.lease_owner, stored.lease_expires_at) == ("SUCCEEDED", "A", None)
            assert as_utc(stored.finished_at) == at("2026-01-05 07:03")

    def test_only_the_lease_owner_completes(self, sessions, run_id):
        with sessions() as session:
            assert complete_run(session, run_id, "B", at("2026-01-05 07:03")) is False
            assert run_row(session, run_id).status == "RUNNING"

    def test_renew_lease(self, sessions, settings, run_id):
        with sessions() as session:
            assert renew_lease(session, run_id, "A", at("2026-01-05 07:05"), settings) is True
            assert as_utc(run_row(session, run_id).lease_expires_at) == at("2026-01-05 07:15")
            assert renew_lease(session, run_id, "B", at("2026-01-05 07:06"), settings) is False
            assert as_utc(run_row(session, run_id).lease_expires_at) == at("2026-01-05 07:15")

    def test_transient_failure_goes_back_to_pending_with_backoff(self, sessions, settings, run_id):
        with sessions() as session:
            status = fail_run(session, run_id, "A", at("2026-01-05 07:01"), "boom", True, settings)
            assert status is RunStatus.PENDING
            stored = run_row(session, run_id)
            assert (stored.status, stored.attempts, stored.lease_owner, stored.last_error) == (
                "PENDING",
                1,
                None,
                "boom",
            )
            assert as_utc(stored.next_attempt_at) == at("2026-01-05 07:02")

    def test_terminal_failure_is_final(self, sessions, settings, run_id):
        with sessions() as session:
            status = fail_run(session, run_id, "A", at("2026-01-05 07:01"), "bad data", False, settings)
            assert status is RunStatus.FAILED
            stored = run_row(session, run_id)
            assert (stored.status, stored.attempts, stored.last_error) == ("FAILED", 1, "bad data")
            assert as_utc(stored.finished_at) == at("2026-01-05 07:01")

    def test_only_the_lease_owner_fails(self, sessions, settings, run_id):
        with sessions() as session:
            assert fail_run(session, run_id, "B", at("2026-01-05 07:01"), "boom", True, settings) is None
            stored = run_row(session, run_id)
            assert (stored.status, stored.lease_owner, stored.last_error) == ("RUNNING", "A", None)
