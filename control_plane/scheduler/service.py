"""Import runs: planning the daily slots, claiming a run under a lease, and recording how it ended.

Every function takes the session explicitly and the current instant as a value (``now``, UTC-aware),
read by the caller from its clock; nothing here reads the system time. Each function commits its own
short transaction: a lease is only worth something once the other processes can see it.

Only the lease owner may finish a run: ``complete_run`` and ``fail_run`` are guarded by
``lease_owner = owner AND status = 'RUNNING'`` and report whether they applied. A run that outlives its
lease (its process died, or an import ran past ``lease_seconds`` without ``renew_lease``) may be taken
over by another process; the late owner's outcome is then ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from control_plane.db import insert_new
from control_plane.models import BillingDatasource, ImportRun, MetricsDatasource
from control_plane.scheduler.slots import (
    as_utc,
    first_slot_at_or_after,
    last_slot_at_or_before,
    require_utc,
    slots_between,
)
from control_plane.settings import Settings

MAX_CATCH_UP_DAYS = 400
"""Most slots planned for one metrics datasource in one go: after a longer downtime only the latest 400
days are caught up, and the older missed slots are skipped for good. (A billing datasource gets one run
at most; see ``_billing_rows``.)"""

_INSERT_BATCH = 100
"""Rows per INSERT statement (5 parameters each), well under SQLite's parameter limit."""


class RunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class RunKind(StrEnum):
    """What a run imports: a metrics datasource (``ImportRun.datasource_id``) or a billing datasource
    (``ImportRun.billing_datasource_id``)."""

    METRICS = "metrics"
    BILLING = "billing"

    @classmethod
    def of(cls, run: ImportRun) -> RunKind:
        return cls.BILLING if run.billing_datasource_id is not None else cls.METRICS


def datasource_of(run: ImportRun) -> str:
    """The id of the datasource ``run`` imports; the table's check constraint sets exactly one of the two."""
    datasource_id = run.billing_datasource_id if run.billing_datasource_id is not None else run.datasource_id
    if datasource_id is None:
        raise ValueError(f"import run {run.id} names no datasource")
    return datasource_id


_DATASOURCE_COLUMN = {RunKind.METRICS: ImportRun.datasource_id, RunKind.BILLING: ImportRun.billing_datasource_id}



def plan_due_runs(session: Session, now: datetime, settings: Settings) -> int:
    """Insert every due import run that is missing, for metrics and billing datasources; returns how many
    were inserted. Metrics datasources are caught up one run per missed day (``_metrics_rows``), billing
    datasources with one run at the latest missed slot (``_billing_rows``).

    Rows are inserted with ``INSERT ... ON CONFLICT (datasource, scheduled_for) DO NOTHING``, so processes
    planning at the same time create each slot once; slots the others inserted first are not counted.
    """
    now = require_utc(now)
    hour = settings.schedule_hour_utc
    last_due = last_slot_at_or_before(now, hour)
    inserted = _insert_missing(session, RunKind.METRICS, _metrics_rows(session, last_due, hour))
    inserted += _insert_missing(session, RunKind.BILLING, _billing_rows(session, last_due, hour))
    session.commit()
    return inserted


def _metrics_rows(session: Session, last_due: datetime, hour: int) -> list[dict]:
    """The missing runs of metrics datasources, one per missed day.

    1. For each datasource read its creation time and its latest run's slot, if any.
    2. Its missing slots run from the day after that latest run (or, with no run yet, from the first
       ``schedule_hour_utc``:00 UTC at or after creation) to ``last_due``, the latest slot at or before
       now: one run per missed day, so a process down for a week catches up seven runs.
    3. Catch-up is capped at ``MAX_CATCH_UP_DAYS`` (400) per datasource: only the most recent 400
       missing slots are planned, older ones are skipped for good.
    """
    rows: list[dict] = []
    for datasource_id, first in _first_missing_slots(session, MetricsDatasource, ImportRun.datasource_id, hour):
        first = max(first, last_due - (MAX_CATCH_UP_DAYS - 1) * timedelta(days=1))
        rows.extend(_pending(RunKind.METRICS, datasource_id, slot) for slot in slots_between(first, last_due))
    return rows


