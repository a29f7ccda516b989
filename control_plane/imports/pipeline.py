"""The one import pipeline: a connector says how to list, fetch and load its source; this module runs the
stages, keeps the history and sets the datasource's status, the same way for every source.

1. Record the import (RUNNING, in the one history) and mark imports silent for longer than the lease FAILED
   (their process was killed). Ask the connector what it needs (its definitions, the location).
2. List the objects. A listing failure fails the import: transient ones are retried by the scheduler,
   terminal ones say what to change.
3. Quarantine every listed key that could name another object (``..``, ``//``) without reading it; let the
   connector group the rest into units of work (a file, a billing month) and skip what it already holds.
4. Each unit on its own: fetch it (streamed, bounded memory, validated and normalized, files written aside),
   then load it in one transaction; files become visible only after that commit (``Staged.publish``), and
   are discarded when it does not commit. A broken file is quarantined with its reason and the import goes
   on. A storage failure is retried a few times at once; an object replaced while it was read is read again
   whole from its new version; neither ever quarantines a good file. A heartbeat marks progress.
5. Finish: the import's outcome (SUCCEEDED, PARTIAL when files are quarantined, FAILED) and the datasource's
   status (OK, WARNING while a listed file is quarantined, ERROR).

Recomputing what depends on the new data is not done here: it is the next step of the job
(``control_plane.jobs``), after this import has committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from control_plane.imports.errors import (
    ImportFailed,
    ObjectChanged,
    ObjectReadError,
    Quarantine,
    TerminalImportError,
    TransientImportError,
)
from control_plane.models import BillingDatasource, BillingFile, ImportRecord, MetricFile, MetricsDatasource
from control_plane.storage import ObjectInfo, ObjectStore, listing_failure, reading_failure, unsafe_key_reason

log = logging.getLogger(__name__)

MAX_FILES_IN_MESSAGE = 10
STALE_AFTER = timedelta(minutes=10)
"""A RUNNING import with no heartbeat for this long was killed (the scheduler's lease, by default)."""
READ_ATTEMPTS = 3
"""Storage failures while fetching one unit are retried this many times in all before the import is given
up as transient (the scheduler then retries it later)."""


class ImportStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    """Every file was handled, and some were quarantined by this import."""
    FAILED = "FAILED"


class DatasourceStatus(StrEnum):
    PENDING = "PENDING"
    OK = "OK"
    WARNING = "WARNING"
    ERROR = "ERROR"


class FileStatus(StrEnum):
    LOADED = "LOADED"
    QUARANTINED = "QUARANTINED"


class Trigger(StrEnum):
    SCHEDULED = "SCHEDULED"
    MANUAL = "MANUAL"


@dataclass(frozen=True)
class QuarantinedFile:
    key: str
    reason: str


@dataclass(frozen=True)
class Unit:
    """What is loaded in one transaction: one file (metrics), or every file of one billing month."""

    name: str
    """The file's key or the month, as messages name it."""
    objects: tuple[ObjectInfo, ...]


class Staged(Protocol):
    """What a fetch prepared: data in memory or files written aside, not yet visible to readers."""

    def publish(self) -> None:
        """After the load committed: make written files visible."""

    def discard(self) -> None:
        """The load did not commit: remove what was written aside."""


StagedT = TypeVar("StagedT", bound=Staged, contravariant=True)
DatasourceModel = type[MetricsDatasource] | type[BillingDatasource]
"""The table whose status an import sets."""
FileModel = type[MetricFile] | type[BillingFile]
"""The table where an import records each file it loaded or quarantined."""


class Connector(Protocol[StagedT]):
    """One kind of source. Its methods are called in the pipeline's order; ``fetch`` runs outside any
    transaction, the others inside the transaction they are given."""

    history_column: str
    """``ImportRecord`` column naming the datasource: `datasource_id` or `billing_datasource_id`."""
    datasource_id: str

    def prepare(self, session: Session) -> tuple[str, str]:
        """Read what the import needs (definitions); return (bucket, prefix). Raise TerminalImportError when
        the datasource is gone."""
        ...

    def plan(self, session: Session, objects: Sequence[ObjectInfo]) -> tuple[list[Unit], int]:
        """The units to fetch, in order, and how many listed objects are unchanged."""
        ...

    def fetch(self, unit: Unit, store: ObjectStore) -> Staged:
        """Read, validate and normalize the unit. Raises ``Quarantine`` (``key`` set to the file at fault for
        multi-file units) or lets ``ObjectReadError`` through."""
        ...

    def load(self, session: Session, unit: Unit, staged: StagedT, import_id: int, now: datetime) -> None: ...

    def already_loaded(self, session: Session, unit: Unit) -> bool:
        """After an IntegrityError: whether a concurrent import loaded this very unit."""
        ...

    def loaded_as(self, unit: Unit, staged: StagedT) -> str:
        """How the summary names a loaded unit (a billing file's month is known once it is read)."""
        ...

    def quarantine(
        self, session: Session, unit: Unit, key: str, reason: str, import_id: int, now: datetime
    ) -> None: ...

    def file_model(self) -> FileModel:
        """The table recording this source's files (key, ETag, status, reason)."""
        ...

    def status_model(self) -> DatasourceModel: ...

    def describe(self, summary: ImportSummary, location: str) -> str | None:
        """The status message of an import without quarantined files (None: nothing to say)."""
        ...


@dataclass
class ImportSummary:
    """How an import ended (also recorded as its ``ImportRecord`` row)."""

    import_id: int
    status: ImportStatus = ImportStatus.RUNNING
    files_seen: int = 0
    files_imported: int = 0
    files_unchanged: int = 0
    files_quarantined: int = 0
    """Quarantined by this import."""
    loaded_units: list[str] = field(default_factory=list)
    """Units loaded (file keys, or billing months), in order."""
    unchanged_units: list[str] = field(default_factory=list)
    """Units planned but kept as they were (a file of theirs quarantined)."""
    datasource_status: DatasourceStatus = DatasourceStatus.PENDING
    status_message: str | None = None
    quarantined: tuple[QuarantinedFile, ...] = ()
    """Every listed file currently quarantined (this import's and earlier ones')."""
    error: str | None = None
    dimensions_recomputed: int = 0
    """Set by the job after the import: the dimensions recomputed because of it."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = READ_ATTEMPTS
    base_seconds: float = 0.5
    sleep: Callable[[float], None] = time.sleep


def run_import(
    sessions: sessionmaker[Session],
    connector: Connector[Any],
    store: ObjectStore,
    *,
    trigger: str,
    owner: str,
    now: Callable[[], datetime],
    run_id: int | None = None,
    stale_after: timedelta = STALE_AFTER,
    retry: RetryPolicy = RetryPolicy(),
) -> ImportSummary:
    """Run the stages for ``connector``. Returns the summary when every unit was handled (quarantined ones
    included). Raises ``TransientImportError`` / ``TerminalImportError`` (storage, concurrency) or the
    unexpected error itself, after recording the import as FAILED and the datasource as ERROR."""
    # 1. The history row, and what to read.
    with sessions.begin() as session:
        reap_stale_imports(session, now(), stale_after)
        bucket, prefix = connector.prepare(session)
        record = ImportRecord(
            trigger=trigger,
            run_id=run_id,
            owner=owner,
            status=ImportStatus.RUNNING.value,
            started_at=now(),
            heartbeat_at=now(),
            **{connector.history_column: connector.datasource_id},
        )
        session.add(record)
        session.flush()
        summary = ImportSummary(import_id=record.id)

    objects: list[ObjectInfo] = []
    try:
        # 2. List.
        try:
            objects = sorted(store.list_parquet(), key=lambda o: (o.last_modified, o.key))
        except (ClientError, BotoCoreError, OSError) as error:
            raise listing_failure(error, bucket, prefix) from error
        summary.files_seen = len(objects)

        # 3. Unsafe keys are quarantined unread; the connector plans the rest.
        safe = []
        for obj in objects:
            reason = unsafe_key_reason(obj.key, prefix)
            if reason is None:
                safe.append(obj)
                continue
            unit = Unit(obj.key, (obj,))
            with sessions.begin() as session:
                if not still_quarantined(session, connector, [obj]):
                    connector.quarantine(session, unit, obj.key, f"Not read: {reason}.", summary.import_id, now())
                    summary.files_quarantined += 1
                else:
                    summary.files_unchanged += 1
        with sessions.begin() as session:
            units, unchanged = connector.plan(session, safe)
        summary.files_unchanged += unchanged

        # 4. Each unit: fetch, then load in one transaction.
        for unit in units:
            _run_unit(sessions, connector, store, unit, summary, bucket, now, retry)
            _heartbeat(sessions, summary.import_id, now())
    except Exception as error:
        failure = _as_failure(error)
        if failure is not None:
            message = failure.message
        else:
            # A bug, not the customer's doing: details go to the log, not to the tenant-visible message.
            log.exception("import %d of %s failed unexpectedly", summary.import_id, connector.datasource_id)
            message = (
                f"Internal error ({type(error).__name__}) while importing; the next scheduled import tries "
                "again. If this persists, tell the operator of this control plane."
            )
        summary.error = message
        try:
            _finish(sessions, connector, summary, objects, f"s3://{bucket}/{prefix}", now)
        except Exception:
            log.exception("could not record the failure of import %d", summary.import_id)
        if failure is not None and failure is not error:
            raise failure from error
        raise

    # 5. Done.
    return _finish(sessions, connector, summary, objects, f"s3://{bucket}/{prefix}", now)


def _run_unit(
    sessions: sessionmaker[Session],
    connector: Connector[Any],
    store: ObjectStore,
    unit: Unit,
    summary: ImportSummary,
    bucket: str,
    now: Callable[[], datetime],
    retry: RetryPolicy,
) -> None:
    staged: Staged | None = None
    reason: str | None = None
    bad_key = unit.name
    for attempt in range(1, retry.attempts + 1):
        try:
            staged = connector.fetch(unit, store)
            break
        except Quarantine as quarantine:
            reason, bad_key = quarantine.reason, quarantine.key or unit.objects[0].key
            break
        except FileNotFoundError:
            log.info("%s vanished after the listing; skipped", unit.name)
            summary.files_unchanged += len(unit.objects)
            return
        except ObjectChanged as changed:
            # Replaced while read: read the new version again, whole.
            refreshed = _refreshed(store, unit)
            if refreshed is None:
                summary.files_unchanged += len(unit.objects)
                return
            unit = refreshed
            if attempt == retry.attempts:
                raise TransientImportError(
                    f"{changed.location} was replaced {retry.attempts} times while it was read; the import is "
                    "retried automatically once the export stops rewriting it."
                ) from changed
        except ObjectReadError as error:
            failure = reading_failure(error, bucket, error.location.partition(f"{bucket}/")[2] or unit.name)
            if not failure.transient or attempt == retry.attempts:
                raise failure from error
            log.info("reading %s failed (%s); attempt %d of %d", unit.name, error, attempt, retry.attempts)
            retry.sleep(retry.base_seconds * 2 ** (attempt - 1))
    if staged is None and reason is None:
        return
    try:
        with sessions.begin() as session:
            if reason is not None:
                connector.quarantine(session, unit, bad_key, reason, summary.import_id, now())
            elif staged is not None:
                connector.load(session, unit, staged, summary.import_id, now())
    except IntegrityError:
        if staged is not None:
            staged.discard()
        with sessions.begin() as session:
            if connector.already_loaded(session, unit):
                summary.files_unchanged += len(unit.objects)
                return
        raise
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if reason is not None:
        log.warning("quarantined %s: %s", bad_key, reason)
        summary.files_quarantined += 1
        summary.unchanged_units.append(unit.name)
        return
    if staged is not None:
        staged.publish()
        summary.loaded_units.append(connector.loaded_as(unit, staged))
    summary.files_imported += len(unit.objects)


def _refreshed(store: ObjectStore, unit: Unit) -> Unit | None:
    """The unit with its objects' current versions, or None when one of them is gone."""
    current = []
    for obj in unit.objects:
        info = store.stat(obj.key)
        if info is None:
            return None
        current.append(info)
    return replace(unit, objects=tuple(current))


def _heartbeat(sessions: sessionmaker[Session], import_id: int, at: datetime) -> None:
    with sessions.begin() as session:
        session.execute(sa.update(ImportRecord).where(ImportRecord.id == import_id).values(heartbeat_at=at))


def reap_stale_imports(session: Session, now: datetime, stale_after: timedelta) -> int:
    """Mark FAILED the RUNNING imports with no sign of life for ``stale_after``: their process was killed
    (what they had not committed was never visible). Returns how many."""
    cutoff = now - stale_after
    result = session.execute(
        sa.update(ImportRecord)
        .where(
            ImportRecord.status == ImportStatus.RUNNING.value,
            sa.func.coalesce(ImportRecord.heartbeat_at, ImportRecord.started_at) < cutoff,
        )
        .values(
            status=ImportStatus.FAILED.value,
            finished_at=now,
            error="Interrupted: the process running this import stopped; nothing it had not finished is kept, "
            "and the next import reads those files again.",
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _finish(
    sessions: sessionmaker[Session],
    connector: Connector[Any],
    summary: ImportSummary,
    objects: Sequence[ObjectInfo],
    location: str,
    now: Callable[[], datetime],
) -> ImportSummary:
    finished = now()
    with sessions.begin() as session:
        if summary.error is not None:
            summary.status = ImportStatus.FAILED
            summary.datasource_status = DatasourceStatus.ERROR
            summary.status_message = f"Import failed: {summary.error}"
        else:
            summary.status = ImportStatus.PARTIAL if summary.files_quarantined else ImportStatus.SUCCEEDED
            summary.quarantined = tuple(still_quarantined(session, connector, objects))
            if summary.quarantined:
                summary.datasource_status = DatasourceStatus.WARNING
                summary.status_message = quarantine_message(summary.quarantined)
            else:
                summary.datasource_status = DatasourceStatus.OK
                summary.status_message = connector.describe(summary, location)
        session.execute(
            sa.update(ImportRecord)
            .where(ImportRecord.id == summary.import_id)
            .values(
                status=summary.status.value,
                finished_at=finished,
                heartbeat_at=finished,
                files_seen=summary.files_seen,
                files_imported=summary.files_imported,
                files_unchanged=summary.files_unchanged,
                files_quarantined=summary.files_quarantined,
                error=summary.error,
            )
        )
        model = connector.status_model()
        session.execute(
            sa.update(model)
            .where(model.id == connector.datasource_id)
            # Status is the import's news, not an edit of the datasource: updated_at stays.
            .values(
                status=summary.datasource_status.value,
                status_message=summary.status_message,
                last_import_at=finished,
                updated_at=model.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
    return summary


def still_quarantined(
    session: Session, connector: Connector[Any], objects: Sequence[ObjectInfo]
) -> list[QuarantinedFile]:
    """The listed objects whose current version (key + ETag) is recorded as quarantined, in listing order. A file
    fixed by a re-send, or deleted, no longer counts; its history stays."""
    model = connector.file_model()
    recorded = session.execute(
        sa.select(model.key, model.etag, model.reason).where(
            model.datasource_id == connector.datasource_id, model.status == FileStatus.QUARANTINED.value
        )
    )
    reasons = {(key, etag): reason for key, etag, reason in recorded}
    return [QuarantinedFile(o.key, reasons[(o.key, o.etag)] or "") for o in objects if (o.key, o.etag) in reasons]


def quarantine_message(quarantined: Sequence[QuarantinedFile]) -> str:
    count = len(quarantined)
    files, their = ("1 file", "its") if count == 1 else (f"{count} files", "their")
    lines = [
        f"{files} quarantined: {their} rows are not imported. Fix each file and upload it again "
        "(the same key is fine)."
    ]
    lines += [f"- {q.key}: {q.reason}" for q in quarantined[:MAX_FILES_IN_MESSAGE]]
    if count > MAX_FILES_IN_MESSAGE:
        lines.append(f"- and {count - MAX_FILES_IN_MESSAGE} more")
    return "\n".join(lines)


def record_failure(
    sessions: sessionmaker[Session],
    connector: Connector[Any],
    failure: ImportFailed,
    *,
    trigger: str,
    owner: str,
    run_id: int | None,
    now: datetime,
) -> int:
    """Record an import that failed before it could start (the role could not be assumed)."""
    model = connector.status_model()
    with sessions.begin() as session:
        record = ImportRecord(
            trigger=trigger,
            run_id=run_id,
            owner=owner,
            status=ImportStatus.FAILED.value,
            started_at=now,
            finished_at=now,
            error=failure.message,
            **{connector.history_column: connector.datasource_id},
        )
        session.add(record)
        session.execute(
            sa.update(model)
            .where(model.id == connector.datasource_id)
            .values(
                status=DatasourceStatus.ERROR.value,
                status_message=f"Import failed: {failure.message}",
                last_import_at=now,
                updated_at=model.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
        session.flush()
        return record.id


def _as_failure(error: BaseException) -> ImportFailed | None:
    """The import failure ``error`` amounts to, or None when it is unexpected (a bug)."""
    if isinstance(error, ImportFailed):
        return error
    if isinstance(error, (OperationalError, IntegrityError)):
        cause = type(error.orig or error).__name__
        return TransientImportError(f"The database refused a write ({cause}); the import is retried automatically.")
    return None


__all__ = [
    "Connector",
    "DatasourceStatus",
    "FileStatus",
    "ImportStatus",
    "ImportSummary",
    "QuarantinedFile",
    "RetryPolicy",
    "Staged",
    "TerminalImportError",
    "Trigger",
    "Unit",
    "quarantine_message",
    "reap_stale_imports",
    "record_failure",
    "run_import",
]
