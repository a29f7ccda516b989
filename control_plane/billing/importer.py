"""The AWS CUR 2.0 connector of the import pipeline: each billing month whose files changed is one unit, re-read
whole (streamed batch by batch) into a new partition that replaces the month's; months whose files did not
change are left alone.

AWS restates a month by re-delivering all of its files (the export's "overwrite" delivery), so the set of
(key, ETag) pairs under `BILLING_PERIOD=YYYY-MM/` identifies a month's version. A month whose files were all
removed keeps the data it had (a deleted export is not a zero bill). A file that is not a usable CUR file is
quarantined with its reason, and its month is kept as it was.

The new partition is written once, under a key named by a partition id taken beforehand, before the transaction
that points the month at it commits (``billing.store``): readers on any replica see the old month or the new
one. The replaced partition is removed after the commit, the new one after a rollback; what a killed process
leaves is swept at the datasource's next import.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from control_plane.billing.cur import (
    BILLING_PERIOD_IN_KEY,
    NotACurFile,
    billing_period_of,
    missing_required,
    normalize,
)
from control_plane.billing.schema import COST_SCHEMA
from control_plane.billing.store import ROW_GROUP_SIZE, CostStore, partition_of
from control_plane.imports import guards
from control_plane.imports.errors import ObjectReadError, Quarantine, TerminalImportError
from control_plane.imports.pipeline import (
    STALE_AFTER,
    DatasourceModel,
    FileModel,
    FileStatus,
    ImportSummary,
    RetryPolicy,
    Unit,
    run_import,
)
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, utcnow
from control_plane.storage import ObjectInfo, ObjectStore

log = logging.getLogger(__name__)

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
PAUSE_BEFORE_COMMIT = "COSTORY_TEST_ONLY_PAUSE_BEFORE_COMMIT"
"""Test-only failpoint (seconds): a month's load waits this long inside its transaction, after its partition
is written and before the commit, so a test can kill the process there. Never set it in a deployment."""


@dataclass
class BillingImportSummary:
    """What an on-demand billing import answers (``BillingImport``): the pipeline's outcome in months."""

    datasource_id: str
    status: str
    files_seen: int = 0
    months_replaced: list[str] = field(default_factory=list)
    months_unchanged: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    """(key, reason)"""
    dimensions_recomputed: int = 0
    message: str = ""

    @property
    def changed_months(self) -> list[str]:
        """The billing months (`YYYY-MM`) whose partition this import replaced."""
        return list(self.months_replaced)


def in_months(sessions: sessionmaker[Session], datasource_id: str, summary: ImportSummary) -> BillingImportSummary:
    """The pipeline's outcome told in billing months: replaced, and kept as they were."""
    with sessions() as session:
        held = set(
            session.scalars(sa.select(BillingPeriod.billing_period).where(BillingPeriod.datasource_id == datasource_id))
        )
    kept = {m for m in summary.unchanged_units if MONTH.match(m)}
    return BillingImportSummary(
        datasource_id,
        status=summary.status.value,
        files_seen=summary.files_seen,
        months_replaced=sorted(summary.loaded_units),
        months_unchanged=sorted((held | kept) - set(summary.loaded_units)),
        quarantined=[(q.key, q.reason) for q in summary.quarantined],
        dimensions_recomputed=summary.dimensions_recomputed,
        message=summary.status_message or "",
    )


def import_billing(
    sessions: sessionmaker[Session],
    datasource_id: str,
    store: ObjectStore,
    costs: CostStore,
    *,
    owner: str = "local",
    trigger: str = "MANUAL",
    now: Callable[[], datetime] = utcnow,
    stale_after: timedelta = STALE_AFTER,
    retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - immutable
) -> BillingImportSummary:
    """Run the pipeline with this connector against ``store`` (no role to assume: tests, tools)."""
    summary = run_import(
        sessions,
        BillingConnector(sessions, datasource_id, costs),
        store,
        trigger=trigger,
        owner=owner,
        now=now,
        stale_after=stale_after,
        retry=retry,
    )
    return in_months(sessions, datasource_id, summary)


