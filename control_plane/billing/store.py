"""Normalized cost rows in the data store: one Parquet object per (tenant, datasource, billing month, partition).

`costs/<tenant>/<datasource>/<YYYY-MM>.<partition_id>.parquet`, in the local directory or the bucket
(``control_plane.datastore``). A month's partition is written once, under a key never used before, before the
transaction that records it (``BillingPeriod.partition_id``) commits; which partition is current is what the
committed row says, so readers (any replica) see the old month or the new one, never a mix, and never a key
without its object:

1. An import writes the new object (``new_partition``), then switches the month's row in one transaction and
   calls ``switched`` in it: after the commit the replaced object is removed, after a rollback the new one.
2. Readers take the committed keys (``partition_keys``: one query) and scan them (``dataset``).
3. What a killed process leaves (an object no committed row names) is removed by ``sweep`` at the start of the
   datasource's next import, once older than the grace period: longer than any import could still commit it.

Earlier versions wrote `<YYYY-MM>.parquet` in place (renamed over), and later staged
`<YYYY-MM>.<id>.parquet.staged` renamed after the commit. A local directory may still hold those: a committed
month without its keyed object is read from its staged file (adopted by the next sweep), else its legacy file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from control_plane.billing.schema import COST_SCHEMA
from control_plane.datastore import DataStore, cleanup
from control_plane.models import BillingDatasource, BillingPeriod, PartitionId, utcnow

log = logging.getLogger(__name__)

ROW_GROUP_SIZE = 256 * 1024
PARQUET = ".parquet"
STAGED_SUFFIX = ".parquet.staged"
GRACE = timedelta(hours=1)
"""How old an object no committed row names must be before ``sweep`` removes it: longer than any import takes
between writing a partition and committing it."""



def partition_of(period: BillingPeriod) -> int:
    """The id naming the row's partition (rows from before partition ids: their own id)."""
    return period.partition_id if period.partition_id is not None else period.id


