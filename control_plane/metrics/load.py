"""Writing one file's aggregated values, idempotently, inside the caller's transaction.

Every (datasource, metric, day) has one owner file: the last received, ordered by (S3 LastModified,
key). For each metric and each day present in the file:

1. Read the day's owner. The file takes the day iff (its LastModified, its key) >= the owner's, so a
   re-sent file replaces the day, a late older file does not, and a day nobody owns is always taken.
2. For the days taken: delete that metric's values of the day, bulk-insert the file's, and make the
   file the owner. Days absent from the file are left as they are.
3. Record the file (key + ETag) as LOADED, so an unchanged file is never read twice.

A quarantined file is recorded with its reason, and nothing of it is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.imports.pipeline import FileStatus
from control_plane.models import MetricDay, MetricFile, MetricValue
from control_plane.storage import ObjectInfo

_IN_CHUNK = 500
"""Days per IN (...) list: far below SQLite's bound-parameter limit."""


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; naive values (SQLite hands back what it stored, UTC) are UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def load_file(
    session: Session,
    datasource_id: str,
    obj: ObjectInfo,
    tables: dict[str, pa.Table],
    *,
    import_id: int | None,
    now: datetime,
) -> MetricFile:
    """Load ``tables`` (``read_metrics`` output for ``obj``) and record the file as LOADED.

    The caller owns the transaction: commit once this returns, roll back if it raises."""
    received = (as_utc(obj.last_modified), obj.key)
    for metric_name, table in tables.items():
        if table.num_rows == 0:
            continue
        days = pc.unique(table.column(0)).to_pylist()
        owners = _owners(session, datasource_id, metric_name, days)
        taken = [day for day in days if day not in owners or received >= owners[day]]
        if not taken:
            continue
        _delete_values(session, datasource_id, metric_name, taken)
        if len(taken) < len(days):
            table = table.filter(pc.is_in(table.column(0), value_set=pa.array(taken, pa.date32())))
        iso_days = session.get_bind().dialect.name == "sqlite"
        insert_values(session, _value_rows(datasource_id, metric_name, table, iso_days=iso_days))
        _set_owner(session, datasource_id, metric_name, taken, owners, obj)
    # Every file row feeds each metric once, so any metric's row count is the file's.
    rows = max((_total(table.column(table.num_columns - 1)) for table in tables.values()), default=0)
    return _record(session, datasource_id, obj, FileStatus.LOADED, None, rows, import_id, now)


def quarantine_file(
    session: Session,
    datasource_id: str,
    obj: ObjectInfo,
    reason: str,
    *,
    import_id: int | None,
    now: datetime,
) -> MetricFile:
    """Record ``obj`` as QUARANTINED with ``reason``; no value is touched."""
    return _record(session, datasource_id, obj, FileStatus.QUARANTINED, reason, 0, import_id, now)


def forget_files(session: Session, datasource_id: str) -> int:
    """Forget which files were imported (their history included), so the next import reads every listed
    file again; returns how many records went. For after the metric definitions changed: a new metric
    gets its past days, a fixed column un-quarantines a file. Values stay until their day is re-read,
    and the owner rule makes the re-read converge to what a first import would give."""
    result = session.execute(
        sa.delete(MetricFile)
        .where(MetricFile.datasource_id == datasource_id)
        .execution_options(synchronize_session=False)
    )
    return cast(sa.CursorResult, result).rowcount or 0


def delete_metrics(session: Session, datasource_id: str, metric_names: Iterable[str]) -> None:
    """Delete the values and day owners of metrics that are no longer defined."""
    names = list(metric_names)
    for model in (MetricValue, MetricDay):
        for chunk in _chunks(names):
            session.execute(
                sa.delete(model)
                .where(model.datasource_id == datasource_id, model.metric_name.in_(chunk))
                .execution_options(synchronize_session=False)
            )


_VALUE_COLUMNS = ("datasource_id", "metric_name", "day", "dimensions", "value", "row_count")


