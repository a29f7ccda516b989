"""One import in a process of its own, stopped at a chosen point until the test SIGKILLs it.

Usage: python -m tests.control_plane.imports.kill_target DATABASE_URL DATA_DIR ENDPOINT KIND DATASOURCE_ID STOP MARKER

KIND is `metrics` or `billing`. STOP is `load` (inside the load's transaction, after its writes, before the
commit) or `publish` (billing: after the commit, before the new partition is renamed into place). When the
import reaches STOP, MARKER is created and the process waits to be killed.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from control_plane.billing import importer as billing_importer
from control_plane.billing.store import CostStore
from control_plane.db import create_engine, create_sessionmaker
from control_plane.metrics import importer as metrics_importer
from control_plane.storage import S3ObjectStore
from tests.control_plane.imports.support import (
    BILLING_BUCKET,
    BILLING_PREFIX,
    BUCKET,
    CREDENTIALS,
    PREFIX,
    REGION,
)

STARTED = datetime(2026, 1, 10, 6, 0, tzinfo=UTC)


def stop_here(marker: Path) -> None:
    marker.touch()
    while True:
        time.sleep(60)


def main(
    database_url: str, data_dir: str, endpoint: str, kind: str, datasource_id: str, stop: str, marker: str
) -> None:
    sessions = create_sessionmaker(create_engine(database_url))
    flag = Path(marker)
    if kind == "metrics":
        real_load = metrics_importer.load_file

        def load_then_stop(*args, **kwargs):
            real_load(*args, **kwargs)
            stop_here(flag)

        metrics_importer.load_file = load_then_stop
        store = S3ObjectStore(BUCKET, PREFIX, credentials=CREDENTIALS, region=REGION, endpoint_url=endpoint)
        metrics_importer.import_datasource(
            sessions, datasource_id, store, trigger="MANUAL", owner="killed:1", now=lambda: STARTED
        )
        return
    connector = billing_importer.BillingConnector
    if stop == "load":
        real = connector.load

        def load_then_stop(self, *args, **kwargs):
            real(self, *args, **kwargs)
            stop_here(flag)

        connector.load = load_then_stop  # type: ignore[method-assign]
    else:
        billing_importer.StagedPartition.publish = lambda self: stop_here(flag)  # type: ignore[method-assign]
    store = S3ObjectStore(BILLING_BUCKET, BILLING_PREFIX, credentials=CREDENTIALS, region=REGION, endpoint_url=endpoint)
    billing_importer.import_billing(sessions, datasource_id, store, CostStore(Path(data_dir)), owner="killed:1")


if __name__ == "__main__":
    main(*sys.argv[1:])
