"""The connector for sources read through a ``SourceReader`` (billing.feeds), with a reader of a small in-memory
dataset: which days are read again, what is kept, quarantine and failures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from control_plane.billing.feeds import import_source
from control_plane.billing.schema import source_table
from control_plane.billing.store import CostStore
from control_plane.imports.errors import Quarantine, TerminalImportError, TransientImportError
from control_plane.models import BillingDatasource, BillingPeriod, ImportRecord
from tests.control_plane.imports.support import add_billing_datasource


@dataclass
class DayReader:
    """One row per (day, key) with its cost; ``versions`` per day when ``versioned`` (else None, as an API)."""

    costs: dict[date, dict[str, str]]
    versioned: bool = True
    provider: str = "Anthropic"
    reads: list[tuple[date, date]] = field(default_factory=list)
    version_bump: dict[date, int] = field(default_factory=dict)
    fail_with: Exception | None = None

    def versions(self, start: date, end: date) -> dict[date, str] | None:
        if not self.versioned:
            return None
        return {d: f"v{self.version_bump.get(d, 0)}" for d in self.costs if start <= d < end}

    def read(self, start: date, end: date) -> Iterator[pa.Table]:
        if self.fail_with is not None:
            raise self.fail_with
        self.reads.append((start, end))
        rows = [(d, key, cost) for d, per_key in sorted(self.costs.items()) for key, cost in per_key.items()]
        rows = [r for r in rows if start <= r[0] < end]
        yield source_table(
            {
                "ChargePeriodStart": [datetime(d.year, d.month, d.day, tzinfo=UTC) for d, _, _ in rows],
                "BilledCost": [Decimal(c) for _, _, c in rows],
                "EffectiveCost": [Decimal(c) for _, _, c in rows],
                "Provider": [self.provider] * len(rows),
                "SubAccountId": [k for _, k, _ in rows],
            },
            len(rows),
        )


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 6, tzinfo=UTC)


@pytest.fixture
def source(sessions, settings):
    tenant_id, datasource_id = add_billing_datasource(sessions)
    with sessions.begin() as session:
        datasource = session.get(BillingDatasource, datasource_id)
        datasource.kind, datasource.start_date = "ANTHROPIC", "2026-01-30"
    return tenant_id, datasource_id, CostStore(settings.data_dir)


def held(sessions, costs: CostStore, tenant_id: str) -> list[tuple[str, str, str]]:
    with sessions() as session:
        table = costs.read(session, tenant_id, columns=["ChargePeriodStart", "SubAccountId", "BilledCost"])
    return sorted(
        (str(r["ChargePeriodStart"].date()), r["SubAccountId"], f"{r['BilledCost']:.2f}") for r in table.to_pylist()
    )


def test_a_versioned_source_reads_only_the_days_whose_version_changed(sessions, source):
    tenant_id, datasource_id, costs = source
    jan30, jan31, feb1, feb2 = date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 2)
    reader = DayReader({jan30: {"a": "1.00"}, jan31: {"a": "2.00", "b": "3.00"}, feb1: {"b": "4.00"}})
    first = import_source(sessions, datasource_id, reader, costs, now=lambda: at(feb2))
    assert (first.status.value, first.loaded_units) == ("SUCCEEDED", ["2026-01", "2026-02"])
    assert reader.reads == [(jan30, date(2026, 2, 1)), (feb1, date(2026, 2, 2))]
    assert held(sessions, costs, tenant_id) == [
        ("2026-01-30", "a", "1.00"),
        ("2026-01-31", "a", "2.00"),
        ("2026-01-31", "b", "3.00"),
        ("2026-02-01", "b", "4.00"),
    ]

    # A late row restates Jan 31 only: January's other day is carried over, February is not touched.
    reader.costs[jan31]["a"] = "2.50"
    reader.version_bump[jan31] = 1
    reader.reads.clear()
    second = import_source(sessions, datasource_id, reader, costs, now=lambda: at(feb2))
    assert (second.loaded_units, reader.reads) == (["2026-01"], [(jan31, feb1)])
    assert held(sessions, costs, tenant_id) == [
        ("2026-01-30", "a", "1.00"),
        ("2026-01-31", "a", "2.50"),
        ("2026-01-31", "b", "3.00"),
        ("2026-02-01", "b", "4.00"),
    ]
    with sessions() as session:
        fingerprints = dict(
            session.execute(
                sa.select(BillingPeriod.billing_period, BillingPeriod.fingerprint).where(
                    BillingPeriod.datasource_id == datasource_id
                )
            ).all()
        )
    assert fingerprints == {"2026-01": "2026-01-30@v0\n2026-01-31@v1", "2026-02": "2026-02-01@v0"}

    # Nothing changed: nothing is read.
    reader.reads.clear()
    third = import_source(sessions, datasource_id, reader, costs, now=lambda: at(feb2))
    assert (third.loaded_units, reader.reads, third.status.value) == ([], [], "SUCCEEDED")

    # A day that vanished from the source is read again, and its rows go.
    del reader.costs[jan30]
    fourth = import_source(sessions, datasource_id, reader, costs, now=lambda: at(feb2))
    assert fourth.loaded_units == ["2026-01"]
    assert [r for r in held(sessions, costs, tenant_id) if r[0] == "2026-01-30"] == []


def test_an_api_is_read_again_over_the_trailing_window_and_older_days_are_kept(sessions, source):
    """Cursor keeps a rolling window only: days before the refresh window stay as first imported even when the
    API no longer returns them."""
    tenant_id, datasource_id, costs = source
    days = [date(2026, 1, 30) + timedelta(days=i) for i in range(5)]  # Jan 30 .. Feb 3
    reader = DayReader({d: {"a": f"{i + 1}.00"} for i, d in enumerate(days)}, versioned=False)
    import_source(sessions, datasource_id, reader, costs, now=lambda: at(days[-1]), refresh_days=2)
    assert reader.reads == [(days[0], date(2026, 2, 1)), (date(2026, 2, 1), days[-1] + timedelta(days=1))]

    # The API forgot Jan 30 and restated Feb 2; the next import re-reads Feb 1..3 only (2 days before the last).
    reader.reads.clear()
    del reader.costs[days[0]]
    reader.costs[days[3]] = {"a": "40.00"}
    summary = import_source(sessions, datasource_id, reader, costs, now=lambda: at(days[-1]), refresh_days=2)
    assert (summary.loaded_units, reader.reads) == (["2026-02"], [(date(2026, 2, 1), date(2026, 2, 4))])
    assert held(sessions, costs, tenant_id) == [
        ("2026-01-30", "a", "1.00"),
        ("2026-01-31", "a", "2.00"),
        ("2026-02-01", "a", "3.00"),
        ("2026-02-02", "a", "40.00"),
        ("2026-02-03", "a", "5.00"),
    ]


def test_rows_without_a_cost_quarantine_their_month_and_keep_what_it_held(sessions, source):
    tenant_id, datasource_id, costs = source

    class NoCost(DayReader):
        def read(self, start, end):
            for table in super().read(start, end):
                yield table.set_column(
                    table.schema.get_field_index("BilledCost"),
                    "BilledCost",
                    pa.nulls(table.num_rows, pa.decimal128(28, 12)),
                )

    reader = NoCost({date(2026, 2, 1): {"a": "1.00"}})
    summary = import_source(sessions, datasource_id, reader, costs, now=lambda: at(date(2026, 2, 2)))
    assert summary.status.value == "PARTIAL"
    assert [(q.key, q.reason) for q in summary.quarantined] == [("2026-02", "1 row(s) from the source without a cost.")]
    assert held(sessions, costs, tenant_id) == []
    with sessions() as session:
        assert session.get(BillingDatasource, datasource_id).status == "WARNING"


def test_a_transient_failure_fails_the_import_and_keeps_the_data(sessions, source):
    tenant_id, datasource_id, costs = source
    reader = DayReader({date(2026, 2, 1): {"a": "1.00"}})
    import_source(sessions, datasource_id, reader, costs, now=lambda: at(date(2026, 2, 2)))
    reader.version_bump[date(2026, 2, 1)] = 1
    reader.fail_with = TransientImportError("Anthropic Admin API answered HTTP 503 5 times in a row")
    with pytest.raises(TransientImportError):
        import_source(sessions, datasource_id, reader, costs, now=lambda: at(date(2026, 2, 2)))
    assert held(sessions, costs, tenant_id) == [("2026-02-01", "a", "1.00")]
    with sessions() as session:
        datasource = session.get(BillingDatasource, datasource_id)
        last = session.scalars(sa.select(ImportRecord).order_by(ImportRecord.id.desc())).first()
        assert (datasource.status, last.status) == ("ERROR", "FAILED")
        assert datasource.status_message == "Import failed: Anthropic Admin API answered HTTP 503 5 times in a row"


def test_a_listing_the_source_cannot_give_fails_the_import_with_its_reason(sessions, source):
    """A reader that cannot say what it holds (an Azure export run whose manifest is not JSON) fails the import
    terminally with the reason, rather than as an internal error."""
    tenant_id, datasource_id, costs = source

    class BrokenManifest(DayReader):
        def versions(self, start, end):
            raise Quarantine(
                "`manifest.json` is not JSON; the export wrote it partially.", key="costs/actual/manifest.json"
            )

    reader = BrokenManifest({date(2026, 2, 1): {"a": "1.00"}})
    with pytest.raises(TerminalImportError) as failed:
        import_source(sessions, datasource_id, reader, costs, now=lambda: at(date(2026, 2, 2)))
    assert failed.value.message == (
        "the source (costs/actual/manifest.json): `manifest.json` is not JSON; the export wrote it partially."
    )
    with sessions() as session:
        assert session.get(BillingDatasource, datasource_id).status == "ERROR"
