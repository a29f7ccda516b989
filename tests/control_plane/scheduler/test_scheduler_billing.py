"""Billing datasources in the daily schedule: planning (the latest missed slot only), running next to
metrics datasources, importing the export for real (moto), retries, and cascading deletes on SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from control_plane import jobs
from control_plane.billing import service as billing
from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.dimensions.service import create_dimension
from control_plane.imports.errors import TerminalImportError
from control_plane.jobs import scheduler_for
from control_plane.models import BillingDatasource, BillingPeriod, Dimension, ImportRun, Tenant
from control_plane.scheduler import RunKind, plan_due_runs
from control_plane.scheduler.slots import as_utc
from control_plane.services import Services
from control_plane.storage import AwsCredentials
from control_plane.trust.access import AccessDenied
from costory_schema.problems import Problem
from devtools.sample_cur import guide_cur, write_cur
from tests.control_plane.scheduler.support import add_billing_datasource, add_datasource, at

BUCKET = "customer-billing"
PREFIX = "cur/"


def planned(session) -> list[tuple]:
    """(metrics datasource, billing datasource, slot, status) of every run, by slot then datasource."""
    session.expire_all()
    runs = session.scalars(sa.select(ImportRun).order_by(ImportRun.scheduled_for, ImportRun.id))
    return [(r.datasource_id, r.billing_datasource_id, as_utc(r.scheduled_for), r.status) for r in runs]


def runs_of(session, billing_datasource_id: str) -> list[ImportRun]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(ImportRun)
            .where(ImportRun.billing_datasource_id == billing_datasource_id)
            .order_by(ImportRun.scheduled_for)
        )
    )


class TestPlanning:
    def test_a_billing_datasource_created_yesterday_gets_one_run_at_todays_slot(self, sessions, settings):
        with sessions() as session:
            billing_id = add_billing_datasource(session, at("2026-01-04 10:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 1
            assert planned(session) == [(None, billing_id, at("2026-01-05 06:00"), "PENDING")]
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 0

    def test_after_three_missed_days_only_the_latest_slot_is_planned(self, sessions, settings):
        # Both datasources last ran on Jan 2; the scheduler was down on Jan 3, 4 and 5. The metrics
        # datasource catches up each day, the billing datasource gets Jan 5 only.
        with sessions() as session:
            metrics_id = add_datasource(session, at("2026-01-01 10:00"))
            billing_id = add_billing_datasource(session, at("2026-01-01 10:00"))
            for run in (
                {"datasource_id": metrics_id},
                {"billing_datasource_id": billing_id},
            ):
                session.add(
                    ImportRun(
                        **run,
                        scheduled_for=at("2026-01-02 06:00"),
                        status="SUCCEEDED",
                        attempts=1,
                        next_attempt_at=at("2026-01-02 06:00"),
                    )
                )
            session.commit()

            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 4
            assert [run for run in planned(session) if run[3] == "PENDING"] == [
                (metrics_id, None, at("2026-01-03 06:00"), "PENDING"),
                (metrics_id, None, at("2026-01-04 06:00"), "PENDING"),
                (metrics_id, None, at("2026-01-05 06:00"), "PENDING"),
                (None, billing_id, at("2026-01-05 06:00"), "PENDING"),
            ]

    def test_never_run_after_missed_days_only_the_latest_slot_is_planned(self, sessions, settings):
        with sessions() as session:
            billing_id = add_billing_datasource(session, at("2026-01-01 10:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 1
            assert planned(session) == [(None, billing_id, at("2026-01-05 06:00"), "PENDING")]

    def test_no_slot_before_creation(self, sessions, settings):
        with sessions() as session:
            billing_id = add_billing_datasource(session, at("2026-01-05 06:30"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 0
            assert plan_due_runs(session, at("2026-01-06 05:59"), settings) == 0
            assert plan_due_runs(session, at("2026-01-06 06:00"), settings) == 1
            assert planned(session) == [(None, billing_id, at("2026-01-06 06:00"), "PENDING")]

    def test_creation_exactly_on_a_slot_includes_it(self, sessions, settings):
        with sessions() as session:
            billing_id = add_billing_datasource(session, at("2026-01-05 06:00"))
            session.commit()
            assert plan_due_runs(session, at("2026-01-05 06:00"), settings) == 1
            assert planned(session) == [(None, billing_id, at("2026-01-05 06:00"), "PENDING")]


class StandInAccess:
    """Stands in for ``RoleAccess``: moto accepts any credentials. ``failures`` are raised first, one per
    call."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls: list[tuple[str, str]] = []

    def credentials(self, _session, tenant_id: str, role_arn: str) -> AwsCredentials:
        self.calls.append((tenant_id, role_arn))
        if self.failures:
            raise self.failures.pop(0)
        return AwsCredentials("testing", "testing")


