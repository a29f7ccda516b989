"""import_datasource end to end: files in moto, values and history in a migrated SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

from control_plane.imports.errors import TerminalImportError, TransientImportError, is_transient
from control_plane.imports.pipeline import DatasourceStatus, ImportStatus, QuarantinedFile, RetryPolicy
from control_plane.metrics import load
from control_plane.metrics.importer import import_datasource
from tests.control_plane.imports.support import (
    PREFIX,
    FailingFile,
    ListedAs,
    Metric,
    add_datasource,
    datasource,
    files,
    imports,
    owners,
    parquet_bytes,
    usage,
    values,
)

RESEND = "upload the file again (the same key is fine)"
WARNING_HEAD = (
    "1 file quarantined: its rows are not imported. Fix each file and upload it again (the same key is fine)."
)


NO_WAIT = RetryPolicy(sleep=lambda _seconds: None)


def run(sessions, datasource_id, store, clock, **kwargs):
    kwargs.setdefault("retry", NO_WAIT)
    return import_datasource(sessions, datasource_id, store, trigger="MANUAL", owner="test:1", now=clock, **kwargs)


def team(name):
    return (("team", name),)


class TestLoading:
    def test_first_import(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01"] * 3, ["a", "a", "b"], [10, 5, 7]))

        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.status, summary.files_seen, summary.files_imported) == (ImportStatus.SUCCEEDED, 1, 1)
        assert (summary.files_unchanged, summary.files_quarantined) == (0, 0)
        assert values(sessions, ds) == [("2024-01-01", team("a"), 15.0, 2), ("2024-01-01", team("b"), 7.0, 1)]
        assert owners(sessions, ds) == {"2024-01-01": f"{PREFIX}2024-01-01.parquet"}
        assert files(sessions, ds) == [(f"{PREFIX}2024-01-01.parquet", "LOADED", None, 3)]
        (record,) = imports(sessions, ds)
        assert (record.status, record.trigger, record.owner, record.error) == (
            "SUCCEEDED",
            "MANUAL",
            "test:1",
            None,
        )
        assert (
            record.files_seen,
            record.files_imported,
            record.files_unchanged,
            record.files_quarantined,
        ) == (1, 1, 0, 0)
        assert record.started_at.replace(tzinfo=UTC) == clock() == record.finished_at.replace(tzinfo=UTC)
        state = datasource(sessions, ds)
        assert (state.status, state.status_message) == ("OK", None)
        assert state.last_import_at.replace(tzinfo=UTC) == clock()

    def test_resent_file_replaces_its_day_and_keeps_the_others(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01", "2024-01-01"], ["a", "b"], [10, 5]))
        bucket.put("2024-01-02.parquet", usage(["2024-01-02"], ["a"], [7]))
        run(sessions, ds, bucket.store(), clock)

        # The customer re-exports the 2nd: new numbers, a new team, team a gone.
        bucket.put("2024-01-02.parquet", usage(["2024-01-02", "2024-01-02"], ["b", "c"], [8, 1]))
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.files_seen, summary.files_imported, summary.files_unchanged) == (2, 1, 1)
        assert values(sessions, ds) == [
            ("2024-01-01", team("a"), 10.0, 1),
            ("2024-01-01", team("b"), 5.0, 1),
            ("2024-01-02", team("b"), 8.0, 1),
            ("2024-01-02", team("c"), 1.0, 1),
        ]
        assert [(key, status) for key, status, _, _ in files(sessions, ds)] == [
            (f"{PREFIX}2024-01-01.parquet", "LOADED"),
            (f"{PREFIX}2024-01-02.parquet", "LOADED"),
            (f"{PREFIX}2024-01-02.parquet", "LOADED"),
        ]

    def test_of_two_new_files_for_a_day_the_later_wins(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("z-first.parquet", usage(["2024-01-01", "2024-01-02"], ["a", "a"], [1, 2]), later=True)
        bucket.put("a-second.parquet", usage(["2024-01-02", "2024-01-03"], ["a", "a"], [20, 30]), later=True)

        run(sessions, ds, bucket.store(), clock)

        assert values(sessions, ds) == [
            ("2024-01-01", team("a"), 1.0, 1),
            ("2024-01-02", team("a"), 20.0, 1),
            ("2024-01-03", team("a"), 30.0, 1),
        ]
        assert owners(sessions, ds) == {
            "2024-01-01": f"{PREFIX}z-first.parquet",
            "2024-01-02": f"{PREFIX}a-second.parquet",
            "2024-01-03": f"{PREFIX}a-second.parquet",
        }

    def test_late_older_file_fills_only_days_nobody_owns(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("new.parquet", usage(["2024-01-01", "2024-01-02"], ["a", "a"], [1, 2]))
        run(sessions, ds, bucket.store(), clock)
        newer = bucket.last_modified(f"{PREFIX}new.parquet")

        # An object received before new.parquet shows up only now (e.g. a delayed replication).
        bucket.put("old.parquet", usage(["2024-01-02", "2024-01-03"], ["a", "a"], [200, 300]))
        late = ListedAs(bucket.store(), {f"{PREFIX}old.parquet": newer - timedelta(hours=1)})
        summary = run(sessions, ds, late, clock)

        assert (summary.files_imported, summary.files_unchanged) == (1, 1)
        assert values(sessions, ds) == [
            ("2024-01-01", team("a"), 1.0, 1),
            ("2024-01-02", team("a"), 2.0, 1),
            ("2024-01-03", team("a"), 300.0, 1),
        ]
        assert owners(sessions, ds) == {
            "2024-01-01": f"{PREFIX}new.parquet",
            "2024-01-02": f"{PREFIX}new.parquet",
            "2024-01-03": f"{PREFIX}old.parquet",
        }

    def test_same_last_modified_the_greater_key_wins(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("b.parquet", usage(["2024-01-01"], ["a"], [2]))
        run(sessions, ds, bucket.store(), clock)
        stamp = bucket.last_modified(f"{PREFIX}b.parquet")
        bucket.put("a.parquet", usage(["2024-01-01"], ["a"], [1]))
        bucket.put("c.parquet", usage(["2024-01-01"], ["a"], [3]))
        same = {f"{PREFIX}a.parquet": stamp, f"{PREFIX}c.parquet": stamp}

        run(sessions, ds, ListedAs(bucket.store(), same), clock)

        assert values(sessions, ds) == [("2024-01-01", team("a"), 3.0, 1)]
        assert owners(sessions, ds) == {"2024-01-01": f"{PREFIX}c.parquet"}

    def test_unchanged_file_is_a_no_op(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01"], ["a"], [4]))
        run(sessions, ds, bucket.store(), clock)

        summary = run(sessions, ds, bucket.store(), clock)

        assert (
            summary.files_seen,
            summary.files_imported,
            summary.files_unchanged,
            summary.files_quarantined,
        ) == (
            1,
            0,
            1,
            0,
        )
        assert values(sessions, ds) == [("2024-01-01", team("a"), 4.0, 1)]
        assert len(files(sessions, ds)) == 1
        assert [(i.status, i.files_unchanged) for i in imports(sessions, ds)] == [
            ("SUCCEEDED", 0),
            ("SUCCEEDED", 1),
        ]

    def test_sum_and_average_across_midnight_utc(self, sessions, bucket, clock):
        ds = add_datasource(
            sessions,
            Metric("requests", "ts", "latency_ms", ("region",), "SUM"),
            Metric("latency", "ts", "latency_ms", ("region",), "Average"),
        )
        paris = [
            datetime(2024, 3, 1, 23, 30, tzinfo=UTC),  # 2024-03-02 00:30 in Paris
            datetime(2024, 3, 1, 22, 0, tzinfo=UTC),
            datetime(2024, 3, 2, 0, 10, tzinfo=UTC),
        ]
        table = pa.table(
            {
                "ts": pa.array(paris, pa.timestamp("us", tz="UTC")).cast(
                    pa.timestamp("us", tz="Europe/Paris")
                ),
                "region": ["eu", "eu", "eu"],
                "latency_ms": [100.0, 50.0, 30.0],
            }
        )
        bucket.put("2024-03-02.parquet", parquet_bytes(table))

        run(sessions, ds, bucket.store(), clock)

        region = (("region", "eu"),)
        assert values(sessions, ds, "requests") == [
            ("2024-03-01", region, 150.0, 2),
            ("2024-03-02", region, 30.0, 1),
        ]
        assert values(sessions, ds, "latency") == [
            ("2024-03-01", region, 75.0, 2),
            ("2024-03-02", region, 30.0, 1),
        ]

    def test_string_dates_and_metrics_without_dimensions(self, sessions, bucket, clock):
        ds = add_datasource(sessions, Metric("calls", "date", "api_call_count", (), "SUM"))
        bucket.put(
            "d.parquet",
            usage(["2024-01-01", "2024-01-01T23:00:00-03:00", "2024-01-02"], ["a", "b", "c"], [1, 2, 4]),
        )

        run(sessions, ds, bucket.store(), clock)

        assert values(sessions, ds, "calls") == [("2024-01-01", (), 1.0, 1), ("2024-01-02", (), 6.0, 2)]

    def test_vanished_object_is_skipped(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("gone.parquet", usage(["2024-01-01"], ["a"], [1]))
        store = bucket.store()
        listing = store.list_parquet()
        bucket.client.delete_object(Bucket="customer-metrics", Key=f"{PREFIX}gone.parquet")

        class Stale:
            def list_parquet(self):
                return listing

            def open(self, key, etag=None):
                return store.open(key, etag)

        summary = run(sessions, ds, Stale(), clock)

        assert (summary.files_seen, summary.files_imported, summary.files_unchanged) == (1, 0, 1)
        assert files(sessions, ds) == []


class TestCrash:
    def test_crash_mid_file_rolls_that_file_back_and_a_rerun_converges(
        self, sessions, bucket, clock, monkeypatch
    ):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", usage(["2024-01-01"], ["a"], [1]), later=True)
        run(sessions, ds, bucket.store(), clock)
        bucket.put("2024-01-02.parquet", usage(["2024-01-02"], ["a"], [2]), later=True)
        bucket.put(
            "2024-01-01.parquet", usage(["2024-01-01", "2024-01-01"], ["a", "b"], [10, 20]), later=True
        )

        real_insert = load.insert_values
        calls = []

        def crash_on_second_file(session, rows):
            calls.append(rows)
            if len(calls) == 2:  # after the second file's delete of 2024-01-01
                raise RuntimeError("connection to the database lost")
            real_insert(session, rows)

        monkeypatch.setattr(load, "insert_values", crash_on_second_file)
        with pytest.raises(RuntimeError, match="connection to the database lost"):
            run(sessions, ds, bucket.store(), clock)

        # The first new file is in; the re-sent one is rolled back whole: old values, old owner, unrecorded.
        assert values(sessions, ds) == [("2024-01-01", team("a"), 1.0, 1), ("2024-01-02", team("a"), 2.0, 1)]
        assert [status for _, status, _, _ in files(sessions, ds)] == ["LOADED", "LOADED"]
        failed = imports(sessions, ds)[-1]
        assert (failed.status, failed.files_seen, failed.files_imported, failed.files_unchanged) == (
            "FAILED",
            2,
            1,
            0,
        )
        assert failed.error == (
            "Internal error (RuntimeError) while importing; the next scheduled import tries again. If this "
            "persists, tell the operator of this control plane."
        )
        state = datasource(sessions, ds)
        assert (state.status, state.status_message) == ("ERROR", f"Import failed: {failed.error}")

        monkeypatch.setattr(load, "insert_values", real_insert)
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.files_seen, summary.files_imported, summary.files_unchanged) == (2, 1, 1)
        assert values(sessions, ds) == [
            ("2024-01-01", team("a"), 10.0, 1),
            ("2024-01-01", team("b"), 20.0, 1),
            ("2024-01-02", team("a"), 2.0, 1),
        ]
        assert datasource(sessions, ds).status == "OK"


def _good_day():
    return usage(["2024-01-01", "2024-01-01"], ["a", "b"], [3, 4])


def _truncated():
    body = usage(["2024-01-02"] * 50, ["a"] * 50, list(range(50)))
    return body[: len(body) // 2]


BROKEN = {
    "not-parquet": (
        b"date,team,api_call_count\n2024-01-01,a,1\n",
        "Not a Parquet file (Parquet magic bytes not found in footer). Write the export in Parquet format and "
        f"{RESEND}.",
    ),
    "truncated": (
        _truncated(),
        "Truncated or damaged Parquet file (Parquet magic bytes not found in footer). Upload the complete file "
        "again (the same key is fine).",
    ),
    "missing-column": (
        parquet_bytes({"date": ["2024-01-01"], "team": ["a"], "calls": [1]}),
        "Metric `api_calls`: Column `api_call_count` (`value_column`) is not in the file; its columns are `date`, "
        "`team`, `calls`. Rename the column in the export or change `value_column`.",
    ),
    "mistyped-column": (
        parquet_bytes({"date": ["2024-01-01"], "team": ["a"], "api_call_count": ["1"]}),
        "Metric `api_calls`: Column `api_call_count` (`value_column`) has type string; expected numbers (integer, "
        "floating point or decimal). Change the column's type in the export or point `value_column` at another "
        "column.",
    ),
    "nan": (
        usage(["2024-01-01", "2024-01-01"], ["a", "b"], [1.0, float("nan")]),
        f"1 row with NaN in `api_call_count`. Correct these rows in the export and {RESEND}.",
    ),
    "inf": (
        usage(["2024-01-01", "2024-01-01"], ["a", "b"], [float("inf"), 1.0]),
        f"1 row with an infinite `api_call_count`. Correct these rows in the export and {RESEND}.",
    ),
    "negative": (
        usage(["2024-01-01", "2024-01-01", "2024-01-01"], ["a", "b", "c"], [-1, -2, 3]),
        "2 rows with a negative `api_call_count` (values must be zero or more). Correct these rows in the export "
        f"and {RESEND}.",
    ),
    "null-date": (
        usage(["2024-01-01", None], ["a", "b"], [1, 2]),
        f"1 row with a null `date` (every row needs a date). Correct these rows in the export and {RESEND}.",
    ),
    "null-value": (
        usage(["2024-01-01", "2024-01-01"], ["a", "b"], [None, 2]),
        "1 row with a null `api_call_count` (write 0 when there is nothing to count). Correct these rows in the "
        f"export and {RESEND}.",
    ),
}


class TestQuarantine:
    @pytest.mark.parametrize("kind", list(BROKEN))
    def test_broken_file_is_quarantined_and_loads_nothing(self, sessions, bucket, clock, kind):
        body, reason = BROKEN[kind]
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", _good_day())
        run(sessions, ds, bucket.store(), clock)
        before = values(sessions, ds)

        bucket.put("broken.parquet", body)
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.status, summary.files_imported, summary.files_quarantined) == (
            ImportStatus.PARTIAL,
            0,
            1,
        )
        assert values(sessions, ds) == before
        assert owners(sessions, ds) == {"2024-01-01": f"{PREFIX}2024-01-01.parquet"}
        assert files(sessions, ds)[-1] == (f"{PREFIX}broken.parquet", "QUARANTINED", reason, 0)
        message = f"{WARNING_HEAD}\n- {PREFIX}broken.parquet: {reason}"
        assert (summary.datasource_status, summary.status_message) == (DatasourceStatus.WARNING, message)
        assert summary.quarantined == (QuarantinedFile(f"{PREFIX}broken.parquet", reason),)
        state = datasource(sessions, ds)
        assert (state.status, state.status_message) == ("WARNING", message)
        assert imports(sessions, ds)[-1].files_quarantined == 1

    def test_warning_stays_while_the_file_is_unchanged_and_clears_on_a_good_resend(
        self, sessions, bucket, clock
    ):
        ds = add_datasource(sessions)
        body, reason = BROKEN["negative"]
        bucket.put("2024-01-01.parquet", body)
        run(sessions, ds, bucket.store(), clock)

        again = run(sessions, ds, bucket.store(), clock)
        assert (again.files_unchanged, again.files_quarantined, again.datasource_status) == (
            1,
            0,
            DatasourceStatus.WARNING,
        )

        bucket.put("2024-01-01.parquet", _good_day())
        fixed = run(sessions, ds, bucket.store(), clock)

        assert (fixed.files_imported, fixed.datasource_status, fixed.status_message) == (
            1,
            DatasourceStatus.OK,
            None,
        )
        assert values(sessions, ds) == [("2024-01-01", team("a"), 3.0, 1), ("2024-01-01", team("b"), 4.0, 1)]
        assert [(status, r) for _, status, r, _ in files(sessions, ds)] == [
            ("QUARANTINED", reason),
            ("LOADED", None),
        ]
        assert datasource(sessions, ds).status == "OK"

    def test_deleting_the_broken_file_clears_the_warning(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", _good_day())
        bucket.put("broken.parquet", BROKEN["nan"][0])
        assert run(sessions, ds, bucket.store(), clock).datasource_status == DatasourceStatus.WARNING

        bucket.client.delete_object(Bucket="customer-metrics", Key=f"{PREFIX}broken.parquet")
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.datasource_status, summary.status_message) == (DatasourceStatus.OK, None)

    def test_message_lists_every_quarantined_file(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.put("a.parquet", BROKEN["nan"][0], later=True)
        bucket.put("b.parquet", BROKEN["null-date"][0], later=True)
        summary = run(sessions, ds, bucket.store(), clock)
        assert summary.status_message == (
            "2 files quarantined: their rows are not imported. Fix each file and upload it again (the same key is "
            f"fine).\n- {PREFIX}a.parquet: {BROKEN['nan'][1]}\n- {PREFIX}b.parquet: {BROKEN['null-date'][1]}"
        )


class _Throttled:
    def list_parquet(self):
        raise ClientError(
            {
                "Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            },
            "ListObjectsV2",
        )

    def open(self, key, etag=None):  # pragma: no cover - never reached
        raise AssertionError


class TestFailures:
    def test_missing_bucket_is_terminal_and_sets_error(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        bucket.client.delete_bucket(Bucket="customer-metrics")

        with pytest.raises(TerminalImportError) as raised:
            run(sessions, ds, bucket.store(), clock)

        assert not is_transient(raised.value)
        message = "Bucket `customer-metrics` does not exist. Create it, or correct `bucket_name`."
        assert raised.value.message == message
        record = imports(sessions, ds)[-1]
        assert (record.status, record.error, record.files_seen) == ("FAILED", message, 0)
        assert record.finished_at.replace(tzinfo=UTC) == clock()
        state = datasource(sessions, ds)
        assert (state.status, state.status_message) == ("ERROR", f"Import failed: {message}")
        assert state.last_import_at.replace(tzinfo=UTC) == clock()

    def test_throttled_listing_is_transient(self, sessions, clock):
        ds = add_datasource(sessions)

        with pytest.raises(TransientImportError) as raised:
            run(sessions, ds, _Throttled(), clock)

        assert is_transient(raised.value)
        message = (
            "Listing s3://customer-metrics/exports/ failed temporarily (SlowDown: Please reduce your request rate.); "
            "the import is retried automatically."
        )
        assert raised.value.message == message
        assert datasource(sessions, ds).status_message == f"Import failed: {message}"

    def test_unreachable_storage_is_transient(self, sessions, clock):
        from control_plane.storage import S3ObjectStore
        from devtools.local import free_port
        from tests.control_plane.imports.support import BUCKET, CREDENTIALS

        ds = add_datasource(sessions)
        store = S3ObjectStore(
            BUCKET,
            PREFIX,
            credentials=CREDENTIALS,
            region="us-east-1",
            endpoint_url=f"http://127.0.0.1:{free_port()}",
        )
        with pytest.raises(TransientImportError, match="EndpointConnectionError"):
            run(sessions, ds, store, clock)

    def test_read_failure_mid_file_is_transient_not_a_quarantine(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        n = 100_000
        body = parquet_bytes(
            {"date": ["2024-01-01"] * n, "team": [f"t{i % 10}" for i in range(n)], "api_call_count": [1] * n},
            compression="none",
            use_dictionary=False,
        )
        bucket.put("big.parquet", body)
        store = bucket.store()

        class Flaky:
            def list_parquet(self):
                return store.list_parquet()

            def open(self, key, etag=None):
                return pa.PythonFile(FailingFile(body), mode="r")

        with pytest.raises(TransientImportError) as raised:
            run(sessions, ds, Flaky(), clock)

        assert raised.value.message.startswith(
            f"Reading s3://customer-metrics/{PREFIX}big.parquet failed temporarily"
        )
        assert files(sessions, ds) == []
        assert values(sessions, ds) == []

        summary = run(sessions, ds, store, clock)
        assert (summary.files_imported, summary.datasource_status) == (1, DatasourceStatus.OK)
        assert values(sessions, ds)[0] == ("2024-01-01", team("t0"), 10_000.0, 10_000)
        assert len(values(sessions, ds)) == 10

    def test_unknown_datasource(self, sessions, bucket, clock):
        with pytest.raises(TerminalImportError, match="does not exist"):
            run(sessions, "mds_missing", bucket.store(), clock)

    def test_status_update_leaves_updated_at_alone(self, sessions, bucket, clock):
        ds = add_datasource(sessions)
        before = datasource(sessions, ds).updated_at
        run(sessions, ds, bucket.store(), clock)
        state = datasource(sessions, ds)
        assert state.updated_at == before
        assert (state.status, state.status_message) == (
            "OK",
            "No `.parquet` files under s3://customer-metrics/exports/ yet; they are imported once your export "
            "writes them.",
        )


class TestDefinitionsChange:
    def test_forgetting_files_reads_them_again_for_new_and_fixed_metrics(self, sessions, bucket, clock):
        from control_plane.metrics.load import delete_metrics, forget_files
        from control_plane.models import MetricDefinition

        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", _good_day(), later=True)
        bucket.put("2024-01-02.parquet", usage(["2024-01-02"], ["a"], [5]), later=True)
        run(sessions, ds, bucket.store(), clock)

        # The metric is replaced by an average of the same column; definitions are edited in place.
        with sessions.begin() as session:
            definition = session.query(MetricDefinition).filter_by(datasource_id=ds).one()
            definition.metric_name, definition.aggregation = "mean_calls", "Average"
            delete_metrics(session, ds, ["api_calls"])
            assert forget_files(session, ds) == 2
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.files_imported, summary.files_unchanged) == (2, 0)
        assert values(sessions, ds) == []
        assert owners(sessions, ds) == {}
        assert values(sessions, ds, "mean_calls") == [
            ("2024-01-01", team("a"), 3.0, 1),
            ("2024-01-01", team("b"), 4.0, 1),
            ("2024-01-02", team("a"), 5.0, 1),
        ]


class TestConcurrentImports:
    def test_a_file_recorded_meanwhile_by_another_import_counts_as_unchanged(
        self, sessions, bucket, clock, monkeypatch
    ):
        from control_plane.metrics import importer
        from control_plane.metrics.load import load_file
        from control_plane.storage import ObjectInfo

        ds = add_datasource(sessions)
        bucket.put("2024-01-01.parquet", _good_day())
        real_read = importer.read_metrics

        def read_while_another_import_loads(source, specs):
            tables = real_read(source, specs)
            (listed,) = bucket.store().list_parquet()
            with sessions.begin() as session:  # the other import wins the race
                load_file(session, ds, ObjectInfo(**vars(listed)), tables, import_id=None, now=clock())
            return tables

        monkeypatch.setattr(importer, "read_metrics", read_while_another_import_loads)
        summary = run(sessions, ds, bucket.store(), clock)

        assert (summary.files_imported, summary.files_unchanged, summary.status) == (
            0,
            1,
            ImportStatus.SUCCEEDED,
        )
        assert values(sessions, ds) == [("2024-01-01", team("a"), 3.0, 1), ("2024-01-01", team("b"), 4.0, 1)]
        assert len(files(sessions, ds)) == 1
