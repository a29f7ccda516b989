"""A SIGKILL mid-import, for both connectors: the import runs in a process of its own (``kill_target``), is
killed at a chosen point, and then nothing uncommitted is visible, no import stays RUNNING once the next import
runs, and that import converges to what a clean import gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.imports.pipeline import RetryPolicy
from control_plane.metrics.importer import import_datasource
from control_plane.models import BillingPeriod, ImportRecord, utcnow
from control_plane.storage import S3ObjectStore
from devtools.sample_cur import cur_table, write_cur
from tests.control_plane.imports.kill_target import STARTED
from tests.control_plane.imports.support import (
    BILLING_BUCKET,
    BILLING_PREFIX,
    CREDENTIALS,
    REGION,
    add_billing_datasource,
    add_datasource,
    files,
    usage,
    values,
)

ROOT = Path(__file__).resolve().parents[3]
LATER = STARTED + timedelta(minutes=11)
INTERRUPTED = (
    "Interrupted: the process running this import stopped; nothing it had not finished is kept, and the next "
    "import reads those files again."
)


def kill_at(settings, moto, kind: str, datasource_id: str, stop: str, tmp_path: Path) -> None:
    """Run the import in a child process until it reaches ``stop``, then SIGKILL it."""
    marker = tmp_path / f"{kind}-{stop}.reached"
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.control_plane.imports.kill_target",
            settings.database_url,
            str(settings.data_dir),
            moto.endpoint,
            kind,
            datasource_id,
            stop,
            str(marker),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                output = child.stdout.read().decode() if child.stdout else ""
                pytest.fail(f"the import ended before {stop}: {output}")
            if time.monotonic() > deadline:
                pytest.fail(f"the import did not reach {stop} within 60 s")
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout:
            child.stdout.close()


def eleven_minutes_from_now():
    """The billing child records its import at the real time; the next import runs past the 10-minute lease."""
    return utcnow() + timedelta(minutes=11)


def history(sessions, column, datasource_id) -> list[tuple[str, str | None]]:
    with sessions() as session:
        rows = session.execute(
            sa.select(ImportRecord.status, ImportRecord.error)
            .where(getattr(ImportRecord, column) == datasource_id)
            .order_by(ImportRecord.id)
        )
        return [(status, error) for status, error in rows]


def billed(sessions, settings, tenant_id) -> list[Decimal]:
    with sessions() as session:
        table = CostStore(settings.data_dir).read(session, tenant_id, columns=["BilledCost"])
    return sorted(table.column(0).to_pylist())


def months(sessions, datasource_id) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(sa.select(BillingPeriod.billing_period).where(BillingPeriod.datasource_id == datasource_id))
        )


def test_metrics_killed_inside_the_load_keeps_nothing_and_is_marked_interrupted(
    sessions, settings, moto, bucket, tmp_path
):
    ds = add_datasource(sessions)
    bucket.put("2024-01-01.parquet", usage(["2024-01-01", "2024-01-01"], ["a", "b"], [3, 4]))

    kill_at(settings, moto, "metrics", ds, "load", tmp_path)

    assert values(sessions, ds) == []
    assert files(sessions, ds) == []
    assert history(sessions, "datasource_id", ds) == [("RUNNING", None)]

    summary = import_datasource(
        sessions, ds, bucket.store(), trigger="MANUAL", owner="test:2", now=lambda: LATER,
        retry=RetryPolicy(sleep=lambda _s: None),
    )  # fmt: skip
    assert summary.files_imported == 1
    assert history(sessions, "datasource_id", ds) == [("FAILED", INTERRUPTED), ("SUCCEEDED", None)]
    assert values(sessions, ds) == [
        ("2024-01-01", (("team", "a"),), 3.0, 1),
        ("2024-01-01", (("team", "b"),), 4.0, 1),
    ]


def store(moto) -> S3ObjectStore:
    return S3ObjectStore(
        BILLING_BUCKET, BILLING_PREFIX, credentials=CREDENTIALS, region=REGION, endpoint_url=moto.endpoint
    )


def october() -> object:
    return cur_table(
        [
            {"usage_day": "2025-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": 10.0},
            {"usage_day": "2025-10-06", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 1.25},
        ]
    )


def test_billing_killed_before_its_commit_exposes_nothing(sessions, settings, moto, billing_s3, tmp_path):
    tenant_id, ds = add_billing_datasource(sessions)
    write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, "costory", "2025-10", october())

    kill_at(settings, moto, "billing", ds, "load", tmp_path)

    assert billed(sessions, settings, tenant_id) == []  # written, but no committed row names it
    assert months(sessions, ds) == []
    assert [status for status, _ in history(sessions, "billing_datasource_id", ds)] == ["RUNNING"]
    assert len(list((settings.data_dir / "costs").rglob("*.parquet"))) == 1

    result = import_billing(sessions, ds, store(moto), CostStore(settings.data_dir), now=eleven_minutes_from_now)
    assert (result.status, result.months_replaced) == ("SUCCEEDED", ["2025-10"])
    assert history(sessions, "billing_datasource_id", ds) == [("FAILED", INTERRUPTED), ("SUCCEEDED", None)]
    assert billed(sessions, settings, tenant_id) == [Decimal("1.250000000000"), Decimal("10.000000000000")]


def test_billing_killed_after_its_commit_is_visible_and_the_next_import_finds_it_unchanged(
    sessions, settings, moto, billing_s3, tmp_path
):
    tenant_id, ds = add_billing_datasource(sessions)
    write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, "costory", "2025-10", october())

    kill_at(settings, moto, "billing", ds, "publish", tmp_path)

    assert months(sessions, ds) == ["2025-10"]  # committed: the row names the partition, which is complete
    assert billed(sessions, settings, tenant_id) == [Decimal("1.250000000000"), Decimal("10.000000000000")]
    assert [status for status, _ in history(sessions, "billing_datasource_id", ds)] == ["RUNNING"]

    result = import_billing(sessions, ds, store(moto), CostStore(settings.data_dir), now=eleven_minutes_from_now)
    assert (result.status, result.months_replaced, result.months_unchanged) == ("SUCCEEDED", [], ["2025-10"])
    assert billed(sessions, settings, tenant_id) == [Decimal("1.250000000000"), Decimal("10.000000000000")]
    assert history(sessions, "billing_datasource_id", ds) == [("FAILED", INTERRUPTED), ("SUCCEEDED", None)]
