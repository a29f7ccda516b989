"""The connector of the import pipeline for every billing source that is not a folder of CUR files (BigQuery,
Azure exports, the AI providers' APIs): it asks the source's reader what changed, reads the changed days, and
replaces those days — and only those — in their month's partition.

A month is the unit, as for CUR: its new partition holds the rows the reader gave for the days read, plus the
month's previous rows for every other day (streamed from the old partition through the data store), written
under a new key and made current by the transaction recording it (``StagedPartition``, ``billing.store``).
What the month looked like is kept as its fingerprint, one `YYYY-MM-DD@version` line per day held:

- a reader that can date its changes (``versions``: BigQuery's latest `export_time` per day, Azure's export
  runs) gets only the days whose version changed read again: late rows restate the days they touch;
- a reader that cannot (the HTTP APIs) gets a trailing window re-read at every import
  (``api_refresh_days``), and, the first time, everything since `start_date` (or ``api_backfill_days``); days
  before the window are kept as imported — Cursor keeps only a rolling window, so they must be.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.billing.importer import BillingConnector, StagedPartition, existing
from control_plane.billing.kinds import SourceKind, first_day, kind_of
from control_plane.billing.schema import SOURCE_SCHEMA, TIMESTAMP, with_row_identity
from control_plane.billing.sources import SourceReader
from control_plane.billing.sources.common import day_start, each_day
from control_plane.billing.store import CostStore, partition_of
from control_plane.datastore import open_store
from control_plane.imports import guards
from control_plane.imports.errors import ImportFailed, Quarantine, TerminalImportError
from control_plane.imports.pipeline import (
    STALE_AFTER,
    FileStatus,
    ImportSummary,
    RetryPolicy,
    Unit,
    record_failure,
    run_import,
)
from control_plane.models import BillingPeriod, utcnow
from control_plane.secrets import secret_box
from control_plane.storage import ObjectInfo, ObjectStore

if TYPE_CHECKING:
    from control_plane.services import Services

log = logging.getLogger(__name__)

CARRY_BATCH_ROWS = 64 * 1024

DayVersions = dict[date, str]


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_bounds(month: str) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return first, (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def fingerprint_of(days: DayVersions) -> str:
    return "\n".join(f"{day.isoformat()}@{version}" for day, version in sorted(days.items()))


def days_of(fingerprint: str) -> DayVersions:
    days: DayVersions = {}
    for line in fingerprint.splitlines():
        day, _, version = line.partition("@")
        try:
            days[date.fromisoformat(day)] = version
        except ValueError:
            continue  # a CUR-style line: not a day
    return days


@dataclass
class Window:
    """The days an import looks at: [start, end)."""

    start: date
    end: date

    def clip(self, first: date, last: date) -> tuple[date, date]:
        return max(first, self.start), min(last, self.end)


@dataclass
class FeedConnector(BillingConnector):
    """``BillingConnector`` for a source read through a ``SourceReader``; see the module docstring."""

    reader: SourceReader | None = None
    kind: SourceKind | None = None
    now: Callable[[], datetime] = utcnow
    refresh_days: int = 7
    backfill_days: int = 90
    window: Window = field(default_factory=lambda: Window(date.min, date.min))
    versioned: bool = False
    listed: dict[str, DayVersions] = field(default_factory=dict)
    """Per month: the versions of the days listed (unversioned sources: the window's days, all new)."""
    held: dict[str, DayVersions] = field(default_factory=dict)
    held_partitions: dict[str, int] = field(default_factory=dict)
    """Per month: the committed partition id, read for the days carried over."""

    # -- the pipeline's store: one object per month with something to read ----------------------------------

    def list_parquet(self) -> list[ObjectInfo]:
        assert self.reader is not None
        listed_at = self.now()
        try:
            versions = self.reader.versions(self.window.start, self.window.end)
        except Quarantine as broken:  # e.g. an export's manifest that cannot be read: nothing can be planned
            where = f" ({broken.key})" if broken.key else ""
            raise TerminalImportError(f"{self._location()}{where}: {broken.reason}") from None
        self.versioned = versions is not None
        if versions is None:
            self.window = self._refresh_window()
            read = f"read {listed_at.isoformat(timespec='seconds')}"
            versions = {day: read for day in each_day(self.window.start, self.window.end)}
        by_month: dict[str, DayVersions] = {}
        for day, version in versions.items():
            if self.window.start <= day < self.window.end:
                by_month.setdefault(month_of(day), {})[day] = version
        for month, days in self.held.items():  # a month whose days all vanished from the source is read too
            first, last = self.window.clip(*month_bounds(month))
            if first < last and any(first <= d < last for d in days):
                by_month.setdefault(month, {})
        self.listed = by_month
        return [self._object(month, days, listed_at) for month, days in sorted(by_month.items())]

    def stat(self, key: str) -> ObjectInfo | None:
        days = self.listed.get(key)
        return None if days is None else self._object(key, days, self.now())

    def open(self, key: str, etag: str | None = None) -> pa.NativeFile:
        raise TypeError("a billing source is read through its reader, not as objects")

    @staticmethod
    def _object(month: str, days: DayVersions, at: datetime) -> ObjectInfo:
        digest = hashlib.sha256(fingerprint_of(days).encode()).hexdigest()
        return ObjectInfo(key=month, etag=digest, size=0, last_modified=at)

    def _refresh_window(self) -> Window:
        """For a source that cannot date its changes: the trailing ``refresh_days`` since the last import (all
        since the start the first time)."""
        held_days = [day for days in self.held.values() for day in days]
        if not held_days:
            return self.window
        last = max(held_days)
        return Window(max(self.window.start, last - timedelta(days=self.refresh_days)), self.window.end)

    # -- the connector ------------------------------------------------------------------------------------

    def prepare(self, session: Session) -> tuple[str, str]:
        datasource = existing(session, self.datasource_id)
        self.tenant_id = datasource.tenant_id
        periods = session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == self.datasource_id))
        for period in periods:
            self.held_partitions[period.billing_period] = partition_of(period)
            self.held[period.billing_period] = days_of(period.fingerprint)
        self.costs.sweep(self.tenant_id, self.datasource_id, self.held_partitions)
        today = self.now().astimezone(UTC).date()
        start = first_day(datasource.start_date) or today - timedelta(days=self.backfill_days)
        end = first_day(datasource.end_date)
        self.window = Window(start, min(today, end) + timedelta(days=1) if end else today + timedelta(days=1))
        return self._location(), ""

    def _location(self) -> str:
        return self.kind.location if self.kind is not None else "the source"

    def plan(self, session: Session, objects: Sequence[ObjectInfo]) -> tuple[list[Unit], int]:
        units, unchanged = [], 0
        for obj in objects:
            if self._days_to_read(obj.key):
                units.append(Unit(obj.key, (obj,)))
            else:
                self.months_unchanged.append(obj.key)
                unchanged += 1
        return units, unchanged

    def _days_to_read(self, month: str) -> list[date]:
        """The month's days in the window whose version differs from what is held (all, unversioned)."""
        first, last = self.window.clip(*month_bounds(month))
        listed, held = self.listed.get(month, {}), self.held.get(month, {})
        return [day for day in each_day(first, last) if listed.get(day) != held.get(day) or not self.versioned]

    def fetch(self, unit: Unit, store: ObjectStore) -> StagedPartition:
        """The month's new partition: the reader's rows for the span of days to read, and the previous rows of
        every other day."""
        assert self.reader is not None
        month = unit.name
        changed = self._days_to_read(month)
        span = Window(min(changed), max(changed) + timedelta(days=1))
        partition_id = self._new_partition_id()
        staged = self._stage(month, partition_id, unit, unit.objects[0].key)
        kept = {d: v for d, v in self.held.get(month, {}).items() if not span.start <= d < span.end}
        fresh = {d: v for d, v in self.listed.get(month, {}).items() if span.start <= d < span.end}
        staged.fingerprint = fingerprint_of({**kept, **fresh})
        try:
            for table in self._carried(month, span):
                staged.write(with_row_identity(table, **self._identity(month, partition_id, staged.rows)))
            for table in self.reader.read(span.start, span.end):
                table = self._checked(table, month, span)
                if table.num_rows:
                    staged.write(with_row_identity(table, **self._identity(month, partition_id, staged.rows)))
            staged.close()
            return staged
        except BaseException:
            staged.discard()
            raise

    def _identity(self, month: str, partition_id: int, first_row: int) -> dict:
        return {
            "datasource_id": self.datasource_id,
            "billing_period": month,
            "partition_id": partition_id,
            "first_row": first_row,
        }

    def _carried(self, month: str, span: Window) -> Iterator[pa.Table]:
        """The current partition's rows outside ``span``, batch by batch (SOURCE_SCHEMA)."""
        partition_id = self.held_partitions.get(month)
        if partition_id is None:
            return
        key = self.costs.current_key(self.tenant_id, self.datasource_id, month, partition_id)
        if key is None:
            return
        start, end = (pa.scalar(day_start(d), TIMESTAMP) for d in (span.start, span.end))
        for batch in self.costs.batches(key, SOURCE_SCHEMA.names, CARRY_BATCH_ROWS):
            table = pa.Table.from_batches([batch]).cast(SOURCE_SCHEMA)
            starts = table.column("ChargePeriodStart")
            outside = pc.or_(pc.less(starts, start), pc.greater_equal(starts, end))
            kept = table.filter(outside)
            if kept.num_rows:
                yield kept

    def _checked(self, table: pa.Table, month: str, span: Window) -> pa.Table:
        """The reader's rows, in the cost table's types; rows outside the span asked for are dropped (a reader
        answers for the days asked, no others), and rows no bill can hold quarantine the month."""
        table = table.select(SOURCE_SCHEMA.names).cast(SOURCE_SCHEMA)
        starts = table.column("ChargePeriodStart")
        if starts.null_count:
            raise Quarantine(f"{starts.null_count} row(s) from {self._location()} without a usage date.", key=month)
        missing = table.column("BilledCost").null_count
        if missing:
            raise Quarantine(f"{missing} row(s) from {self._location()} without a cost.", key=month)
        outside, first = guards.days_out_of_range(starts.combine_chunks())
        if outside:
            raise Quarantine(
                f"{outside} row(s) from {self._location()} dated outside {guards.FIRST_DAY}–{guards.LAST_DAY} "
                f"(e.g. {first}).",
                key=month,
            )
        inside = pc.and_(
            pc.greater_equal(starts, pa.scalar(day_start(span.start), TIMESTAMP)),
            pc.less(starts, pa.scalar(day_start(span.end), TIMESTAMP)),
        )
        return table.filter(inside)

    def quarantine(self, session: Session, unit: Unit, key: str, reason: str, import_id: int, now: datetime) -> None:
        self._record(session, unit.objects[0], unit.name, FileStatus.QUARANTINED, reason, now)

    def describe(self, summary: ImportSummary, location: str) -> str | None:
        how = "the days whose data changed" if self.versioned else f"the days from {self.window.start}"
        return (
            f"{len(summary.loaded_units)} month(s) updated from {self._location()} ({how}), "
            f"{len(set(self.months_unchanged))} unchanged."
        )