def insert_values(session: Session, rows: Sequence[tuple]) -> None:
    """One bulk load of metric values, rows as tuples in ``_VALUE_COLUMNS`` order with ``dimensions`` already
    JSON text and ``day`` a date or its ISO text. Straight on the driver, skipping per-row bind processing (the
    table is days x dimension combinations, tens of thousands of rows for a year): PostgreSQL through ``COPY``
    (one stream, no statement per row), SQLite through one executemany of a prepared INSERT."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        columns = ", ".join(_VALUE_COLUMNS)
        driver: Any = connection.connection.driver_connection  # the psycopg connection of this transaction
        with driver.cursor() as cursor, cursor.copy(f"COPY {MetricValue.__tablename__} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    dimensions = f"CAST({marker} AS JSON)" if dialect.name == "postgresql" else marker
    markers = [marker, marker, marker, dimensions, marker, marker]
    statement = (
        f"INSERT INTO {MetricValue.__tablename__} ({', '.join(_VALUE_COLUMNS)}) VALUES ({', '.join(markers)})"
    )
    if dialect.name == "sqlite" and isinstance(rows[0][2], date):  # SQLAlchemy stores dates in SQLite as ISO text
        rows = [(d, m, day.isoformat(), dims, v, n) for d, m, day, dims, v, n in rows]
    connection.exec_driver_sql(statement, list(rows))


def _value_rows(datasource_id: str, metric_name: str, table: pa.Table, *, iso_days: bool) -> list[tuple]:
    """``table`` is already aggregated: one row per (day, dimension values), not one per file row. The
    dimensions' JSON is built once per distinct combination, then taken by index; days come as ISO text when
    ``iso_days`` (what SQLite stores), formatted by Arrow rather than per row."""
    names = table.column_names[1:-2]
    width = table.num_columns
    day_column = table.column(0)
    days = (day_column.cast(pa.string()) if iso_days else day_column).to_pylist()
    values = table.column(width - 2).to_pylist()
    counts = table.column(width - 1).to_pylist()
    if names:
        combinations = pa.Table.from_arrays([table.column(i) for i in range(1, width - 2)], names=list(names))
        codes = _combination_codes(combinations)
        if codes is None:  # too many distinct values to number exactly: one dumps per row
            dimensions = [json.dumps(row) for row in combinations.to_pylist()]
        else:
            distinct = pc.unique(codes)
            first = pc.index_in(distinct, codes)
            texts = pa.array([json.dumps(row) for row in combinations.take(first).to_pylist()], pa.string())
            dimensions = texts.take(pc.index_in(codes, distinct)).to_pylist()
    else:
        dimensions = ["{}"] * len(days)
    return list(
        zip(
            [datasource_id] * len(days), [metric_name] * len(days), days, dimensions, values, counts, strict=True
        )
    )


def _combination_codes(combinations: pa.Table) -> pa.Array | None:
    """One exact int64 code per row for its combination of dimension values (null included), or None
    when the product of the columns' cardinalities would not fit in int64."""
    codes = pa.array([0] * combinations.num_rows, pa.int64())
    for column in combinations.columns:
        encoded = pc.dictionary_encode(column).combine_chunks()
        size = len(encoded.dictionary) + 1  # the last code is null
        indices = pc.fill_null(pc.cast(encoded.indices, pa.int64()), size - 1)
        try:
            codes = pc.add_checked(pc.multiply_checked(codes, size), indices)
        except pa.ArrowInvalid:
            return None
    return codes


def _owners(
    session: Session, datasource_id: str, metric_name: str, days: Sequence[date]
) -> dict[date, tuple[datetime, str]]:
    owners = {}
    for chunk in _chunks(days):
        result = session.execute(
            sa.select(MetricDay.day, MetricDay.file_last_modified, MetricDay.file_key).where(
                MetricDay.datasource_id == datasource_id,
                MetricDay.metric_name == metric_name,
                MetricDay.day.in_(chunk),
            )
        )
        owners.update({day: (as_utc(last_modified), key) for day, last_modified, key in result})
    return owners


def _delete_values(session: Session, datasource_id: str, metric_name: str, days: Sequence[date]) -> None:
    for chunk in _chunks(days):
        session.execute(
            sa.delete(MetricValue)
            .where(
                MetricValue.datasource_id == datasource_id,
                MetricValue.metric_name == metric_name,
                MetricValue.day.in_(chunk),
            )
            .execution_options(synchronize_session=False)
        )


def _set_owner(
    session: Session,
    datasource_id: str,
    metric_name: str,
    days: Sequence[date],
    owners: dict[date, Any],
    obj: ObjectInfo,
) -> None:
    owner = {"file_last_modified": as_utc(obj.last_modified), "file_key": obj.key}
    owned = [day for day in days if day in owners]
    for chunk in _chunks(owned):
        session.execute(
            sa.update(MetricDay)
            .where(
                MetricDay.datasource_id == datasource_id,
                MetricDay.metric_name == metric_name,
                MetricDay.day.in_(chunk),
            )
            .values(**owner)
            .execution_options(synchronize_session=False)
        )
    new = [
        {"datasource_id": datasource_id, "metric_name": metric_name, "day": day, **owner}
        for day in days
        if day not in owners
    ]
    if new:
        session.execute(sa.insert(MetricDay), new)


def _record(
    session: Session,
    datasource_id: str,
    obj: ObjectInfo,
    status: FileStatus,
    reason: str | None,
    rows: int,
    import_id: int | None,
    now: datetime,
) -> MetricFile:
    record = MetricFile(
        datasource_id=datasource_id,
        key=obj.key,
        etag=obj.etag,
        size=obj.size,
        last_modified=as_utc(obj.last_modified),
        status=status.value,
        reason=reason,
        rows=rows,
        import_id=import_id,
        imported_at=now,
    )
    session.add(record)
    session.flush()
    return record


def _total(counts: pa.ChunkedArray) -> int:
    return int(pc.sum(counts).as_py() or 0)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]