def _billing_rows(session: Session, last_due: datetime, hour: int) -> list[dict]:
    """The missing runs of billing datasources: at most one each, at ``last_due``.

    A billing datasource is missing a run when a slot at or after its creation, and after its latest
    run, is due (the same slots as a metrics datasource). But only the latest of those missed slots is
    planned. A billing import is not about a day: it re-reads the export's current state (every month
    whose set of files changed since the last import), and AWS restates a month by delivering it again
    in full. After a week of downtime, seven runs would do the work of the first one and then find
    nothing changed six times; one run at the latest slot leaves the datasource exactly as up to date.
    """
    return [
        _pending(RunKind.BILLING, datasource_id, last_due)
        for datasource_id, first in _first_missing_slots(
            session, BillingDatasource, ImportRun.billing_datasource_id, hour
        )
        if first <= last_due
    ]


def _first_missing_slots(session: Session, model, run_column, hour: int) -> list[tuple[str, datetime]]:
    """(datasource id, first slot it has no run for) for every datasource of ``model``: the first slot
    at or after its creation and after its latest run."""
    latest = (
        sa.select(run_column.label("datasource_id"), sa.func.max(ImportRun.scheduled_for).label("latest"))
        .where(run_column.is_not(None))
        .group_by(run_column)
        .subquery()
    )
    datasources = session.execute(
        sa.select(model.id, model.created_at, latest.c.latest)
        .outerjoin(latest, latest.c.datasource_id == model.id)
        .order_by(model.id)
    ).all()
    missing = []
    for datasource_id, created_at, latest_slot in datasources:
        first = first_slot_at_or_after(created_at, hour)
        if latest_slot is not None:
            first = max(first, first_slot_at_or_after(as_utc(latest_slot) + timedelta(seconds=1), hour))
        missing.append((datasource_id, first))
    return missing


def _pending(kind: RunKind, datasource_id: str, slot: datetime) -> dict:
    return {
        _DATASOURCE_COLUMN[kind].key: datasource_id,
        "scheduled_for": slot,
        "status": RunStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": slot,
    }


