"""What a Parquet file must satisfy before and while it is read, so one file can never exhaust the server
whatever its metadata claims, and values no bill or usage series can hold are refused with the reason.

Every connector's reader opens files through ``open_parquet`` and checks batches with ``check_batch``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from control_plane.imports.errors import ObjectReadError, Quarantine

MAX_COLUMNS = 2_000
"""A CUR 2.0 export has ~130 columns; a file with more is not an export we can read."""
MAX_ROW_GROUP_BYTES = 512 << 20
"""Uncompressed size a row group may claim; a bigger one is rewritten by the customer with smaller groups."""
MAX_BATCH_BYTES = 256 << 20
"""Decoded bytes one batch may take; text is read dictionary-encoded, so this is reached only by abuse."""
MAX_TEXT_BYTES = 64 << 10
"""Longest text value read (a tag, an id, a dimension value)."""
BATCH_ROWS = 65_536
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
"""Dates outside [FIRST_DAY, LAST_DAY] cannot be usage or charges: such files are quarantined."""


def open_parquet(source: Any) -> pq.ParquetFile:
    """The file's footer, checked (``check_footer``), with text columns read dictionary-encoded. Not Parquet →
    quarantine; a storage failure (``ObjectReadError``) passes through."""
    try:
        file = pq.ParquetFile(source)
    except ObjectReadError:
        raise
    except (pa.ArrowException, OSError) as error:
        raise Quarantine(f"Not a readable Parquet file ({_first_line(error)}). Export it again as Parquet.") from None
    check_footer(file.metadata)
    return with_text_as_dictionary(file, source)


def check_footer(metadata: pq.FileMetaData) -> None:
    """Quarantine a file with more than ``MAX_COLUMNS`` columns or a row group claiming more than
    ``MAX_ROW_GROUP_BYTES`` uncompressed (what a claim understates, ``check_batch`` catches)."""
    if metadata.num_columns > MAX_COLUMNS:
        raise Quarantine(
            f"The file has {metadata.num_columns:,} columns; at most {MAX_COLUMNS:,} are read. Export only the "
            "columns needed."
        )
    for index in range(metadata.num_row_groups):
        claimed = metadata.row_group(index).total_byte_size
        if claimed > MAX_ROW_GROUP_BYTES or claimed < 0:
            raise Quarantine(
                f"Row group {index} claims {claimed:,} bytes uncompressed; at most {MAX_ROW_GROUP_BYTES:,} are read "
                "at once. Write the file with smaller row groups."
            )


def with_text_as_dictionary(file: pq.ParquetFile, source: Any) -> pq.ParquetFile:
    """The same file with its text columns read dictionary-encoded: a long value repeated on every row costs
    its length once, not once per row."""
    text = [f.name for f in file.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    if not text:
        return file
    return pq.ParquetFile(source, read_dictionary=text)


def check_batch(batch: pa.RecordBatch) -> None:
    """Refuse a decoded batch that is larger than a batch can honestly be, or holds oversized text."""
    if batch.nbytes > MAX_BATCH_BYTES:
        raise Quarantine(
            f"A batch of {batch.num_rows:,} rows decodes to {batch.nbytes:,} bytes; at most {MAX_BATCH_BYTES:,} are "
            "read at once. Write the file with fewer, shorter values per row."
        )
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        values = column.dictionary if pa.types.is_dictionary(column.type) else column
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_binary(values.type):
            longest = pc.max(pc.binary_length(values)).as_py() if len(values) else None
            if longest is not None and longest > MAX_TEXT_BYTES:
                raise Quarantine(
                    f"Column `{name}` holds a value of {longest:,} bytes; values longer than {MAX_TEXT_BYTES:,} bytes "
                    "are not read. Shorten it in the export."
                )


def undictionary(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A dictionary-encoded column as plain values (after ``check_batch`` bounded their length)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array


def days_out_of_range(days: pa.Array) -> tuple[int, date | None]:
    """How many of ``days`` (date32, or UTC timestamps) fall outside [FIRST_DAY, LAST_DAY], and the first such."""
    if pa.types.is_timestamp(days.type):
        low = pa.scalar(datetime(FIRST_DAY.year, 1, 1, tzinfo=UTC), days.type)
        high = pa.scalar(datetime(LAST_DAY.year + 1, 1, 1, tzinfo=UTC), days.type)
        outside = pc.or_(pc.less(days, low), pc.greater_equal(days, high))
    else:
        outside = pc.or_(pc.less(days, pa.scalar(FIRST_DAY)), pc.greater(days, pa.scalar(LAST_DAY)))
    count = pc.sum(pc.cast(pc.fill_null(outside, False), pa.int64())).as_py() or 0
    if not count:
        return 0, None
    first = pc.filter(days, pc.fill_null(outside, False))[0].as_py()
    return count, first.date() if isinstance(first, datetime) else first


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
