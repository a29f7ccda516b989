"""Importing a metrics datasource's files through its role (``execute_import``, the first step of the
``import_metrics`` job that the scheduler and the APIs run), plus the read side of imports (history, files,
metric values)."""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.db import release
from control_plane.errors import InvalidArgument, NotFound
from control_plane.imports.errors import ImportFailed
from control_plane.imports.pipeline import ImportSummary
from control_plane.imports.roles import import_through_role
from control_plane.metrics.importer import MetricsConnector
from control_plane.metrics.query import AuthorizedDatasourceId, load_series
from control_plane.models import ImportRecord, MetricFile, MetricsDatasource
from control_plane.services import Services
from costory_proto.costory.v1 import metrics_datasource_pb2 as pb
from costory_schema.problems import Problem

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def execute_import(services: Services, datasource_id: str, *, trigger: str, run_id: int | None = None) -> ImportSummary:
    """Assume the datasource's role as its tenant, then import new and re-sent files (the pipeline). Raises
    ``TransientImportError`` / ``TerminalImportError`` after recording a FAILED import. Recomputing what
    depends on the data is the job's next step (``control_plane.jobs.import_metrics``)."""
    return import_through_role(services, MetricsConnector(datasource_id), trigger=trigger, run_id=run_id)


def run_import(services: Services, datasource_id: str, *, trigger: str) -> ImportRecord:
    """Import now (the job: import, then recompute) and return the recorded import; a failed import is a result
    (status FAILED, error), not an API error."""
    from control_plane.jobs import import_metrics

    with services.sessions() as session:
        if session.get(MetricsDatasource, datasource_id) is None:
            raise NotFound(f"metrics datasource {datasource_id!r} not found")
    with contextlib.suppress(ImportFailed):  # recorded as the import's outcome
        import_metrics(services, datasource_id, trigger=trigger)
    with services.sessions() as session:
        latest = session.scalar(
            sa.select(ImportRecord)
            .where(ImportRecord.datasource_id == datasource_id, ImportRecord.owner == services.owner)
            .order_by(ImportRecord.id.desc())
            .limit(1)
        )
        if latest is None:
            raise NotFound(f"metrics datasource {datasource_id!r} not found")
        session.expunge(latest)
        return latest


# -- read side --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportPage:
    items: list[ImportRecord]
    next_page_token: str


def list_imports(session: Session, datasource_id: str, page_size: int = 0, page_token: str = "") -> ImportPage:
    """Import history of an (already authorised) datasource, newest first."""
    if page_size < 0:
        raise InvalidArgument([Problem(("page_size",), "Invalid Value", "`page_size` must not be negative.")])
    size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    query = sa.select(ImportRecord).where(ImportRecord.datasource_id == datasource_id)
    if page_token:
        query = query.where(ImportRecord.id < _decode_token(page_token))
    rows = list(session.scalars(query.order_by(ImportRecord.id.desc()).limit(size + 1)))
    token = base64.urlsafe_b64encode(str(rows[size - 1].id).encode()).decode() if len(rows) > size else ""
    return ImportPage(rows[:size], token)


def _decode_token(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise InvalidArgument(
            [Problem(("page_token",), "Invalid Value", "`page_token` is not a token returned by this list.")]
        ) from None


def list_files(session: Session, datasource_id: str, status: str | None = None) -> list[MetricFile]:
    """Files of an (already authorised) datasource, newest first; ``status`` LOADED or QUARANTINED."""
    if status not in (None, "LOADED", "QUARANTINED"):
        raise InvalidArgument(
            [Problem(("status",), "Invalid Value", f"`status` is `{status}`; use `LOADED` or `QUARANTINED`.")]
        )
    query = sa.select(MetricFile).where(MetricFile.datasource_id == datasource_id)
    if status:
        query = query.where(MetricFile.status == status)
    return list(session.scalars(query.order_by(MetricFile.last_modified.desc(), MetricFile.key.desc())))


def query_values(
    session: Session,
    datasource_id: AuthorizedDatasourceId,
    metric_name: str,
    *,
    start: date,
    end: date,
    group_by: list[str],
) -> pb.QueryMetricValuesResponse:
    """Values of an (already authorised) datasource's metric, by day and group, gap filling applied. The
    session's connection goes back to the pool once the values are loaded, before they are filled."""
    loaded = load_series(session, datasource_id, metric_name, start=start, end=end, group_by=group_by)
    release(session)
    table = loaded.filled()
    columns = {name: table.column(name).to_pylist() for name in ["day", *group_by, "value"]}
    rows = [
        pb.MetricValueRow(
            day=day.isoformat(),
            dimensions={name: columns[name][i] for name in group_by if columns[name][i] is not None},
            value=columns["value"][i],
        )
        for i, day in enumerate(columns["day"])
    ]
    return pb.QueryMetricValuesResponse(rows=rows, unit=loaded.unit)