class CostStore:
    def __init__(self, store: DataStore | Path, *, grace: timedelta = GRACE):
        self.store = store if isinstance(store, DataStore) else DataStore.local(Path(store))
        self.grace = grace

    # -- keys ---------------------------------------------------------------------------------------------

    @staticmethod
    def folder(tenant_id: str, datasource_id: str) -> str:
        return f"costs/{tenant_id}/{datasource_id}"

    def key(self, tenant_id: str, datasource_id: str, billing_period: str, partition_id: int) -> str:
        """The month's partition ``partition_id``: written once, never reused."""
        return f"{self.folder(tenant_id, datasource_id)}/{billing_period}.{partition_id}{PARQUET}"

    def _legacy_keys(self, tenant_id: str, datasource_id: str, billing_period: str, partition_id: int) -> list[str]:
        """Where earlier versions kept the month (local directory only): staged, then renamed in place."""
        if not self.store.is_local:
            return []
        folder = self.folder(tenant_id, datasource_id)
        return [f"{folder}/{billing_period}.{partition_id}{STAGED_SUFFIX}", f"{folder}/{billing_period}{PARQUET}"]

    def current_key(self, tenant_id: str, datasource_id: str, billing_period: str, partition_id: int) -> str | None:
        """The object holding the committed partition ``partition_id`` of the month; None when a local directory
        holds none of its names (on object storage the key is trusted: its object was complete before the
        commit, and is removed only after the row changed)."""
        key = self.key(tenant_id, datasource_id, billing_period, partition_id)
        if not self.store.is_local:
            return key
        for candidate in (key, *self._legacy_keys(tenant_id, datasource_id, billing_period, partition_id)):
            if self.store.exists(candidate):
                return candidate
        return None

    # -- reading ------------------------------------------------------------------------------------------

    def partition_keys(self, session: Session, tenant_id: str) -> list[str]:
        """The committed partitions of every datasource of the tenant, sorted by (datasource, month)."""
        rows = session.execute(
            sa.select(
                BillingPeriod.datasource_id, BillingPeriod.billing_period, BillingPeriod.partition_id, BillingPeriod.id
            )
            .join(BillingDatasource, BillingDatasource.id == BillingPeriod.datasource_id)
            .where(BillingDatasource.tenant_id == tenant_id)
            .order_by(BillingPeriod.datasource_id, BillingPeriod.billing_period)
        ).all()
        keys = []
        for datasource_id, month, partition_id, row_id in rows:
            key = self.current_key(
                tenant_id, datasource_id, month, partition_id if partition_id is not None else row_id
            )
            if key is None:
                log.warning(
                    "billing month %s of datasource %s has no partition in %s", month, datasource_id, self.store.url
                )
                continue
            keys.append(key)
        return keys

    def dataset(self, keys: Sequence[str]) -> ds.Dataset:
        """The partitions as one dataset (COST_SCHEMA; scans push down columns and row-group filters)."""
        return self.store.dataset(keys, schema=COST_SCHEMA)

    def read(
        self,
        partitions: Session | Sequence[str],
        tenant_id: str | None = None,
        start: date | None = None,
        end: date | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """Cost rows with ChargePeriodStart in [start, end) (UTC days; None: unbounded), from the tenant's
        committed partitions (``partitions`` a session, with ``tenant_id``) or from the keys given."""
        if isinstance(partitions, Session):
            if tenant_id is None:
                raise TypeError("CostStore.read with a session needs the tenant_id")
            keys = self.partition_keys(partitions, tenant_id)
        else:
            keys = list(partitions)
        names = columns or COST_SCHEMA.names
        if not keys:
            return COST_SCHEMA.empty_table().select(names)
        return self.dataset(keys).to_table(columns=names, filter=charged_between(start, end))

    def batches(self, key: str, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        """The partition's rows, batch by batch (bounded memory whatever the month's size)."""
        with self.store.filesystem.open_input_file(self.store.path(key)) as source:
            yield from pq.ParquetFile(source).iter_batches(batch_size=batch_size, columns=columns)

    # -- writing ------------------------------------------------------------------------------------------

    @staticmethod
    def new_partition_id(session: Session) -> int:
        """A partition id never handed out before (reserved when ``session``'s transaction commits)."""
        row = PartitionId(created_at=utcnow())
        session.add(row)
        session.flush()
        return row.id

    def switched(self, session: Session, replaced: Iterable[str], written: str | None) -> None:
        """The transaction of ``session`` switches a month from the ``replaced`` objects to ``written``: the
        replaced ones are removed once it commits, the written one if it rolls back."""
        pending = cleanup(session, self.store)
        pending.on_commit.extend(replaced)
        if written is not None:
            pending.on_rollback.append(written)

    def replaced_keys(self, tenant_id: str, datasource_id: str, period: BillingPeriod) -> list[str]:
        """Every name the month's committed partition may have: all of them go when it is replaced."""
        partition_id = partition_of(period)
        month = period.billing_period
        return [
            self.key(tenant_id, datasource_id, month, partition_id),
            *self._legacy_keys(tenant_id, datasource_id, month, partition_id),
        ]

    def record_month(
        self, session: Session, tenant_id: str, datasource_id: str, month: str, table: pa.Table, fingerprint: str = ""
    ) -> str:
        """Write ``table`` (COST_SCHEMA) as the month's new partition and point the month's row at it, in
        ``session``'s transaction (tools and tests seeding a datasource; imports stream through
        ``importer.StagedPartition``). Returns the key."""
        partition_id = self.new_partition_id(session)
        key = self.key(tenant_id, datasource_id, month, partition_id)
        self.switched(session, (), key)
        self.store.write_table(key, table.cast(COST_SCHEMA), row_group_size=ROW_GROUP_SIZE)
        previous = session.scalar(
            sa.select(BillingPeriod).where(
                BillingPeriod.datasource_id == datasource_id, BillingPeriod.billing_period == month
            )
        )
        replaced = []
        if previous is not None:
            replaced = self.replaced_keys(tenant_id, datasource_id, previous)
            session.delete(previous)
            session.flush()
        billed = pc.sum(table.column("BilledCost")).as_py() if table.num_rows else 0
        session.add(
            BillingPeriod(
                datasource_id=datasource_id,
                billing_period=month,
                partition_id=partition_id,
                fingerprint=fingerprint,
                rows=table.num_rows,
                billed_cost=f"{billed or 0:f}",
            )
        )
        self.switched(session, replaced, None)
        return key

    # -- removing -----------------------------------------------------------------------------------------

    def drop_datasource(self, session: Session, tenant_id: str, datasource_id: str) -> None:
        """The datasource is being deleted in ``session``'s transaction: its folder goes once it commits."""
        cleanup(session, self.store).on_commit.append(self.folder(tenant_id, datasource_id))

    def sweep(
        self, tenant_id: str, datasource_id: str, committed: Mapping[str, int], *, now: datetime | None = None
    ) -> int:
        """Remove the datasource's objects that no committed row names (``committed``: month -> partition id)
        and that are older than the grace period; adopt (rename into its key) the staged file of a committed
        month left by an earlier version. Returns how many objects were removed."""
        folder = self.folder(tenant_id, datasource_id)
        objects = self.store.list(folder)
        present = {obj.key for obj in objects}
        named = set()
        for month, partition_id in committed.items():
            key = self.key(tenant_id, datasource_id, month, partition_id)
            if key in present:
                named.add(key)
                continue
            for legacy in self._legacy_keys(tenant_id, datasource_id, month, partition_id):
                if legacy not in present:
                    continue
                if legacy.endswith(STAGED_SUFFIX):
                    self.store.filesystem.move(self.store.path(legacy), self.store.path(key))
                    present.discard(legacy)
                    named.add(key)
                else:
                    named.add(legacy)
                break
        cutoff = (now or datetime.now(UTC)) - self.grace
        removed = 0
        for obj in objects:
            if obj.key in present and obj.key not in named and obj.modified < cutoff:
                self.store.delete(obj.key)
                removed += 1
        if removed:
            log.info("removed %d unreferenced object(s) of billing datasource %s", removed, datasource_id)
        return removed


def charged_between(start: date | None, end: date | None) -> ds.Expression | None:
    """Rows with ChargePeriodStart in [start, end) (UTC days; None: unbounded)."""
    condition = None
    for bound, lower in ((start, True), (end, False)):
        if bound is None:
            continue
        instant = pa.scalar(
            datetime(bound.year, bound.month, bound.day, tzinfo=UTC), COST_SCHEMA.field("ChargePeriodStart").type
        )
        term = ds.field("ChargePeriodStart") >= instant if lower else ds.field("ChargePeriodStart") < instant
        condition = term if condition is None else condition & term
    return condition
