"""Daily imports of metrics and billing datasources: one run per datasource and day
(``schedule_hour_utc``), caught up after downtime (metrics: every missed day; billing: the latest
missed day), executed exactly once across control-plane processes sharing one database."""

from control_plane.scheduler.runner import ClaimedRun, Scheduler, never_transient, new_owner_id
from control_plane.scheduler.service import (
    MAX_CATCH_UP_DAYS,
    RunKind,
    RunStatus,
    claim_next_run,
    complete_run,
    fail_run,
    plan_due_runs,
    renew_lease,
)

__all__ = [
    "MAX_CATCH_UP_DAYS",
    "ClaimedRun",
    "RunKind",
    "RunStatus",
    "Scheduler",
    "claim_next_run",
    "complete_run",
    "fail_run",
    "never_transient",
    "new_owner_id",
    "plan_due_runs",
    "renew_lease",
]