def existing(session: Session, datasource_id: str) -> BillingDatasource:
    """The datasource an import is for; deleted meanwhile is a terminal failure."""
    datasource = session.get(BillingDatasource, datasource_id)
    if datasource is None:
        raise TerminalImportError(f"Billing datasource `{datasource_id}` does not exist (it may have been deleted).")
    return datasource


def fingerprint(objects: Sequence[ObjectInfo]) -> str:
    return "\n".join(sorted(f"{o.key}@{o.etag}" for o in objects))


def in_range(billing_period: str, start: str | None, end: str | None) -> bool:
    """Whether the month overlaps [start_date, end_date] (`YYYY-MM-DD`, either may be unset)."""
    return (start is None or billing_period >= start[:7]) and (end is None or billing_period <= end[:7])


def month_problem(month: str) -> str | None:
    """Why `month` is not a billing month we can hold (None when it is one)."""
    match = MONTH.match(month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        return f"`BILLING_PERIOD={month}` is not a month (YYYY-MM)"
    if not guards.FIRST_DAY.year <= int(match.group(1)) <= guards.LAST_DAY.year:
        return f"`BILLING_PERIOD={month}` is outside {guards.FIRST_DAY.year}–{guards.LAST_DAY.year}"
    return None


@dataclass
class StagedPartition:
    """A month's new partition, written under its own key; nothing points at it until ``load`` commits."""

    costs: CostStore
    key: str
    month: str
    partition_id: int
    files: tuple[ObjectInfo, ...] = ()
    fingerprint: str = ""
    """What the month's source looked like when read: the next import compares it to tell what changed."""
    rows: int = 0
    billed: Decimal = Decimal(0)
    _writing: ExitStack | None = None
    _writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        """Append normalized rows (COST_SCHEMA) to the partition."""
        if self._writer is None:
            self._writing = ExitStack()
            self._writer = self._writing.enter_context(self.costs.store.parquet_writer(self.key, COST_SCHEMA))
        self._writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
        self.rows += table.num_rows
        self.billed += pc.sum(table.column("BilledCost")).as_py() or Decimal(0)

    def close(self) -> None:
        """Finish the object (a month without rows is an empty partition)."""
        if self._writer is None:
            self.write(COST_SCHEMA.empty_table())
        self._finish()

    def publish(self) -> None:
        """Nothing to do: the commit made it current (and removed the replaced partition)."""

    def discard(self) -> None:
        """Nothing will point at the object: remove it (what cannot be removed now, the sweep removes later)."""
        try:
            self._finish()
            self.costs.store.delete(self.key)
        except OSError as error:
            log.warning("could not remove the unused partition %s from %s: %s", self.key, self.costs.store.url, error)

    def _finish(self) -> None:
        if self._writing is not None:
            self._writing.close()
        self._writing = self._writer = None


@dataclass
class BillingConnector:
    sessions: sessionmaker[Session]
    datasource_id: str
    costs: CostStore
    history_column: str = "billing_datasource_id"
    tenant_id: str = ""
    start_date: str | None = None
    end_date: str | None = None
    months_unchanged: list[str] = field(default_factory=list)

    def prepare(self, session: Session) -> tuple[str, str]:
        datasource = existing(session, self.datasource_id)
        self.tenant_id = datasource.tenant_id
        self.start_date, self.end_date = datasource.start_date, datasource.end_date
        periods = session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == self.datasource_id))
        self.costs.sweep(self.tenant_id, self.datasource_id, {p.billing_period: partition_of(p) for p in periods})
        return datasource.bucket_name, datasource.prefix or ""

    def plan(self, session: Session, objects: Sequence[ObjectInfo]) -> tuple[list[Unit], int]:
        """One unit per month whose set of (key, ETag) changed, in month order; a file without a
        `BILLING_PERIOD=` folder whose month is not known yet is a unit of its own (its month is in its data)."""
        records = session.scalars(sa.select(BillingFile).where(BillingFile.datasource_id == self.datasource_id))
        known = {record.key: record for record in records}
        held = {
            p.billing_period: p.fingerprint
            for p in session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == self.datasource_id))
        }
        by_month: dict[str, list[ObjectInfo]] = defaultdict(list)
        unkeyed: list[ObjectInfo] = []
        for obj in objects:
            month = _month_from_key(obj.key)
            record = known.get(obj.key)
            if month is None and record is not None and record.etag == obj.etag and record.billing_period:
                month = record.billing_period
            if month is None:
                unkeyed.append(obj)
            else:
                by_month[month].append(obj)
        units, unchanged = [], 0
        for month in sorted(by_month):
            files = by_month[month]
            if MONTH.match(month) and not in_range(month, self.start_date, self.end_date):
                unchanged += len(files)
                continue
            if held.get(month) == fingerprint(files):
                self.months_unchanged.append(month)
                unchanged += len(files)
                continue
            units.append(Unit(month, tuple(sorted(files, key=lambda o: o.key))))
        units += [Unit(obj.key, (obj,)) for obj in unkeyed]
        self.months_unchanged += sorted(set(held) - set(by_month))
        return units, unchanged

    def fetch(self, unit: Unit, store: ObjectStore) -> StagedPartition:
        """Normalize the month's files (in key order) batch by batch into one staged partition."""
        month = unit.name if MONTH.match(unit.name) else None  # else a file whose month is in its data
        if month is not None and (problem := month_problem(month)) is not None:
            raise Quarantine(f"{problem}. Export it under a valid billing period.", key=unit.objects[0].key)
        partition_id = self._new_partition_id()
        staged: StagedPartition | None = None
        try:
            for obj in unit.objects:
                for table in self._normalized_batches(obj, store, month, partition_id, staged.rows if staged else 0):
                    if staged is None:
                        month = month or str(table.column("x_BillingPeriod")[0])
                        staged = self._stage(month, partition_id, unit, obj.key)
                    staged.write(table)
            if staged is None:  # no rows at all: a month without charges
                month = month or _month_from_key(unit.objects[0].key)
                if month is None:
                    raise Quarantine("The file has no rows and no `BILLING_PERIOD=` folder.", key=unit.objects[0].key)
                staged = self._stage(month, partition_id, unit, unit.objects[0].key)
            staged.close()
            return staged
        except BaseException:
            if staged is not None:
                staged.discard()
            raise

    def _stage(self, month: str, partition_id: int, unit: Unit, key: str) -> StagedPartition:
        if (problem := month_problem(month)) is not None:
            raise Quarantine(f"{problem}.", key=key)
        return StagedPartition(
            self.costs,
            self.costs.key(self.tenant_id, self.datasource_id, month, partition_id),
            month,
            partition_id,
            files=unit.objects,
            fingerprint=fingerprint(unit.objects),
        )

    def _normalized_batches(
        self, obj: ObjectInfo, store: ObjectStore, month: str | None, partition_id: int, offset: int
    ) -> Iterator[pa.Table]:
        """The file's rows as COST_SCHEMA tables, batch by batch, checked (x_RowIds from ``offset``); a problem
        quarantines the file."""
        source = store.open(obj.key, obj.etag)
        try:
            file = guards.open_parquet(source)
            missing = missing_required(file.schema_arrow)
            if missing:
                raise Quarantine(f"Not a CUR 2.0 file: missing column(s) {', '.join(missing)}.", key=obj.key)
            start_type = file.schema_arrow.field("line_item_usage_start_date").type
            if not _is_time(start_type):
                raise Quarantine(
                    f"`line_item_usage_start_date` has type {start_type}; a CUR 2.0 export writes timestamps.",
                    key=obj.key,
                )
            for batch in guards.batches(file, file_size=source.size()):
                cur = pa.Table.from_arrays([guards.undictionary(c) for c in batch.columns], names=batch.schema.names)
                batch_month = month or billing_period_of(obj.key, cur)
                table = normalize(
                    cur, datasource_id=self.datasource_id, billing_period=batch_month, partition_id=partition_id,
                    first_row=offset,
                )
                _check_costs(table, obj.key)
                offset += table.num_rows
                yield table
        except Quarantine as quarantine:
            if quarantine.key is None:
                raise Quarantine(quarantine.reason, key=obj.key) from None
            raise
        except (ObjectReadError, FileNotFoundError):
            raise
        except NotACurFile as error:
            raise Quarantine(f"Not a usable CUR 2.0 file: {error}.", key=obj.key) from None
        except (pa.ArrowException, OSError, ValueError, TypeError, OverflowError) as error:
            detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
            raise Quarantine(f"Not a usable CUR 2.0 file: {detail}.", key=obj.key) from None
        finally:
            source.close()

    def _new_partition_id(self) -> int:
        with self.sessions.begin() as session:
            return self.costs.new_partition_id(session)

    def load(self, session: Session, unit: Unit, staged: StagedPartition, import_id: int, now: datetime) -> None:
        """Point the month at the new partition; the replaced one goes once this transaction commits."""
        previous = session.scalar(
            sa.select(BillingPeriod).where(
                BillingPeriod.datasource_id == self.datasource_id, BillingPeriod.billing_period == staged.month
            )
        )
        replaced = []
        if previous is not None:
            replaced = self.costs.replaced_keys(self.tenant_id, self.datasource_id, previous)
            session.delete(previous)
            session.flush()
        self.costs.switched(session, replaced, staged.key)
        session.add(
            BillingPeriod(
                datasource_id=self.datasource_id,
                billing_period=staged.month,
                partition_id=staged.partition_id,
                fingerprint=staged.fingerprint,
                rows=staged.rows,
                billed_cost=f"{staged.billed:f}",
            )
        )
        for obj in staged.files:
            self._record(session, obj, staged.month, FileStatus.LOADED, None, now)
        if pause := os.environ.get(PAUSE_BEFORE_COMMIT):  # test-only failpoint, see PAUSE_BEFORE_COMMIT
            session.flush()
            time.sleep(float(pause))

    def already_loaded(self, session: Session, unit: Unit) -> bool:
        return False

    def loaded_as(self, unit: Unit, staged: StagedPartition) -> str:
        return staged.month

    def quarantine(self, session: Session, unit: Unit, key: str, reason: str, import_id: int, now: datetime) -> None:
        obj = next((o for o in unit.objects if o.key == key), unit.objects[0])
        month = _month_from_key(obj.key)
        valid_month = month if month and month_problem(month) is None else None
        self._record(session, obj, valid_month, FileStatus.QUARANTINED, reason, now)

    def _record(
        self,
        session: Session,
        obj: ObjectInfo,
        month: str | None,
        status: FileStatus,
        reason: str | None,
        now: datetime,
    ) -> None:
        record = session.scalar(
            sa.select(BillingFile).where(BillingFile.datasource_id == self.datasource_id, BillingFile.key == obj.key)
        )
        if record is None:
            record = BillingFile(datasource_id=self.datasource_id, key=obj.key)
            session.add(record)
        record.etag, record.size, record.last_modified = obj.etag, obj.size, obj.last_modified
        record.billing_period, record.status, record.reason, record.seen_at = month, status.value, reason, now

    def file_model(self) -> FileModel:
        return BillingFile

    def status_model(self) -> DatasourceModel:
        return BillingDatasource

    def describe(self, summary: ImportSummary, location: str) -> str | None:
        return f"{len(summary.loaded_units)} month(s) imported, {len(set(self.months_unchanged))} unchanged."


def _month_from_key(key: str) -> str | None:
    match = BILLING_PERIOD_IN_KEY.search(key)
    return match.group(1) if match else None


def _is_time(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    return (
        pa.types.is_timestamp(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
    )


def _check_costs(table: pa.Table, key: str) -> None:
    """Rows no bill can hold: a missing cost, or a usage date outside the years costs can mean."""
    missing = table.column("BilledCost").null_count
    if missing:
        raise Quarantine(
            f"{missing} row(s) without `line_item_unblended_cost`; every line item has a cost (0 included).", key=key
        )
    starts = table.column("ChargePeriodStart").combine_chunks()
    outside, first = guards.days_out_of_range(starts)
    if outside:
        raise Quarantine(
            f"{outside} row(s) with `line_item_usage_start_date` outside {guards.FIRST_DAY}–{guards.LAST_DAY} "
            f"(e.g. {first}); no usage can be dated there.",
            key=key,
        )
