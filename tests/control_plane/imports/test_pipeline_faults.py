"""The pipeline under faults, for both connectors (metrics, AWS billing), against moto: a storage failure mid-read
is retried and never quarantines a good file; an object replaced mid-read is read again whole from its new
version; a key that could name another object is never read."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from control_plane.billing.importer import import_billing
from control_plane.billing.store import CostStore
from control_plane.imports.errors import TransientImportError
from control_plane.imports.pipeline import RetryPolicy
from control_plane.metrics.importer import import_datasource
from control_plane.models import BillingDatasource, BillingFile, BillingPeriod, ImportRecord, MetricFile
from control_plane.storage import S3ObjectStore
from devtools.sample_cur import cur_table, write_cur
from tests.control_plane.imports.support import (
    BILLING_BUCKET,
    BILLING_PREFIX,
    BUCKET,
    CREDENTIALS,
    PREFIX,
    REGION,
    add_billing_datasource,
    add_datasource,
    files,
    imports,
    throttled,
    usage,
    values,
    with_faults,
)

NO_WAIT = RetryPolicy(sleep=lambda _seconds: None)
EXPORT = "costory"


def team(name):
    return (("team", name),)


def run_metrics(sessions, datasource_id, store, clock):
    return import_datasource(sessions, datasource_id, store, trigger="MANUAL", owner="test:1", now=clock, retry=NO_WAIT)


def billing_store(moto, prefix: str = BILLING_PREFIX) -> S3ObjectStore:
    return S3ObjectStore(BILLING_BUCKET, prefix, credentials=CREDENTIALS, region=REGION, endpoint_url=moto.endpoint)


def october(cost: float) -> object:
    return cur_table(
        [
            {"usage_day": "2025-10-05", "line_item_product_code": "AmazonEC2", "line_item_unblended_cost": cost},
            {"usage_day": "2025-10-06", "line_item_product_code": "AmazonS3", "line_item_unblended_cost": 1.25},
        ]
    )


def billed(sessions, settings, tenant_id) -> list[Decimal]:
    with sessions() as session:
        table = CostStore(settings.data_dir).read(session, tenant_id, columns=["BilledCost"])
    return sorted(table.column("BilledCost").to_pylist())


def periods(sessions, datasource_id) -> list[tuple[str, int, str]]:
    with sessions() as session:
        return [
            (p.billing_period, p.rows, p.billed_cost)
            for p in session.scalars(sa.select(BillingPeriod).where(BillingPeriod.datasource_id == datasource_id))
        ]


class TestStorageFailureMidRead:
    def test_metrics_a_throttled_read_is_retried_and_the_file_loads(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01", "2024-01-01"], ["a", "b"], [3, 4]))
        store = bucket.store()
        failed = []

        def fail_the_second_get_once(_key, number):
            if number == 2 and not failed:
                failed.append(number)
                raise throttled()

        with_faults(store, fail_the_second_get_once)
        summary = run_metrics(sessions, ds, store, clock)

        assert failed == [2]
        assert (summary.status.value, summary.files_imported, summary.files_quarantined) == ("SUCCEEDED", 1, 0)
        assert values(sessions, ds) == [("2024-01-01", team("a"), 3.0, 1), ("2024-01-01", team("b"), 4.0, 1)]

    def test_metrics_a_read_failing_every_time_is_transient_and_quarantines_nothing(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01"], ["a"], [3]))
        store = bucket.store()

        def always(_key, number):
            if number > 1:
                raise throttled()

        with_faults(store, always)
        with pytest.raises(TransientImportError) as raised:
            run_metrics(sessions, ds, store, clock)

        assert raised.value.message.startswith(f"Reading s3://{BUCKET}/{PREFIX}2024-01-01.parquet failed temporarily")
        assert files(sessions, ds) == []
        assert [i.status for i in imports(sessions, ds)] == ["FAILED"]
        # Once storage answers again, the same file loads.
        assert run_metrics(sessions, ds, bucket.store(), clock).files_imported == 1

    def test_billing_a_throttled_read_is_retried_and_the_month_loads(self, sessions, settings, moto, billing_s3):
        tenant_id, ds = add_billing_datasource(sessions)
        write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, EXPORT, "2025-10", october(10.0))
        store = billing_store(moto)
        failed = []

        def fail_the_third_get_once(_key, number):
            if number == 3 and not failed:
                failed.append(number)
                raise throttled()

        with_faults(store, fail_the_third_get_once)
        result = import_billing(sessions, ds, store, CostStore(settings.data_dir), retry=NO_WAIT)

        assert failed == [3]
        assert (result.status, result.months_replaced, result.quarantined) == ("SUCCEEDED", ["2025-10"], [])
        assert billed(sessions, settings, tenant_id) == [Decimal("1.250000000000"), Decimal("10.000000000000")]

    def test_billing_a_read_failing_every_time_is_transient_and_quarantines_nothing(
        self, sessions, settings, moto, billing_s3
    ):
        tenant_id, ds = add_billing_datasource(sessions)
        key = write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, EXPORT, "2025-10", october(10.0))
        store = billing_store(moto)

        def always(_key, number):
            if number > 1:
                raise throttled()

        with_faults(store, always)
        with pytest.raises(TransientImportError) as raised:
            import_billing(sessions, ds, store, CostStore(settings.data_dir), retry=NO_WAIT)

        assert raised.value.message.startswith(f"Reading s3://{BILLING_BUCKET}/{key} failed temporarily")
        with sessions() as session:
            datasource = session.get(BillingDatasource, ds)
            assert (datasource.status, datasource.status_message) == ("ERROR", f"Import failed: {raised.value.message}")
            assert session.scalars(
                sa.select(ImportRecord.status).where(ImportRecord.billing_datasource_id == ds)
            ).all() == ["FAILED"]
            assert session.scalars(sa.select(BillingFile.status)).all() == []
        assert periods(sessions, ds) == []
        assert billed(sessions, settings, tenant_id) == []
        assert list((settings.data_dir / "costs").rglob("*.parquet*")) == []  # the unfinished partition removed


class TestReplacedMidRead:
    def test_metrics_a_file_replaced_mid_read_is_read_again_whole(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        first = usage(["2024-01-01", "2024-01-01"], ["a", "b"], [3, 4])
        second = usage(["2024-01-01", "2024-01-01"], ["a", "b"], [30, 40])
        bucket.put("2024-01-01.parquet", first)
        store = bucket.store()
        replaced = []

        def replace_after_the_first_read(key, number):
            if number == 2 and not replaced:  # the footer is read; the data is not yet
                replaced.append(bucket.put("2024-01-01.parquet", second))

        with_faults(store, replace_after_the_first_read)
        summary = run_metrics(sessions, ds, store, clock)

        assert summary.files_imported == 1
        assert values(sessions, ds) == [("2024-01-01", team("a"), 30.0, 1), ("2024-01-01", team("b"), 40.0, 1)]
        with sessions() as session:
            assert session.scalars(sa.select(MetricFile.etag)).all() == replaced

    def test_billing_a_file_replaced_mid_read_is_read_again_whole(self, sessions, settings, moto, billing_s3):
        tenant_id, ds = add_billing_datasource(sessions)
        key = write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, EXPORT, "2025-10", october(10.0))
        store = billing_store(moto)
        replaced = []

        def replace_after_the_first_read(_key, number):
            if number == 2 and not replaced:
                replaced.append(write_cur(billing_s3, BILLING_BUCKET, BILLING_PREFIX, EXPORT, "2025-10", october(99.0)))

        client = with_faults(store, replace_after_the_first_read)
        result = import_billing(sessions, ds, store, CostStore(settings.data_dir), retry=NO_WAIT)

        assert replaced == [key]
        assert (result.status, result.months_replaced) == ("SUCCEEDED", ["2025-10"])
        assert billed(sessions, settings, tenant_id) == [Decimal("1.250000000000"), Decimal("99.000000000000")]
        assert periods(sessions, ds) == [("2025-10", 2, "100.250000000000")]
        etag = billing_s3.head_object(Bucket=BILLING_BUCKET, Key=key)["ETag"].strip('"')
        with sessions() as session:
            assert session.scalars(sa.select(BillingFile.etag)).all() == [etag]
        assert len(client.gets) > 2


    def test_metrics_a_file_replaced_on_every_read_is_transient_and_loads_nothing(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01"], ["a"], [3]))
        store = bucket.store()

        def replace_before_every_read(_key, _number):
            bucket.put("2024-01-01.parquet", usage(["2024-01-01"], ["a"], [float(_number)]))

        with_faults(store, replace_before_every_read)
        with pytest.raises(TransientImportError) as raised:
            run_metrics(sessions, ds, store, clock)

        assert raised.value.message == (
            f"s3://{BUCKET}/{PREFIX}2024-01-01.parquet was replaced 3 times while it was read; the import is retried "
            "automatically once the export stops rewriting it."
        )
        assert values(sessions, ds) == []
        assert files(sessions, ds) == []


class TestKeysThatCouldNameAnotherObject:
    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            (
                "escape/../../other-tenant/2024-01-01.parquet",
                "Not read: the key has a `.` or `..` segment, which could name another object; rename the object.",
            ),
            (
                "double//2024-01-01.parquet",
                "Not read: the key has an empty segment (`//`), which could name another object; rename the object.",
            ),
            (
                "./2024-01-01.parquet",
                "Not read: the key has a `.` or `..` segment, which could name another object; rename the object.",
            ),
        ],
        ids=["dot-dot", "double-slash", "dot"],
    )
    def test_metrics_the_key_is_quarantined_unread_and_the_others_load(self, sessions, bucket, clock, name, reason):
        victim = usage(["2024-01-01"], ["victim"], [1000])
        bucket.put("2024-01-01.parquet", victim, prefix="other-tenant/")
        ds = add_datasource(sessions)
        bucket.put(name, victim)
        bucket.put("2024-01-02.parquet", usage(["2024-01-02"], ["a"], [5]))
        store = bucket.store()
        client = with_faults(store, lambda _key, _number: None)

        summary = run_metrics(sessions, ds, store, clock)

        assert (summary.status.value, summary.files_imported, summary.files_quarantined) == ("PARTIAL", 1, 1)
        assert [q.reason for q in summary.quarantined] == [reason]
        assert values(sessions, ds) == [("2024-01-02", team("a"), 5.0, 1)]
        assert {key for key in client.gets} == {f"{PREFIX}2024-01-02.parquet"}

    def test_billing_a_dot_dot_key_never_reads_another_tenants_bill(self, sessions, settings, moto, billing_s3):
        victim_key = write_cur(billing_s3, BILLING_BUCKET, "tenant-a/", EXPORT, "2026-01", october(500.0))
        tenant_id, ds = add_billing_datasource(sessions, prefix="tenant-b/")
        escape = f"tenant-b/{EXPORT}/data/BILLING_PERIOD=2026-05/../../../../{victim_key}"
        billing_s3.copy_object(
            Bucket=BILLING_BUCKET, Key=escape, CopySource={"Bucket": BILLING_BUCKET, "Key": victim_key}
        )
        store = billing_store(moto, prefix="tenant-b/")
        client = with_faults(store, lambda _key, _number: None)

        result = import_billing(sessions, ds, store, CostStore(settings.data_dir), retry=NO_WAIT)

        assert (result.status, result.months_replaced) == ("PARTIAL", [])
        assert result.quarantined == [
            (escape, "Not read: the key has a `.` or `..` segment, which could name another object; rename the object.")
        ]
        assert client.gets == []
        assert billed(sessions, settings, tenant_id) == []
