"""Named jobs, and the one place where work crosses domains: an import, then the recompute of what depends on
the data it brought. The scheduler runs these jobs daily (with leases, once across processes); the APIs and
the CLI run the same jobs on demand.

- ``import_metrics``: the metrics datasource's import; if files were loaded, the virtual dimensions whose
  rules read its usage are recomputed.
- ``import_billing``: the billing datasource's import; if a month was replaced, the tenant's dimensions are
  recomputed.
- ``recompute_dimensions``: a step of its own, after the import committed, in a transaction of its own.

Import failures are raised as ``TransientImportError`` (the scheduler retries) or ``TerminalImportError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from control_plane.imports.errors import is_transient
from control_plane.imports.pipeline import ImportSummary, reap_stale_imports
from control_plane.models import utcnow
from control_plane.services import Services

if TYPE_CHECKING:
    from control_plane.scheduler import ClaimedRun, Scheduler

log = logging.getLogger(__name__)


def import_metrics(services: Services, datasource_id: str, *, trigger: str, run_id: int | None = None) -> ImportSummary:
    from control_plane.metrics.imports import execute_import

    summary = execute_import(services, datasource_id, trigger=trigger, run_id=run_id)
    if summary.files_imported:
        summary.dimensions_recomputed = recompute_dimensions(services, metrics_datasource_id=datasource_id)
    return summary


def import_billing(services: Services, datasource_id: str, *, trigger: str, run_id: int | None = None) -> ImportSummary:
    from control_plane.billing.service import execute_import

    summary = execute_import(services, datasource_id, trigger=trigger, run_id=run_id)
    if summary.loaded_units:
        summary.dimensions_recomputed = recompute_dimensions(services, billing_datasource_id=datasource_id)
    return summary


def recompute_dimensions(
    services: Services, *, metrics_datasource_id: str | None = None, billing_datasource_id: str | None = None
) -> int:
    """Recompute, in a transaction of its own, the dimensions new data changes: those whose rules read the
    metrics datasource's usage, or every dimension of the billing datasource's tenant. Returns how many."""
    from control_plane.dimensions.service import recompute_tenant
    from control_plane.models import BillingDatasource, MetricsDatasource

    with services.sessions.begin() as session:
        if metrics_datasource_id is not None:
            metrics = session.get(MetricsDatasource, metrics_datasource_id)
            if metrics is None:
                return 0
            return recompute_tenant(
                session, metrics.tenant_id, services.engine, metrics_datasource_id=metrics_datasource_id
            )
        billing = session.get(BillingDatasource, billing_datasource_id)
        if billing is None:
            return 0
        return recompute_tenant(session, billing.tenant_id, services.engine)


def execute_run(services: Services, run: ClaimedRun) -> None:
    """Carry out one scheduled run, by kind. Raises the import's failure for the scheduler to retry or fail."""
    from control_plane.scheduler import RunKind

    job = import_billing if run.kind == RunKind.BILLING else import_metrics
    job(services, run.datasource_id, trigger="SCHEDULED", run_id=run.id)


def scheduler_for(services: Services, now: Callable[[], datetime] = utcnow) -> Scheduler:
    """The daily 06:00 UTC imports of metrics and billing datasources: each due run is an ``execute_run``;
    transient failures retry. After new data (and once a day) budgets, alerts and reports are evaluated, and the
    notifications due are delivered at every tick."""
    from control_plane.budgets.evaluate import evaluate_all
    from control_plane.notify import deliver_due
    from control_plane.scheduler import Scheduler

    return Scheduler(
        services.sessions,
        lambda run: execute_run(services, run),
        settings=services.settings,
        owner=services.owner,
        now=now,
        is_transient=is_transient,
        evaluate=lambda instant: evaluate_all(services, instant),
        deliver=lambda instant: deliver_due(services, instant),
    )


def start_scheduler(services: Services, stop: threading.Event) -> threading.Thread:
    """Run the daily jobs in a background thread until ``stop`` is set. Imports left RUNNING by a process that was
    killed are marked FAILED first (every import does the same when it starts)."""
    with services.sessions.begin() as session:
        reaped = reap_stale_imports(session, utcnow(), timedelta(seconds=services.settings.lease_seconds))
    if reaped:
        log.warning("%d import(s) left RUNNING by a stopped process marked FAILED (interrupted)", reaped)
    scheduler = scheduler_for(services)
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), name="scheduler", daemon=True)
    thread.start()
    return thread
