"""Billing sources other than AWS CUR files: each is a reader of the provider's own format that yields cost
rows (``SOURCE_SCHEMA``) for a window of days. The one import pipeline runs them through
``control_plane.billing.feeds.FeedConnector``: it asks a reader what changed, reads the changed days, and
replaces those days (and only those) in the month's partition.

A reader implements ``SourceReader``:

- ``versions(start, end)``: for each day in [start, end) that the source holds, a short string that changes
  when the day's data changes (BigQuery: the day's latest ``export_time`` and row count; Azure: the
  manifests' run ids). ``None`` when the source cannot tell without reading everything (HTTP APIs): the
  connector then re-reads a trailing window of days at every import.
- ``read(start, end)``: the cost rows whose ``ChargePeriodStart`` falls in [start, end) (UTC days), as
  ``SOURCE_SCHEMA`` tables in bounded batches (never a whole month in memory at once when the source is
  large). Build them with ``control_plane.billing.schema.source_table``.

Failures are raised as ``TransientImportError`` (429, 5xx, network: after the retries of
``sources.http.ApiClient``) or ``TerminalImportError`` (a refused or revoked credential, a missing table:
the message says what to change), and a source's data that no bill can hold as ``Quarantine``. No message
ever contains a secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Protocol

import pyarrow as pa


class SourceReader(Protocol):
    provider: str
    """The cost table's `Provider` for this source's rows."""

    def versions(self, start: date, end: date) -> dict[date, str] | None: ...

    def read(self, start: date, end: date) -> Iterator[pa.Table]: ...
