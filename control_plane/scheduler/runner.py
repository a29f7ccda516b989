"""The scheduler loop of one control-plane process: plan due runs, claim them one at a time, execute
each outside any transaction, record the outcome.

Any number of processes may run it against one database: the unique slot makes each run exist once,
and the lease makes each run execute once (see ``claim_next_run``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Self
from uuid import uuid4

from sqlalchemy.orm import Session

from control_plane.models import utcnow
from control_plane.scheduler.service import (
    RunKind,
    RunStatus,
    claim_next_run,
    complete_run,
    datasource_of,
    fail_run,
    plan_due_runs,
    renew_lease,
)
from control_plane.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClaimedRun:
    """What ``execute`` is handed: a plain snapshot of the run it must carry out."""

    id: int
    """The ``ImportRun`` id."""
    datasource_id: str
    """The datasource to import: a metrics datasource or a billing datasource, as ``kind`` says."""
    scheduled_for: datetime
    """The daily slot (UTC) the run is for."""
    attempt: int
    """1 for the first attempt, 2 for the first retry or takeover, ..."""
    owner: str
    """The process executing it (its lease owner)."""
    kind: RunKind = RunKind.METRICS


def new_owner_id() -> str:
    """Names this process in run leases: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def never_transient(_error: Exception) -> bool:
    return False


class Scheduler:
    """Runs each datasource's daily import, once per slot, across any number of processes.

    ``execute(run)`` carries out one run, of either kind (``run.kind``: metrics or billing); returning means
    success, raising means failure, retried with exponential backoff when ``is_transient(error)`` says so.
    It is called outside any transaction.
    While it runs, a helper thread renews the lease every ``lease_seconds / 3``; a run whose process
    stops renewing (killed, or stuck in a way that also stops that thread) is taken over by another
    process once the lease expires, and the late outcome of the first is then ignored.

    ``now`` is the clock (UTC-aware); tests pass a fixed or controlled one.

    ``evaluate(now)`` (budgets, alerts and reports) runs after a tick in which a run succeeded, and once per UTC
    day; ``deliver(now)`` (the notifications due) after it, at every tick, so retries go out without waiting for
    new data. Both are idempotent across processes (the outbox's unique keys and delivery leases); a failure is
    logged, and an evaluation that failed is tried again at the next tick.
    """

    def __init__(
        self,
        session_factory: Callable[[], Session],
        execute: Callable[[ClaimedRun], None],
        *,
        settings: Settings,
        owner: str | None = None,
        now: Callable[[], datetime] = utcnow,
        is_transient: Callable[[Exception], bool] = never_transient,
        evaluate: Callable[[datetime], object] | None = None,
        deliver: Callable[[datetime], object] | None = None,
    ):
        self.session_factory = session_factory
        self.execute = execute
        self.settings = settings
        self.owner = owner or new_owner_id()
        self.now = now
        self.is_transient = is_transient
        self.evaluate = evaluate
        self.deliver = deliver
        self._evaluated_on: date | None = None
        """The UTC day of this process's last successful evaluation."""

    def tick(self) -> int:
        """Plan due runs, then claim and execute runs until none is claimable; returns how many ran."""
        return self._tick(None)

    def run_forever(self, stop_event: threading.Event) -> None:
        """Tick every ``scheduler_poll_seconds`` until ``stop_event`` is set (the run in progress, if
        any, is finished first). A failing tick (e.g. the database is unreachable) is logged and retried
        at the next poll."""
        log.info("scheduler %s started", self.owner)
        while not stop_event.is_set():
            try:
                self._tick(stop_event)
            except Exception:
                log.exception("scheduler tick failed; next try in %s s", self.settings.scheduler_poll_seconds)
            stop_event.wait(self.settings.scheduler_poll_seconds)
        log.info("scheduler %s stopped", self.owner)

    def _tick(self, stop_event: threading.Event | None) -> int:
        # 1. Plan: one run per due slot, missed days included (billing: the latest missed slot only).
        # 2. Claim the oldest claimable run (commit), 3. execute it outside any transaction while its
        #    lease is renewed, 4. record the outcome (commit); repeat until nothing is claimable.
        # 5. Evaluate budgets, alerts and reports after new data (or once a day), then deliver what is due.
        with self.session_factory() as session:
            planned = plan_due_runs(session, self.now(), self.settings)
        if planned:
            log.info("planned %d import run(s)", planned)
        executed = succeeded = 0
        while stop_event is None or not stop_event.is_set():
            with self.session_factory() as session:
                run = claim_next_run(session, self.now(), self.owner, self.settings)
                if run is None:
                    break
                kind = RunKind.of(run)
                claimed = ClaimedRun(run.id, datasource_of(run), run.scheduled_for, run.attempts, self.owner, kind)
            succeeded += self._run(claimed)
            executed += 1
        self._evaluate_and_deliver(bool(succeeded))
        return executed

    def _evaluate_and_deliver(self, new_data: bool) -> None:
        now = self.now()
        if self.evaluate is not None and (new_data or self._evaluated_on != now.date()):
            try:
                self.evaluate(now)
            except Exception:
                log.exception("evaluating budgets, alerts and reports failed; next try at the next tick")
            else:
                self._evaluated_on = now.date()
        if self.deliver is not None:
            try:
                self.deliver(now)
            except Exception:
                log.exception("delivering notifications failed; next try at the next tick")

    def _run(self, run: ClaimedRun) -> bool:
        """Execute and record one run; whether it succeeded."""
        label = f"run {run.id} ({run.kind} {run.datasource_id}, {run.scheduled_for.isoformat()})"
        try:
            with _LeaseKeeper(self, run.id):
                self.execute(run)
        except Exception as error:  # whatever execute raises fails the run, and the failure is recorded
            transient = self.is_transient(error)
            with self.session_factory() as session:
                status = fail_run(
                    session, run.id, self.owner, self.now(), _describe(error), transient, self.settings
                )
            if status is None:
                log.warning("%s failed after its lease was lost: %s", label, error)
            elif status == RunStatus.PENDING:
                log.warning("%s failed, will retry: %s", label, error)
            else:
                log.error("%s failed: %s", label, error)
            return False
        with self.session_factory() as session:
            completed = complete_run(session, run.id, self.owner, self.now())
        if completed:
            log.info("%s succeeded", label)
        else:
            log.warning("%s finished after its lease was lost; another process took it over", label)
        return True


class _LeaseKeeper:
    """Renews a run's lease every ``lease_seconds / 3`` from a helper thread while the run executes."""

    def __init__(self, scheduler: Scheduler, run_id: int):
        self.scheduler = scheduler
        self.run_id = run_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, name=f"lease-{run_id}", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopped.set()
        self.thread.join()

    def _renew(self) -> None:
        scheduler = self.scheduler
        while not self.stopped.wait(scheduler.settings.lease_seconds / 3):
            try:
                with scheduler.session_factory() as session:
                    renewed = renew_lease(
                        session, self.run_id, scheduler.owner, scheduler.now(), scheduler.settings
                    )
            except Exception:
                log.exception("could not renew the lease on run %d; retrying", self.run_id)
                continue
            if not renewed:
                log.warning("lost the lease on run %d: another process may take it over", self.run_id)
                return


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
