"""Importing a datasource's files: on demand (gRPC, REST, CLI) and daily (the scheduler), both through
``execute_import``; the scheduler's executor (``execute_run``, which also runs billing datasources' daily
imports); plus the read side of imports (history, files, metric values)."""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.dimensions.service import recompute_tenant
from control_plane.errors import InvalidArgument, NotFound
from control_plane.imports.errors import ImportFailed, TerminalImportError, TransientImportError, is_transient
from control_plane.imports.pipeline import DatasourceStatus, ImportStatus, ImportSummary, import_datasource
from control_plane.metrics.query import metric_series
from control_plane.storage import S3ObjectStore
from control_plane.models import MetricDefinition, MetricFile, MetricImport, MetricsDatasource, utcnow
from control_plane.services import Services
from control_plane.trust.access import AccessDenied
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_schema.rules import Violation

if TYPE_CHECKING:
    from control_plane.scheduler import ClaimedRun

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def execute_import(services: Services, datasource_id: str, *, trigger: str, run_id: int | None = None) -> ImportSummary:
    """Assume the datasource's role as its tenant, then import new and re-sent files. Raises
    ``TransientImportError`` / ``TerminalImportError`` after recording a FAILED import."""
    failure: ImportFailed | None = None
    with services.sessions.begin() as session:
        datasource = session.get(MetricsDatasource, datasource_id)
        if datasource is None:
            raise TerminalImportError(f"Datasource `{datasource_id}` does not exist (it may have been deleted).")
        bucket, prefix = datasource.bucket_name, datasource.prefix
        try:
            credentials = services.access.credentials(session, datasource.tenant_id, datasource.role_arn)
        except AccessDenied as denied:
            failure = (TransientImportError if denied.transient else TerminalImportError)(denied.finding.detail)
    if failure is not None:
        _record_access_failure(services, datasource_id, trigger, run_id, failure)
        raise failure
    store = S3ObjectStore(
        bucket,
        prefix,
        credentials=credentials,
        region=services.settings.aws_region,
        endpoint_url=services.settings.aws_endpoint_url,
    )
    summary = import_datasource(
        services.sessions, datasource_id, store, trigger=trigger, owner=services.owner, run_id=run_id, now=utcnow
    )
    if summary.files_imported:
        recompute_dimensions_using(services, datasource_id)
    return summary


def recompute_dimensions_using(services: Services, datasource_id: str) -> int:
    """New usage changes the splits of the virtual dimensions whose rules read this datasource."""
    with services.sessions.begin() as session:
        datasource = session.get(MetricsDatasource, datasource_id)
        if datasource is None:
            return 0
        return recompute_tenant(
            session, datasource.tenant_id, services.settings.data_dir, metrics_datasource_id=datasource_id
        )


def _record_access_failure(services: Services, datasource_id: str, trigger: str, run_id: int | None, failure: ImportFailed):
    now = utcnow()
    with services.sessions.begin() as session:
        session.add(
            MetricImport(
                datasource_id=datasource_id,
                trigger=trigger,
                run_id=run_id,
                owner=services.owner,
                status=ImportStatus.FAILED.value,
                started_at=now,
                finished_at=now,
                error=failure.message,
            )
        )
        datasource = session.get(MetricsDatasource, datasource_id)
        datasource.status = DatasourceStatus.ERROR.value
        datasource.status_message = f"Import failed: {failure.message}"
        datasource.last_import_at = now


def run_import(services: Services, datasource_id: str, *, trigger: str) -> MetricImport:
    """Import now and return the recorded import; a failed import is a result (status FAILED, error),
    not an API error."""
    with services.sessions() as session:
        if session.get(MetricsDatasource, datasource_id) is None:
            raise NotFound(f"metrics datasource {datasource_id!r} not found")
    try:
        execute_import(services, datasource_id, trigger=trigger)
    except ImportFailed:
        pass
    with services.sessions() as session:
        latest = session.scalar(
            sa.select(MetricImport)
            .where(MetricImport.datasource_id == datasource_id, MetricImport.owner == services.owner)
            .order_by(MetricImport.id.desc())
            .limit(1)
        )
        session.expunge(latest)
        return latest


