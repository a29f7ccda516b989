"""The metrics connector: each new or re-sent Parquet file under the prefix is one unit, read into per-metric
daily values (``reader``) and loaded with last-file-wins per day (``load``). The stages, history and status
are the one pipeline's (``control_plane.imports.pipeline``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.imports.errors import TerminalImportError
from control_plane.imports.pipeline import (
    STALE_AFTER,
    DatasourceModel,
    FileModel,
    ImportSummary,
    RetryPolicy,
    Unit,
    run_import,
)
from control_plane.metrics.load import load_file, quarantine_file
from control_plane.metrics.reader import MetricSpec, read_metrics
from control_plane.models import MetricDefinition, MetricFile, MetricsDatasource
from control_plane.storage import ObjectInfo, ObjectStore


@dataclass
class _Values:
    """A file's aggregated values, held until its transaction loads them (they are small: one row per day and
    dimension values)."""

    tables: dict[str, pa.Table]

    def publish(self) -> None:
        pass

    def discard(self) -> None:
        pass


class MetricsConnector:
    history_column = "datasource_id"

    def __init__(self, datasource_id: str):
        self.datasource_id = datasource_id
        self.specs: list[MetricSpec] = []

    def prepare(self, session: Session) -> tuple[str, str]:
        datasource = session.get(MetricsDatasource, self.datasource_id)
        if datasource is None:
            raise TerminalImportError(f"Datasource `{self.datasource_id}` does not exist (it may have been deleted).")
        definitions = session.scalars(
            sa.select(MetricDefinition)
            .where(MetricDefinition.datasource_id == self.datasource_id)
            .order_by(MetricDefinition.position)
        ).all()
        self.specs = [MetricSpec.from_definition(definition) for definition in definitions]
        return datasource.bucket_name, datasource.prefix or ""

    def plan(self, session: Session, objects: Sequence[ObjectInfo]) -> tuple[list[Unit], int]:
        """Every object whose (key, ETag) is not recorded, oldest first: an unchanged file is never read twice,
        a file re-sent under the same key (new ETag) is."""
        known = {
            (key, etag)
            for key, etag in session.execute(
                sa.select(MetricFile.key, MetricFile.etag).where(MetricFile.datasource_id == self.datasource_id)
            )
        }
        pending = [o for o in objects if (o.key, o.etag) not in known]
        return [Unit(o.key, (o,)) for o in pending], len(objects) - len(pending)

    def fetch(self, unit: Unit, store: ObjectStore) -> _Values:
        (obj,) = unit.objects
        source = store.open(obj.key, obj.etag)
        try:
            return _Values(read_metrics(source, self.specs))
        finally:
            source.close()

    def load(self, session: Session, unit: Unit, staged: _Values, import_id: int, now: datetime) -> None:
        (obj,) = unit.objects
        load_file(session, self.datasource_id, obj, staged.tables, import_id=import_id, now=now)

    def already_loaded(self, session: Session, unit: Unit) -> bool:
        (obj,) = unit.objects
        recorded = session.scalar(
            sa.select(MetricFile.id).where(
                MetricFile.datasource_id == self.datasource_id,
                MetricFile.key == obj.key,
                MetricFile.etag == obj.etag,
            )
        )
        return recorded is not None

    def loaded_as(self, unit: Unit, staged: _Values) -> str:
        return unit.name

    def quarantine(self, session: Session, unit: Unit, key: str, reason: str, import_id: int, now: datetime) -> None:
        (obj,) = unit.objects
        quarantine_file(session, self.datasource_id, obj, reason, import_id=import_id, now=now)

    def file_model(self) -> FileModel:
        return MetricFile

    def status_model(self) -> DatasourceModel:
        return MetricsDatasource

    def describe(self, summary: ImportSummary, location: str) -> str | None:
        if not summary.files_seen:
            return (
                f"No `.parquet` files under {location} yet; they are imported once your export writes them."
            )
        return None


def import_datasource(
    sessions: sessionmaker[Session],
    datasource_id: str,
    store: ObjectStore,
    *,
    trigger: str,
    owner: str,
    now: Callable[[], datetime],
    run_id: int | None = None,
    stale_after: timedelta = STALE_AFTER,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable
) -> ImportSummary:
    """Import every new or re-sent Parquet file of ``datasource_id`` from ``store`` (see the pipeline)."""
    return run_import(
        sessions,
        MetricsConnector(datasource_id),
        store,
        trigger=trigger,
        owner=owner,
        now=now,
        run_id=run_id,
        stale_after=stale_after,
        retry=retry,
    )
