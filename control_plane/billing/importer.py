"""Importing a CUR 2.0 export: every billing month whose files changed is re-read whole and replaces that
month's partition; months whose files did not change are left alone.

AWS restates a month by re-delivering all of its files (the export's "overwrite" delivery), so the set of
(key, ETag) pairs under `BILLING_PERIOD=YYYY-MM/` identifies a month's version. A month whose files were
all removed keeps the data it had (a deleted export is not a zero bill). A file that is not a readable CUR
file is quarantined with its reason, and its month is kept as it was.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.billing.cur import (
    BILLING_PERIOD_IN_KEY,
    NotACurFile,
    billing_period_of,
    missing_required,
    normalize,
)
from control_plane.billing.store import CostStore
from control_plane.imports.errors import ImportFailed
from control_plane.storage import ObjectInfo, ObjectStore
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, utcnow

log = logging.getLogger(__name__)


@dataclass
class BillingImportSummary:
    datasource_id: str
    status: str = "SUCCEEDED"
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


def fingerprint(objects: list[ObjectInfo]) -> str:
    return "\n".join(sorted(f"{o.key}@{o.etag}" for o in objects))


def in_range(billing_period: str, start: str | None, end: str | None) -> bool:
    """Whether the month overlaps [start_date, end_date] (`YYYY-MM-DD`, either may be unset)."""
    return (start is None or billing_period >= start[:7]) and (end is None or billing_period <= end[:7])


def import_billing(session: Session, datasource: BillingDatasource, store: ObjectStore, costs: CostStore) -> BillingImportSummary:
    """Bring the datasource's partitions up to date with the export under its prefix."""
    summary = BillingImportSummary(datasource.id)
    objects = store.list_parquet()
    summary.files_seen = len(objects)
    known = {f.key: f for f in session.scalars(sa.select(BillingFile).where(BillingFile.datasource_id == datasource.id))}
    held = {p.billing_period: p for p in session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == datasource.id))}

    by_month: dict[str, list[ObjectInfo]] = defaultdict(list)
    tables: dict[str, pa.Table] = {}
    for info in objects:
        month = _month_from_key(info.key) or _known_month(known.get(info.key), info)
        if month is None:  # no BILLING_PERIOD= folder: read the file to learn its month
            table = _read(store, info, summary, session, datasource, known)
            if table is None:
                continue
            try:
                month = billing_period_of(info.key, table)
            except NotACurFile as exc:
                _quarantine(session, datasource, known, info, None, str(exc), summary)
                continue
            tables[info.key] = table
        by_month[month].append(info)

    for month in sorted(by_month):
        files = by_month[month]
        if not in_range(month, datasource.start_date, datasource.end_date):
            continue
        previous = held.get(month)
        if previous is not None and previous.fingerprint == fingerprint(files):
            summary.months_unchanged.append(month)
            continue
        month_tables = []
        for info in files:
            table = tables.get(info.key)
            if table is None:
                table = _read(store, info, summary, session, datasource, known)
            if table is None:
                break
            month_tables.append(table)
        if len(month_tables) != len(files):
            summary.months_unchanged.append(month)
            continue
        _replace_month(session, datasource, month, files, month_tables, previous, costs, known, summary)
    for month in sorted(set(held) - set(by_month)):
        summary.months_unchanged.append(month)
    summary.months_unchanged.sort()
    if summary.quarantined:
        summary.status = "PARTIAL"
        listed = "; ".join(f"{key}: {reason}" for key, reason in summary.quarantined)
        summary.message = (
            f"{len(summary.quarantined)} file(s) quarantined, their months kept as they were "
            f"(fix the export and import again): {listed}"
        )
    return summary


def _month_from_key(key: str) -> str | None:
    match = BILLING_PERIOD_IN_KEY.search(key)
    return match.group(1) if match else None


def _known_month(record: BillingFile | None, info: ObjectInfo) -> str | None:
    if record is not None and record.etag == info.etag and record.status == "IMPORTED":
        return record.billing_period
    return None


def _read(store: ObjectStore, info: ObjectInfo, summary, session, datasource, known) -> pa.Table | None:
    """The whole file, or None after quarantining it (not Parquet, or not a CUR file)."""
    try:
        with store.open(info.key) as handle:
            table = pq.read_table(handle)
    except ImportFailed:
        raise
    except (pa.ArrowException, OSError) as exc:
        reason = f"not a readable Parquet file ({type(exc).__name__}: {exc})"
        _quarantine(session, datasource, known, info, _month_from_key(info.key), reason, summary)
        return None
    missing = missing_required(table.schema)
    if missing:
        _quarantine(
            session, datasource, known, info, _month_from_key(info.key), f"not a CUR 2.0 file: missing column(s) {', '.join(missing)}", summary
        )
        return None
    return table


def _quarantine(session, datasource, known, info: ObjectInfo, month: str | None, reason: str, summary) -> None:
    summary.quarantined.append((info.key, reason))
    _record_file(session, datasource, known, info, month, "QUARANTINED", reason)


def _record_file(session, datasource, known, info: ObjectInfo, month: str | None, status: str, reason: str | None) -> None:
    record = known.get(info.key)
    if record is None:
        record = BillingFile(datasource_id=datasource.id, key=info.key)
        session.add(record)
        known[info.key] = record
    record.etag, record.size, record.last_modified = info.etag, info.size, info.last_modified
    record.billing_period, record.status, record.reason, record.seen_at = month, status, reason, utcnow()


def _replace_month(session, datasource, month, files, tables, previous, costs: CostStore, known, summary) -> None:
    """Normalize each of the month's files (in key order), then write them as the month's one partition. A
    file that cannot be normalized is quarantined on its own and the month is kept as it was."""
    parts, refused = [], False
    for info, table in sorted(zip(files, tables, strict=True), key=lambda pair: pair[0].key):
        try:
            parts.append(normalize(table, datasource_id=datasource.id, billing_period=month, partition_id=0))
        except (NotACurFile, pa.ArrowException) as exc:
            _quarantine(session, datasource, known, info, month, f"not a usable CUR 2.0 file: {exc}", summary)
            refused = True
    if refused:
        summary.months_unchanged.append(month)
        return
    normalized = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if previous is not None:
        session.delete(previous)
        session.flush()
    total = pc.sum(normalized.column("BilledCost")).as_py()
    period = BillingPeriod(
        datasource_id=datasource.id,
        billing_period=month,
        fingerprint=fingerprint(files),
        rows=normalized.num_rows,
        billed_cost=f"{total or 0:f}",
    )
    session.add(period)
    session.flush()  # the new partition id: its rows get fresh x_RowIds
    row_ids = pa.array((np.int64(period.id) << 32) + np.arange(normalized.num_rows, dtype=np.int64), pa.int64())
    normalized = normalized.set_column(normalized.schema.get_field_index("x_RowId"), "x_RowId", row_ids)
    costs.replace_month(datasource.tenant_id, datasource.id, month, normalized)
    for info in files:
        _record_file(session, datasource, known, info, month, "IMPORTED", None)
    summary.months_replaced.append(month)
    log.info("billing datasource %s: %s replaced (%d rows)", datasource.id, month, normalized.num_rows)