def execute_run(services: Services, run: ClaimedRun) -> None:
    """Carry out one scheduled run, by kind: a metrics datasource through ``execute_import``, a billing
    datasource through ``billing.service.execute_import``. Both raise ``TransientImportError`` /
    ``TerminalImportError`` on failure, which the scheduler retries or fails."""
    from control_plane.scheduler import RunKind

    if run.kind == RunKind.BILLING:
        from control_plane.billing.service import execute_import as execute_billing_import

        execute_billing_import(services, run.datasource_id)
    else:
        execute_import(services, run.datasource_id, trigger="SCHEDULED", run_id=run.id)


def scheduler_for(services: Services, now: Callable[[], datetime] = utcnow):
    """The daily 06:00 UTC imports of metrics and billing datasources: each due run is an ``execute_run``;
    transient failures retry."""
    from control_plane.scheduler import Scheduler

    return Scheduler(
        services.sessions,
        lambda run: execute_run(services, run),
        settings=services.settings,
        owner=services.owner,
        now=now,
        is_transient=is_transient,
    )


def start_scheduler(services: Services, stop: threading.Event) -> threading.Thread:
    """Run the daily imports (metrics and billing) in a background thread until ``stop`` is set."""
    scheduler = scheduler_for(services)
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), name="scheduler", daemon=True)
    thread.start()
    return thread


# -- read side --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportPage:
    items: list[MetricImport]
    next_page_token: str


def list_imports(session: Session, datasource_id: str, page_size: int = 0, page_token: str = "") -> ImportPage:
    """Import history of an (already authorised) datasource, newest first."""
    if page_size < 0:
        raise InvalidArgument([Violation(("page_size",), "Invalid Value", "`page_size` must not be negative.")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = sa.select(MetricImport).where(MetricImport.datasource_id == datasource_id)
    if page_token:
        query = query.where(MetricImport.id < _decode_token(page_token))
    rows = list(session.scalars(query.order_by(MetricImport.id.desc()).limit(size + 1)))
    token = base64.urlsafe_b64encode(str(rows[size - 1].id).encode()).decode() if len(rows) > size else ""
    return ImportPage(rows[:size], token)


def _decode_token(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise InvalidArgument(
            [Violation(("page_token",), "Invalid Value", "`page_token` is not a token returned by this list.")]
        ) from None


def list_files(session: Session, datasource_id: str, status: str | None = None) -> list[MetricFile]:
    """Files of an (already authorised) datasource, newest first; ``status`` LOADED or QUARANTINED."""
    if status not in (None, "LOADED", "QUARANTINED"):
        raise InvalidArgument(
            [Violation(("status",), "Invalid Value", f"`status` is `{status}`; use `LOADED` or `QUARANTINED`.")]
        )
    query = sa.select(MetricFile).where(MetricFile.datasource_id == datasource_id)
    if status:
        query = query.where(MetricFile.status == status)
    return list(session.scalars(query.order_by(MetricFile.last_modified.desc(), MetricFile.key.desc())))


def query_values(
    session: Session, datasource_id: str, metric_name: str, *, start: date, end: date, group_by: list[str]
) -> pb.QueryMetricValuesResponse:
    """Values of an (already authorised) datasource's metric, by day and group, gap filling applied."""
    table = metric_series(session, datasource_id, metric_name, start=start, end=end, group_by=group_by)
    unit = session.scalar(
        sa.select(MetricDefinition.unit).where(
            MetricDefinition.datasource_id == datasource_id, MetricDefinition.metric_name == metric_name
        )
    )
    columns = {name: table.column(name).to_pylist() for name in ["day", *group_by, "value"]}
    rows = [
        pb.MetricValueRow(
            day=day.isoformat(),
            dimensions={name: columns[name][i] for name in group_by if columns[name][i] is not None},
            value=columns["value"][i],
        )
        for i, day in enumerate(columns["day"])
    ]
    return pb.QueryMetricValuesResponse(rows=rows, unit=unit or "")