def claim_next_run(session: Session, now: datetime, owner: str, settings: Settings) -> ImportRun | None:
    """Take the lease on the oldest claimable run for ``owner`` and commit; ``None`` when there is none.

    A run is claimable when it is PENDING and due (``next_attempt_at <= now``), or RUNNING with an
    expired lease (``lease_expires_at < now``): its process died or overran its lease, and the run is
    taken over.

    1. Pick the candidate, oldest slot first. On PostgreSQL its row is locked with
       ``FOR UPDATE SKIP LOCKED``, so concurrent claimers pass over it to the next run instead of waiting.
    2. Take the lease (RUNNING, ``lease_owner``, ``lease_expires_at = now + lease_seconds``,
       ``attempts + 1``) with an UPDATE guarded by the status and attempts read in step 1. SQLite has no
       row locks; there this compare-and-swap is what keeps two processes from claiming one run: the
       loser's UPDATE matches no row, and it looks for the next candidate.
    3. A run taken over with all its attempts used up is not started again but marked FAILED, so a run
       that keeps killing its process does not go round forever.

    The run is returned detached from the session, with the values just written.
    """
    now = require_utc(now)
    lease = timedelta(seconds=settings.lease_seconds)
    while True:
        run = session.scalars(
            sa.select(ImportRun)
            .where(_claimable(now))
            .order_by(ImportRun.scheduled_for, ImportRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).first()
        if run is None:
            session.commit()
            return None
        guard = (ImportRun.id == run.id, ImportRun.status == run.status, ImportRun.attempts == run.attempts)
        if run.status == RunStatus.RUNNING and run.attempts >= settings.import_retry_attempts:
            # a claimable RUNNING run has an expired lease, so lease_expires_at is set
            expired_at = "" if run.lease_expires_at is None else f" at {as_utc(run.lease_expires_at).isoformat()}"
            _update(
                session,
                guard,
                status=RunStatus.FAILED.value,
                finished_at=now,
                lease_expires_at=None,
                last_error=(
                    f"the lease of {run.lease_owner} expired{expired_at} "
                    f"after attempt {run.attempts} of {settings.import_retry_attempts}; not retried"
                ),
            )
            session.commit()
            continue
        claimed = {
            "status": RunStatus.RUNNING.value,
            "lease_owner": owner,
            "lease_expires_at": now + lease,
            "attempts": run.attempts + 1,
        }
        if not _update(session, guard, **claimed):
            session.rollback()  # another process claimed it first
            continue
        for name, value in claimed.items():
            set_committed_value(run, name, value)
        for name in ("scheduled_for", "next_attempt_at", "finished_at"):
            value = getattr(run, name)
            set_committed_value(run, name, None if value is None else as_utc(value))
        session.expunge(run)
        session.commit()
        return run


def renew_lease(session: Session, run_id: int, owner: str, now: datetime, settings: Settings) -> bool:
    """Extend ``owner``'s lease on a running run to ``now + lease_seconds``; False if it was lost."""
    now = require_utc(now)
    renewed = _update(
        session,
        _owned(run_id, owner),
        lease_expires_at=now + timedelta(seconds=settings.lease_seconds),
    )
    session.commit()
    return renewed


def complete_run(session: Session, run_id: int, owner: str, now: datetime) -> bool:
    """Mark ``owner``'s run SUCCEEDED; False (and nothing changed) if ``owner`` no longer holds its lease.

    ``lease_owner`` is kept as the record of who ran it; ``last_error`` keeps the last failed attempt's
    error, if any."""
    now = require_utc(now)
    completed = _update(
        session,
        _owned(run_id, owner),
        status=RunStatus.SUCCEEDED.value,
        finished_at=now,
        lease_expires_at=None,
    )
    session.commit()
    return completed


def fail_run(
    session: Session,
    run_id: int,
    owner: str,
    now: datetime,
    error: str,
    transient: bool,
    settings: Settings,
) -> RunStatus | None:
    """Record a failed attempt of ``owner``'s run; returns the run's new status, or ``None`` (and nothing
    changed) if ``owner`` no longer holds its lease.

    A transient failure with attempts left (``attempts < import_retry_attempts``) goes back to PENDING,
    due again after ``import_retry_base_seconds * 2 ** (attempts - 1)``: base, 2 × base, 4 × base, ...
    Anything else is FAILED for good.
    """
    now = require_utc(now)
    run = session.scalars(
        sa.select(ImportRun)
        .where(*_owned(run_id, owner))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if run is None:
        session.commit()
        return None
    if transient and run.attempts < settings.import_retry_attempts:
        status = RunStatus.PENDING
        delay = timedelta(seconds=settings.import_retry_base_seconds * 2 ** (run.attempts - 1))
        values = {"next_attempt_at": now + delay, "lease_owner": None}
    else:
        status = RunStatus.FAILED
        values = {"finished_at": now}
    failed = _update(
        session,
        (*_owned(run_id, owner), ImportRun.attempts == run.attempts),
        status=status.value,
        lease_expires_at=None,
        last_error=error,
        **values,
    )
    session.commit()
    return status if failed else None


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(ImportRun.status == RunStatus.PENDING.value, ImportRun.next_attempt_at <= now),
        sa.and_(ImportRun.status == RunStatus.RUNNING.value, ImportRun.lease_expires_at < now),
    )


def _owned(run_id: int, owner: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        ImportRun.id == run_id,
        ImportRun.lease_owner == owner,
        ImportRun.status == RunStatus.RUNNING.value,
    )


def _update(session: Session, where: tuple[sa.ColumnElement[bool], ...], **values) -> bool:
    """UPDATE the one run matched by ``where``; True if it matched."""
    result = session.execute(
        sa.update(ImportRun).where(*where).values(**values).execution_options(synchronize_session=False)
    )
    return cast(sa.CursorResult, result).rowcount == 1


def _insert_missing(session: Session, kind: RunKind, rows: list[dict]) -> int:
    """The runs not planned yet (ON CONFLICT DO NOTHING on the kind's slot); returns the rows inserted."""
    unique = [_DATASOURCE_COLUMN[kind], ImportRun.scheduled_for]
    return sum(
        insert_new(session, ImportRun, rows[start : start + _INSERT_BATCH], unique)
        for start in range(0, len(rows), _INSERT_BATCH)
    )
