"""What a Parquet file must satisfy before and while it is read, so one file can never exhaust the server
whatever its metadata claims, and values no bill or usage series can hold are refused with the reason.

Every connector's reader opens files with ``open_parquet`` and reads them with ``batches``:

1. The footer: not Parquet, cut short, too many columns, or a row group claiming too much → quarantined.
2. Text columns are read dictionary-encoded, so a long value repeated on every row (a "dictionary bomb": a
   few KB of file, terabytes once decoded) costs its length once, not once per row.
3. Per batch, before anything is decoded: no text value longer than ``MAX_TEXT_BYTES``; the batch is cut into
   slices that decode to at most ``MAX_BATCH_BYTES`` each; and the whole file may decode to at most
   ``MAX_DECODE_RATIO`` times its size (at least ``MIN_DECODED_BYTES``). Readers decode a slice at a time,
   or never (grouping on the dictionary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from control_plane.imports.errors import ObjectReadError, Quarantine

MAX_COLUMNS = 2_000
"""A CUR 2.0 export has ~130 columns; a file with more is not an export we can read."""
MAX_ROW_GROUP_BYTES = 512 << 20
"""Uncompressed size a row group may claim; a bigger one is rewritten by the customer with smaller groups."""
MAX_BATCH_BYTES = 32 << 20
"""Decoded bytes one slice of a batch may take (a batch is cut into slices of at most this)."""
MAX_TEXT_BYTES = 64 << 10
"""Longest text value read (a tag, an id, a dimension value)."""
MAX_DECODE_RATIO = 1_000
"""A file may decode to at most this many times its own size: real exports compress 5-50 times; more is a
value repeated by the encoding, not data."""
MIN_DECODED_BYTES = 512 << 20
"""What any file may decode to, however small it is."""
BATCH_ROWS = 65_536
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
"""Dates outside [FIRST_DAY, LAST_DAY] cannot be usage or charges: such files are quarantined."""
_RESEND = "upload the file again (the same key is fine)"


def as_input(source: Any) -> pa.NativeFile:
    """``source`` (a pyarrow input file, a path, bytes or a binary file object) as a pyarrow input file."""
    if isinstance(source, pa.NativeFile):
        return source
    if isinstance(source, (bytes, bytearray, memoryview, pa.Buffer)):
        return pa.BufferReader(source)
    if isinstance(source, (str, os.PathLike)):
        return pa.OSFile(os.fspath(source))
    return pa.PythonFile(source, mode="r")


def open_parquet(source: pa.NativeFile) -> pq.ParquetFile:
    """The file's footer, checked (``check_footer``), with text columns read dictionary-encoded. Not Parquet, or
    cut short → quarantine; a storage failure (``ObjectReadError``) passes through."""
    try:
        file = pq.ParquetFile(source)
    except ObjectReadError:
        raise
    except (pa.ArrowException, OSError) as error:
        raise Quarantine(_unreadable_reason(source, error)) from None
    check_footer(file.metadata)
    # Every text leaf, nested ones included (a map's keys and values: `resource_tags.key_value.value`).
    leaves = (file.schema.column(index) for index in range(file.metadata.num_columns))
    text = [leaf.path for leaf in leaves if leaf.logical_type.type == "STRING" or leaf.converted_type == "UTF8"]
    if not text:
        return file
    return pq.ParquetFile(source, read_dictionary=text)


def check_footer(metadata: pq.FileMetaData) -> None:
    """Quarantine a file with more than ``MAX_COLUMNS`` columns or a row group claiming more than
    ``MAX_ROW_GROUP_BYTES`` uncompressed (what a claim understates, ``batches`` catches)."""
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


def batches(
    file: pq.ParquetFile, *, file_size: int, columns: Sequence[str] | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[pa.RecordBatch]:
    """The file's rows (only ``columns`` when given) in checked slices, text still dictionary-encoded: each
    slice decodes to at most ``MAX_BATCH_BYTES``. Quarantines data damaged past the footer, text longer than
    ``MAX_TEXT_BYTES`` and a file decoding to more than ``decode_budget(file_size)``."""
    budget = decode_budget(file_size)
    decoded = 0
    iterator = file.iter_batches(batch_size=batch_rows, columns=list(columns) if columns is not None else None)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except ObjectReadError:
            raise
        except (pa.ArrowException, OSError) as error:
            raise Quarantine(_damaged_reason(error)) from None
        _check_text_length(batch)
        row_bytes = _decoded_row_bytes(batch)
        decoded += int(row_bytes.sum())
        if decoded > budget:
            raise Quarantine(
                f"The file decodes to more than {budget:,} bytes, over {MAX_DECODE_RATIO:,} times its size of "
                f"{file_size:,} bytes: values repeated by the file's encoding, not data an export holds. Export "
                f"the data again and {_RESEND}."
            )
        yield from _slices(batch, row_bytes)


def decode_budget(file_size: int) -> int:
    """How many bytes a file of ``file_size`` bytes may decode to."""
    return max(MIN_DECODED_BYTES, MAX_DECODE_RATIO * file_size)


def _check_text_length(batch: pa.RecordBatch) -> None:
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        for values in _text_values(column):
            longest = pc.max(pc.binary_length(values)).as_py() if len(values) else None
            if longest is not None and longest > MAX_TEXT_BYTES:
                raise Quarantine(
                    f"Column `{name}` holds a value of {longest:,} bytes; values longer than {MAX_TEXT_BYTES:,} bytes "
                    "are not read. Shorten it in the export."
                )


def _text_values(array: pa.Array) -> Iterator[pa.Array]:
    """The distinct texts of a column (its dictionaries, nested ones included) or its plain texts."""
    data_type = array.type
    if pa.types.is_dictionary(data_type):
        if _is_text(data_type) or pa.types.is_binary(data_type.value_type):
            yield array.dictionary
    elif _is_text(data_type) or pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        yield array
    elif isinstance(array, pa.MapArray):
        yield from _text_values(array.keys)
        yield from _text_values(array.items)
    elif isinstance(array, (pa.ListArray, pa.LargeListArray)):
        yield from _text_values(array.values)
    elif isinstance(array, pa.StructArray):
        for index in range(data_type.num_fields):
            yield from _text_values(array.field(index))


def _decoded_row_bytes(batch: pa.RecordBatch) -> np.ndarray:
    """Bytes each row takes once its dictionary-encoded text is decoded (other columns are decoded already:
    their size is spread evenly over the rows)."""
    sizes = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        sizes += _decoded_sizes(column)
    return sizes


def _decoded_sizes(array: pa.Array) -> np.ndarray:
    """Bytes each element of ``array`` takes once decoded: dictionaries by their values' lengths, lists and maps
    by their entries'; what is decoded already, its size spread evenly."""
    rows = len(array)
    if not rows:
        return np.zeros(0, dtype=np.int64)
    if pa.types.is_dictionary(array.type):
        lengths = pc.binary_length(array.dictionary).cast(pa.int64())
        return pc.fill_null(pc.take(lengths, array.indices), 0).to_numpy(zero_copy_only=False) + 8
    if isinstance(array, (pa.MapArray, pa.ListArray, pa.LargeListArray)):
        offsets = array.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
        if isinstance(array, pa.MapArray):
            entries = _decoded_sizes(array.keys) + _decoded_sizes(array.items)
        else:
            entries = _decoded_sizes(array.values)
        totals = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(entries)])
        return totals[offsets[1:]] - totals[offsets[:-1]] + 8
    if isinstance(array, pa.StructArray) and any(_has_dictionary(f.type) for f in array.type):
        return sum((_decoded_sizes(array.field(i)) for i in range(array.type.num_fields)), np.full(rows, 1))
    return np.full(rows, array.nbytes // rows + 1, dtype=np.int64)


def _has_dictionary(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return True
    return any(_has_dictionary(data_type.field(i).type) for i in range(data_type.num_fields))


def _slices(batch: pa.RecordBatch, row_bytes: np.ndarray) -> Iterator[pa.RecordBatch]:
    """``batch`` cut into consecutive slices decoding to at most ``MAX_BATCH_BYTES`` each (one row at least)."""
    if int(row_bytes.sum()) <= MAX_BATCH_BYTES:
        yield batch
        return
    ends = np.cumsum(row_bytes)
    start = 0
    while start < batch.num_rows:
        base = int(ends[start - 1]) if start else 0
        stop = int(np.searchsorted(ends, base + MAX_BATCH_BYTES, side="right"))
        stop = max(stop, start + 1)
        yield batch.slice(start, stop - start)
        start = stop


def undictionary(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column of a slice from ``batches`` with its dictionary-encoded text as plain values (a map's too); only
    the slice's own entries are decoded."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    if isinstance(array, pa.MapArray) and _has_dictionary(array.type):
        offsets = array.offsets
        first, last = offsets[0].as_py(), offsets[-1].as_py()
        return pa.MapArray.from_arrays(
            pc.subtract(offsets, first),
            undictionary(array.keys.slice(first, last - first)),
            undictionary(array.items.slice(first, last - first)),
            mask=array.is_null() if array.null_count else None,
        )
    return array


def days_out_of_range(days: pa.Array) -> tuple[int, str | None]:
    """How many of ``days`` (date32, or UTC timestamps) fall outside [FIRST_DAY, LAST_DAY], and the first such
    as ISO text (a year past 9999 included, which Python dates cannot hold)."""
    if pa.types.is_timestamp(days.type):
        low = pa.scalar(datetime(FIRST_DAY.year, 1, 1, tzinfo=UTC), days.type)
        high = pa.scalar(datetime(LAST_DAY.year + 1, 1, 1, tzinfo=UTC), days.type)
        outside = pc.or_(pc.less(days, low), pc.greater_equal(days, high))
    else:
        outside = pc.or_(pc.less(days, pa.scalar(FIRST_DAY)), pc.greater(days, pa.scalar(LAST_DAY)))
    outside = pc.fill_null(outside, False)
    count = pc.sum(pc.cast(outside, pa.int64())).as_py() or 0
    if not count:
        return 0, None
    first = pc.filter(days, outside)[:1]
    if pa.types.is_timestamp(days.type):
        first = first.cast(pa.timestamp(days.type.unit)).cast(pa.date32())
    return count, str(first.cast(pa.string())[0].as_py())


def _is_text(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type)


def _detail(error: BaseException) -> str:
    """pyarrow's message, first sentence only."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.split(". ")[0].rstrip(".")[:300]


def _unreadable_reason(file: pa.NativeFile, error: BaseException) -> str:
    try:
        file.seek(0)
        starts_like_parquet = file.read(4) == b"PAR1"
    except ObjectReadError:
        raise
    except (pa.ArrowException, OSError):
        starts_like_parquet = False
    if starts_like_parquet:
        return _damaged_reason(error)
    return f"Not a Parquet file ({_detail(error)}). Write the export in Parquet format and {_RESEND}."


def _damaged_reason(error: BaseException) -> str:
    return (
        f"Truncated or damaged Parquet file ({_detail(error)}). Upload the complete file again "
        "(the same key is fine)."
    )
