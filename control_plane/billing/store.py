"""Normalized cost rows on disk: one Parquet file per (tenant, datasource, billing month).

`{data_dir}/costs/{tenant_id}/{datasource_id}/{YYYY-MM}.parquet`. A re-exported month replaces its file
atomically (write aside, then rename), so readers see the old month or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from control_plane.billing.schema import COST_SCHEMA

ROW_GROUP_SIZE = 256 * 1024
STAGED_SUFFIX = ".parquet.staged"
ABANDONED_AFTER_SECONDS = 3600


class CostStore:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "costs"

    def _datasource_dir(self, tenant_id: str, datasource_id: str) -> Path:
        return self.root / tenant_id / datasource_id

    def month_path(self, tenant_id: str, datasource_id: str, billing_period: str) -> Path:
        return self._datasource_dir(tenant_id, datasource_id) / f"{billing_period}.parquet"

    def staging_path(self, tenant_id: str, datasource_id: str, billing_period: str, partition_id: int) -> Path:
        """Where a new partition of the month is written before the import recording it commits."""
        return self._datasource_dir(tenant_id, datasource_id) / f"{billing_period}.{partition_id}{STAGED_SUFFIX}"

    def settle(self, tenant_id: str, datasource_id: str, committed: Mapping[str, int | None]) -> None:
        """Finish what a killed import left: a staged partition whose month's committed partition id is its own
        is renamed into place (its transaction committed, the rename did not happen); any other staged file
        older than an hour belongs to a transaction that never committed and is removed."""
        folder = self._datasource_dir(tenant_id, datasource_id)
        if not folder.exists():
            return
        for staged in folder.glob(f"*{STAGED_SUFFIX}"):
            month, _, partition = staged.name[: -len(STAGED_SUFFIX)].partition(".")
            if partition.isdigit() and committed.get(month) == int(partition):
                staged.replace(self.month_path(tenant_id, datasource_id, month))
            elif time.time() - staged.stat().st_mtime > ABANDONED_AFTER_SECONDS:
                staged.unlink(missing_ok=True)

    def replace_month(self, tenant_id: str, datasource_id: str, billing_period: str, table: pa.Table) -> Path:
        """Write ``table`` (COST_SCHEMA) as the month's partition, replacing any previous one."""
        path = self.month_path(tenant_id, datasource_id, billing_period)
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_suffix(".parquet.tmp")
        pq.write_table(table.cast(COST_SCHEMA), aside, row_group_size=ROW_GROUP_SIZE, compression="zstd")
        os.replace(aside, path)
        return path

    def drop_datasource(self, tenant_id: str, datasource_id: str) -> None:
        shutil.rmtree(self._datasource_dir(tenant_id, datasource_id), ignore_errors=True)

    def paths(self, tenant_id: str) -> list[Path]:
        """Every partition of the tenant, sorted."""
        root = self.root / tenant_id
        return sorted(root.glob("*/*.parquet")) if root.exists() else []

    def read(
        self,
        tenant_id: str,
        start: date | None = None,
        end: date | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        """The tenant's cost rows with ChargePeriodStart in [start, end) (UTC days; None: unbounded)."""
        paths = self.paths(tenant_id)
        names = columns or COST_SCHEMA.names
        if not paths:
            return COST_SCHEMA.empty_table().select(names)
        dataset = ds.dataset([str(p) for p in paths], schema=COST_SCHEMA, format="parquet")
        condition = None
        for bound, compare in ((start, "ge"), (end, "lt")):
            if bound is None:
                continue
            instant = pa.scalar(
                datetime(bound.year, bound.month, bound.day, tzinfo=UTC), COST_SCHEMA.field("ChargePeriodStart").type
            )
            term = (
                ds.field("ChargePeriodStart") >= instant if compare == "ge" else ds.field("ChargePeriodStart") < instant
            )
            condition = term if condition is None else condition & term
        return dataset.to_table(columns=names, filter=condition)
