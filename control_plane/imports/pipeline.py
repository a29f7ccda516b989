"""One import of a datasource: the files under its prefix into metric values, with its history.

1. Record the import (RUNNING) and read the datasource's metric definitions.
2. List the Parquet objects. A listing failure fails the import: the datasource goes to ERROR with
   what to do.
3. Skip every object whose (key, ETag) is already recorded: an unchanged file is never read twice,
   while a file re-sent under the same key (new ETag) is.
4. Take the others oldest first, by (LastModified, key), each in its own transaction: stream and
   aggregate it, then load it (or quarantine it). A failure rolls back that file alone; the files
   before it stay loaded, and a rerun converges.
5. Finish the import (SUCCEEDED with its counts, or FAILED with the error) and set the datasource's
   status: OK, WARNING while any listed file is quarantined, or ERROR.

Storage failures come out as ``TransientImportError`` (worth retrying) or ``TerminalImportError``,
raised once recorded, so a scheduler retries only what may pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from control_plane.imports.errors import (
    ImportFailed,
    ObjectReadError,
    Quarantine,
    TerminalImportError,
    TransientImportError,
)
from control_plane.metrics.load import FileStatus, load_file, quarantine_file
from control_plane.metrics.reader import MetricSpec, read_metrics
from control_plane.storage import ObjectInfo, ObjectStore, listing_failure, reading_failure
from control_plane.models import MetricDefinition, MetricFile, MetricImport, MetricsDatasource

log = logging.getLogger(__name__)

MAX_FILES_IN_MESSAGE = 10


class ImportStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DatasourceStatus(StrEnum):
    OK = "OK"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(frozen=True)
class QuarantinedFile:
    key: str
    reason: str


@dataclass(frozen=True)
class ImportSummary:
    """How an import ended (also recorded as its ``MetricImport`` row)."""

    import_id: int
    status: ImportStatus
    files_seen: int
    files_imported: int
    files_unchanged: int
    files_quarantined: int
    """Quarantined by this import."""
    datasource_status: DatasourceStatus
    status_message: str | None
    quarantined: tuple[QuarantinedFile, ...] = ()
    """Every listed file currently quarantined (this import's and earlier ones')."""
    error: str | None = None


@dataclass
class _Counts:
    seen: int = 0
    imported: int = 0
    unchanged: int = 0
    quarantined: int = 0


def import_datasource(
    sessions: sessionmaker[Session],
    datasource_id: str,
    store: ObjectStore,
    *,
    trigger: str,
    owner: str,
    run_id: int | None = None,
    now: Callable[[], datetime],
) -> ImportSummary:
    """Import every new or re-sent Parquet file of ``datasource_id`` from ``store``.

    ``trigger`` is ``SCHEDULED`` or ``MANUAL``; ``owner`` names the process (host:pid); ``run_id`` links
    a scheduled ``ImportRun``. Returns the summary when every file was handled (quarantined ones
    included). Raises ``TransientImportError`` / ``TerminalImportError`` (storage, concurrency) or the
    unexpected error itself, after recording the import as FAILED and the datasource as ERROR."""
    # 1. The import row, and what to read.
    with sessions.begin() as session:
        datasource = session.get(MetricsDatasource, datasource_id)
        if datasource is None:
            raise TerminalImportError(
                f"Datasource `{datasource_id}` does not exist (it may have been deleted)."
            )
        bucket, prefix = datasource.bucket_name, datasource.prefix or ""
        definitions = session.scalars(
            sa.select(MetricDefinition)
            .where(MetricDefinition.datasource_id == datasource_id)
            .order_by(MetricDefinition.position)
        ).all()
        specs = [MetricSpec.from_definition(definition) for definition in definitions]
        record = MetricImport(
            datasource_id=datasource_id,
            trigger=trigger,
            run_id=run_id,
            owner=owner,
            status=ImportStatus.RUNNING.value,
            started_at=now(),
        )
        session.add(record)
        session.flush()
        import_id = record.id

    counts = _Counts()
    try:
        # 2. List.
        try:
            objects = sorted(store.list_parquet(), key=lambda o: (o.last_modified, o.key))
        except Exception as error:
            if _is_storage_error(error):
                raise listing_failure(error, bucket, prefix) from error
            raise
        counts.seen = len(objects)

        # 3. Skip what is already recorded.
        with sessions.begin() as session:
            known = {
                (key, etag)
                for key, etag in session.execute(
                    sa.select(MetricFile.key, MetricFile.etag).where(
                        MetricFile.datasource_id == datasource_id
                    )
                )
            }
        pending = [o for o in objects if (o.key, o.etag) not in known]
        counts.unchanged = len(objects) - len(pending)

        # 4. The rest, oldest first, one transaction each.
        for obj in pending:
            outcome = _import_file(sessions, datasource_id, bucket, store, specs, obj, import_id, now)
            if outcome is FileStatus.LOADED:
                counts.imported += 1
            elif outcome is FileStatus.QUARANTINED:
                counts.quarantined += 1
            else:
                counts.unchanged += 1
    except Exception as error:
        failure = _as_failure(error)
        if failure is not None:
            message = failure.message
        else:
            # A bug, not the customer's doing: details go to the log, not to the tenant-visible message.
            log.exception("import %d of %s failed unexpectedly", import_id, datasource_id)
            message = (
                f"Internal error ({type(error).__name__}) while importing; the next scheduled import tries "
                "again. If this persists, tell the operator of this control plane."
            )
        try:
            _finish(sessions, datasource_id, import_id, counts, now, error=message)
        except Exception:
            log.exception("could not record the failure of import %d of %s", import_id, datasource_id)
        if failure is not None and failure is not error:
            raise failure from error
        raise

    # 5. Done.
    return _finish(
        sessions, datasource_id, import_id, counts, now, objects=objects, bucket=bucket, prefix=prefix
    )


def _import_file(
    sessions: sessionmaker[Session],
    datasource_id: str,
    bucket: str,
    store: ObjectStore,
    specs: Sequence[MetricSpec],
    obj: ObjectInfo,
    import_id: int,
    now: Callable[[], datetime],
) -> FileStatus | None:
    """Read and load (or quarantine) one object in one transaction; None when there was nothing to do
    (the object vanished since the listing, or a concurrent import recorded it first)."""
    try:
        source = store.open(obj.key)
    except FileNotFoundError:
        log.info("s3://%s/%s vanished after the listing; skipped", bucket, obj.key)
        return None
    except OSError as error:
        raise reading_failure(error, bucket, obj.key) from error
    try:
        try:
            tables = read_metrics(source, specs)
            reason = None
        except Quarantine as quarantine:
            tables, reason = None, quarantine.reason
        except ObjectReadError as error:
            raise reading_failure(error, bucket, obj.key) from error
    finally:
        source.close()
    try:
        with sessions.begin() as session:
            if reason is None:
                load_file(session, datasource_id, obj, tables, import_id=import_id, now=now())
            else:
                quarantine_file(session, datasource_id, obj, reason, import_id=import_id, now=now())
    except IntegrityError:
        # Another import of this datasource ran at the same time; if it recorded this very object,
        # the values are there. Otherwise try again later.
        with sessions.begin() as session:
            recorded = session.scalar(
                sa.select(MetricFile.id).where(
                    MetricFile.datasource_id == datasource_id,
                    MetricFile.key == obj.key,
                    MetricFile.etag == obj.etag,
                )
            )
        if recorded is not None:
            return None
        raise
    if reason is not None:
        log.warning("quarantined s3://%s/%s: %s", bucket, obj.key, reason)
        return FileStatus.QUARANTINED
    return FileStatus.LOADED


def _finish(
    sessions: sessionmaker[Session],
    datasource_id: str,
    import_id: int,
    counts: _Counts,
    now: Callable[[], datetime],
    *,
    objects: Sequence[ObjectInfo] = (),
    bucket: str = "",
    prefix: str = "",
    error: str | None = None,
) -> ImportSummary:
    finished = now()
    quarantined: tuple[QuarantinedFile, ...] = ()
    with sessions.begin() as session:
        if error is not None:
            status, message = DatasourceStatus.ERROR, f"Import failed: {error}"
        else:
            quarantined = _currently_quarantined(session, datasource_id, objects)
            status, message = _datasource_status(quarantined, objects, bucket, prefix)
        session.execute(
            sa.update(MetricImport)
            .where(MetricImport.id == import_id)
            .values(
                status=(ImportStatus.FAILED if error is not None else ImportStatus.SUCCEEDED).value,
                finished_at=finished,
                files_seen=counts.seen,
                files_imported=counts.imported,
                files_unchanged=counts.unchanged,
                files_quarantined=counts.quarantined,
                error=error,
            )
        )
        session.execute(
            sa.update(MetricsDatasource)
            .where(MetricsDatasource.id == datasource_id)
            # Status is the import's news, not an edit of the datasource: updated_at stays.
            .values(
                status=status.value,
                status_message=message,
                last_import_at=finished,
                updated_at=MetricsDatasource.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
    return ImportSummary(
        import_id=import_id,
        status=ImportStatus.FAILED if error is not None else ImportStatus.SUCCEEDED,
        files_seen=counts.seen,
        files_imported=counts.imported,
        files_unchanged=counts.unchanged,
        files_quarantined=counts.quarantined,
        datasource_status=status,
        status_message=message,
        quarantined=quarantined,
        error=error,
    )


def _currently_quarantined(
    session: Session, datasource_id: str, objects: Sequence[ObjectInfo]
) -> tuple[QuarantinedFile, ...]:
    """Listed objects whose current version (key + ETag) is quarantined, oldest first. A file fixed by
    a re-send, or deleted, no longer counts; its history stays in ``metric_files``."""
    reasons = {
        (key, etag): reason
        for key, etag, reason in session.execute(
            sa.select(MetricFile.key, MetricFile.etag, MetricFile.reason).where(
                MetricFile.datasource_id == datasource_id, MetricFile.status == FileStatus.QUARANTINED.value
            )
        )
    }
    return tuple(
        QuarantinedFile(o.key, reasons[(o.key, o.etag)] or "") for o in objects if (o.key, o.etag) in reasons
    )


def _datasource_status(
    quarantined: Sequence[QuarantinedFile], objects: Sequence[ObjectInfo], bucket: str, prefix: str
) -> tuple[DatasourceStatus, str | None]:
    if quarantined:
        count = len(quarantined)
        files, their = ("1 file", "its") if count == 1 else (f"{count} files", "their")
        lines = [
            f"{files} quarantined: {their} rows are not imported. Fix each file and upload it again "
            "(the same key is fine)."
        ]
        lines += [f"- {q.key}: {q.reason}" for q in quarantined[:MAX_FILES_IN_MESSAGE]]
        if count > MAX_FILES_IN_MESSAGE:
            lines.append(f"- and {count - MAX_FILES_IN_MESSAGE} more")
        return DatasourceStatus.WARNING, "\n".join(lines)
    if not objects:
        return DatasourceStatus.OK, (
            f"No `.parquet` files under s3://{bucket}/{prefix} yet; they are imported once your export "
            "writes them."
        )
    return DatasourceStatus.OK, None


def _is_storage_error(error: BaseException) -> bool:
    return isinstance(error, (ClientError, BotoCoreError, OSError))


def _as_failure(error: BaseException) -> ImportFailed | None:
    """The import failure ``error`` amounts to, or None when it is unexpected (a bug)."""
    if isinstance(error, ImportFailed):
        return error
    if isinstance(error, (OperationalError, IntegrityError)):
        cause = type(error.orig or error).__name__
        return TransientImportError(
            f"The database refused a write ({cause}); the import is retried automatically."
        )
    return None