def execute_import(
    services: Services, datasource_id: str, *, trigger: str = "SCHEDULED", run_id: int | None = None
) -> ImportSummary:
    """The import step of the ``import_billing`` job for a non-AWS datasource. A reader that cannot be built
    (a credential that no longer decrypts, a tenant without a Google identity) is recorded as a FAILED import,
    then raised."""
    settings = services.settings
    connector = FeedConnector(
        services.sessions,
        datasource_id,
        CostStore(open_store(settings)),
        refresh_days=settings.api_refresh_days,
        backfill_days=settings.api_backfill_days,
    )
    try:
        with services.sessions() as session:
            datasource = existing(session, datasource_id)
            session.expunge(datasource)
        kind = kind_of(datasource.kind)
        secret = secret_box(settings).open(datasource.secret, kind.secret) if kind.secret and datasource.secret else ""
        connector.kind = kind
        connector.reader = kind.reader(services, datasource, secret)
    except ImportFailed as failure:
        record_failure(
            services.sessions, connector, failure, trigger=trigger, owner=services.owner, run_id=run_id, now=utcnow()
        )
        raise
    return run_import(
        services.sessions,
        connector,
        connector,  # the connector lists its own months
        trigger=trigger,
        owner=services.owner,
        now=utcnow,
        run_id=run_id,
        stale_after=timedelta(seconds=settings.lease_seconds),
    )


def import_source(
    sessions: sessionmaker[Session],
    datasource_id: str,
    reader: SourceReader,
    costs: CostStore,
    *,
    now: Callable[[], datetime] = utcnow,
    refresh_days: int = 7,
    backfill_days: int = 90,
    trigger: str = "MANUAL",
    owner: str = "local",
    stale_after: timedelta = STALE_AFTER,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable
) -> ImportSummary:
    """Run the pipeline with ``reader`` (tests, tools: no secret to open, no settings)."""
    connector = FeedConnector(
        sessions, datasource_id, costs, reader=reader, now=now, refresh_days=refresh_days, backfill_days=backfill_days
    )
    return run_import(
        sessions, connector, connector, trigger=trigger, owner=owner, now=now, stale_after=stale_after, retry=retry
    )