@pytest.fixture
def s3(moto):
    return boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def make_services(sessions, settings, moto, tmp_path):
    """``make_services(access)``: the services the scheduler's executor uses, against moto."""

    def _make(access: StandInAccess) -> Services:
        return Services(
            settings.model_copy(update={"aws_endpoint_url": moto.endpoint, "data_dir": tmp_path / "data"}),
            sessions,
            identity=None,
            access=access,
            owner="A",
        )

    return _make


@pytest.fixture
def billing_id(sessions) -> str:
    with sessions.begin() as session:
        return add_billing_datasource(session, at("2026-01-04 10:00"), bucket_name=BUCKET, prefix=PREFIX)


def tenant_of(sessions, datasource_id: str) -> str:
    with sessions() as session:
        return session.get(BillingDatasource, datasource_id).tenant_id


def datasource_state(sessions, datasource_id: str) -> tuple:
    with sessions() as session:
        datasource = session.get(BillingDatasource, datasource_id)
        return datasource.status, datasource.status_message, datasource.last_import_at is not None


def months_held(sessions, datasource_id: str) -> list[tuple]:
    with sessions() as session:
        return [
            (p.billing_period, p.rows, p.billed_cost)
            for p in session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == datasource_id))
        ]


class TestExecution:
    def test_a_metrics_and_a_billing_datasource_in_the_same_tick_are_both_run_once(
        self, sessions, clock, make_services, monkeypatch
    ):
        executed = []
        monkeypatch.setattr(
            jobs, "import_metrics", lambda _s, ds, *, trigger, run_id: executed.append(("metrics", ds, trigger))
        )
        monkeypatch.setattr(
            jobs, "import_billing", lambda _s, ds, *, trigger, run_id: executed.append(("billing", ds, trigger))
        )
        with sessions.begin() as session:
            metrics_id = add_datasource(session, at("2026-01-04 10:00"))
            billing_id = add_billing_datasource(session, at("2026-01-04 10:00"))
        clock.set(at("2026-01-05 07:00"))
        scheduler = scheduler_for(make_services(StandInAccess()), now=clock)

        assert scheduler.tick() == 2
        assert sorted(executed) == [("billing", billing_id, "SCHEDULED"), ("metrics", metrics_id, "SCHEDULED")]
        with sessions() as session:
            assert sorted(
                (r.datasource_id or r.billing_datasource_id, RunKind.of(r), r.status, r.attempts)
                for r in session.scalars(sa.select(ImportRun))
            ) == sorted(
                [(metrics_id, "metrics", "SUCCEEDED", 1), (billing_id, "billing", "SUCCEEDED", 1)]
            )
        assert scheduler.tick() == 0
        assert len(executed) == 2

    def test_the_daily_run_imports_the_export_and_recomputes_dimensions(
        self, sessions, clock, make_services, s3, billing_id
    ):
        s3.create_bucket(Bucket=BUCKET)
        write_cur(s3, BUCKET, PREFIX, "costory", "2026-01", guide_cur())
        services = make_services(StandInAccess())
        tenant_id = tenant_of(sessions, billing_id)
        with sessions.begin() as session:
            dimension, _ = create_dimension(
                session,
                session.get(Tenant, tenant_id),
                {"name": "service", "rules": [{"name": "by-service", "from_column": {"column": "ServiceName"}}]},
                services.engine,
            )
            dimension_id = dimension.id
            assert dimension.status == "NO_COST_DATA"

        clock.set(at("2026-01-05 07:00"))
        assert scheduler_for(services, now=clock).tick() == 1
        with sessions() as session:
            [run] = runs_of(session, billing_id)
            assert (as_utc(run.scheduled_for), run.status, run.attempts, run.last_error) == (
                at("2026-01-05 06:00"),
                "SUCCEEDED",
                1,
                None,
            )
            dimension = session.get(Dimension, dimension_id)
            assert dimension.status == "COMPUTED"
            computed_at = dimension.computed_at
        assert months_held(sessions, billing_id) == [("2026-01", 17, "1171.000000000000")]
        assert datasource_state(sessions, billing_id) == ("OK", "1 month(s) imported, 0 unchanged.", True)
        with sessions() as session:
            costs = CostStore(services.settings.data_dir).read(session, tenant_id, columns=["BilledCost"])
        assert pc.sum(costs.column("BilledCost")).as_py() == Decimal("1171.000000000000")
        assert services.access.calls == [(tenant_id, "arn:aws:iam::123456789012:role/costory-billing")]

        # The next day the export is unchanged: the run succeeds, nothing is replaced or recomputed.
        clock.set(at("2026-01-06 07:00"))
        assert scheduler_for(services, now=clock).tick() == 1
        with sessions() as session:
            assert [(as_utc(r.scheduled_for), r.status) for r in runs_of(session, billing_id)] == [
                (at("2026-01-05 06:00"), "SUCCEEDED"),
                (at("2026-01-06 06:00"), "SUCCEEDED"),
            ]
            assert session.get(Dimension, dimension_id).computed_at == computed_at
        assert datasource_state(sessions, billing_id) == ("OK", "0 month(s) imported, 1 unchanged.", True)

    def test_a_transient_failure_is_retried_with_backoff_then_succeeds(
        self, sessions, clock, make_services, s3, billing_id
    ):
        # import_retry_base_seconds=60: attempt 1 at 07:00 fails (AWS STS unreachable), attempt 2 is due
        # at 07:01 and succeeds.
        s3.create_bucket(Bucket=BUCKET)
        write_cur(s3, BUCKET, PREFIX, "costory", "2026-01", guide_cur())
        unreachable = AccessDenied(
            Problem(("role_arn",), "AWS Unreachable", "AWS STS could not be reached; retried later."),
            transient=True,
        )
        services = make_services(StandInAccess(unreachable))
        scheduler = scheduler_for(services, now=clock)

        clock.set(at("2026-01-05 07:00"))
        assert scheduler.tick() == 1
        with sessions() as session:
            [run] = runs_of(session, billing_id)
            assert (run.status, run.attempts, run.lease_owner, run.last_error) == (
                "PENDING",
                1,
                None,
                "TransientImportError: AWS STS could not be reached; retried later.",
            )
            assert as_utc(run.next_attempt_at) == at("2026-01-05 07:01")
        assert datasource_state(sessions, billing_id) == (
            "ERROR",
            "Import failed: AWS STS could not be reached; retried later.",
            True,
        )
        assert months_held(sessions, billing_id) == []

        clock.set(at("2026-01-05 07:00:59"))
        assert scheduler.tick() == 0, "not due before its backoff ends"

        clock.set(at("2026-01-05 07:01"))
        assert scheduler.tick() == 1
        with sessions() as session:
            [run] = runs_of(session, billing_id)
            assert (run.status, run.attempts, run.last_error) == (
                "SUCCEEDED",
                2,
                "TransientImportError: AWS STS could not be reached; retried later.",
            )
            assert as_utc(run.finished_at) == at("2026-01-05 07:01")
        assert months_held(sessions, billing_id) == [("2026-01", 17, "1171.000000000000")]
        assert datasource_state(sessions, billing_id) == ("OK", "1 month(s) imported, 0 unchanged.", True)
        assert len(services.access.calls) == 2

    def test_a_missing_bucket_fails_the_run_at_once(self, sessions, clock, make_services, moto, billing_id):
        message = f"Bucket `{BUCKET}` does not exist. Create it, or correct `bucket_name`."
        clock.set(at("2026-01-05 07:00"))
        scheduler = scheduler_for(make_services(StandInAccess()), now=clock)
        assert scheduler.tick() == 1
        with sessions() as session:
            [run] = runs_of(session, billing_id)
            assert (run.status, run.attempts, run.last_error) == ("FAILED", 1, f"TerminalImportError: {message}")
        assert datasource_state(sessions, billing_id) == ("ERROR", f"Import failed: {message}", True)
        clock.set(at("2026-01-05 12:00"))
        assert scheduler.tick() == 0

    def test_on_demand_the_failure_is_a_failed_summary(self, sessions, make_services, moto, billing_id):
        services = make_services(StandInAccess())
        with sessions.begin() as session:
            summary = billing.run_import(services, session, session.get(BillingDatasource, billing_id))
        assert (summary.status, summary.message) == (
            "FAILED",
            f"Bucket `{BUCKET}` does not exist. Create it, or correct `bucket_name`.",
        )
        assert datasource_state(sessions, billing_id)[0] == "ERROR"

    def test_a_deleted_datasource_fails_its_run(self, sessions, make_services):
        services = make_services(StandInAccess())
        with pytest.raises(TerminalImportError, match="bds_gone"):
            billing.execute_import(services, "bds_gone")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_sessions(request, tmp_path):
    """Sessions on a migrated database: a SQLite file or a fresh database on the real PostgreSQL server."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'cascade.db'}"
        migrate(url)
    engine = create_engine(url)
    yield create_sessionmaker(engine)
    engine.dispose()


class TestReferentialIntegrity:
    def test_deleting_a_billing_datasource_deletes_its_runs(self, any_sessions, settings, tmp_path):
        with any_sessions.begin() as session:
            metrics_id = add_datasource(session, at("2026-01-01 10:00"))
            billing_id = add_billing_datasource(session, at("2026-01-01 10:00"))
            kept_id = add_billing_datasource(session, at("2026-01-01 10:00"))
        with any_sessions() as session:
            assert plan_due_runs(session, at("2026-01-05 07:00"), settings) == 6
        with any_sessions.begin() as session:
            billing.delete_datasource(session, session.get(BillingDatasource, billing_id), CostStore(tmp_path / "data"))
        with any_sessions() as session:
            assert session.get(BillingDatasource, billing_id) is None
            assert planned(session) == [
                (metrics_id, None, at("2026-01-02 06:00"), "PENDING"),
                (metrics_id, None, at("2026-01-03 06:00"), "PENDING"),
                (metrics_id, None, at("2026-01-04 06:00"), "PENDING"),
                (metrics_id, None, at("2026-01-05 06:00"), "PENDING"),
                (None, kept_id, at("2026-01-05 06:00"), "PENDING"),
            ]

    @pytest.mark.parametrize("which", ["neither", "both"])
    def test_a_run_belongs_to_exactly_one_datasource(self, any_sessions, which):
        with any_sessions.begin() as session:
            metrics_id = add_datasource(session, at("2026-01-01 10:00"))
            billing_id = add_billing_datasource(session, at("2026-01-01 10:00"))
        owners = {"neither": {}, "both": {"datasource_id": metrics_id, "billing_datasource_id": billing_id}}
        with any_sessions() as session, pytest.raises(IntegrityError, match="ck_import_runs_one_datasource"):
            session.add(
                ImportRun(
                    **owners[which],
                    scheduled_for=at("2026-01-02 06:00"),
                    status="PENDING",
                    attempts=0,
                    next_attempt_at=at("2026-01-02 06:00"),
                )
            )
            session.flush()

    def test_a_billing_slot_exists_once(self, any_sessions):
        with any_sessions.begin() as session:
            billing_id = add_billing_datasource(session, at("2026-01-01 10:00"))
        with any_sessions() as session, pytest.raises(IntegrityError):
            for _ in range(2):
                session.add(
                    ImportRun(
                        billing_datasource_id=billing_id,
                        scheduled_for=at("2026-01-02 06:00"),
                        status="PENDING",
                        attempts=0,
                        next_attempt_at=at("2026-01-02 06:00"),
                    )
                )
                session.flush()
