"""read_metrics and columns_problem: one file in, per-metric daily aggregates out (or a quarantine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from control_plane.imports.errors import ObjectReadError, Quarantine
from control_plane.metrics.reader import Aggregation, MetricSpec, columns_problem, read_metrics
from tests.control_plane.imports.support import CountingFile, FailingFile, parquet_bytes

CALLS = MetricSpec("api_calls", "date", "api_call_count", ("team",), Aggregation.SUM)
RESEND = "upload the file again (the same key is fine)"


def rows(table: pa.Table) -> list[tuple]:
    """Rows by column position (a dimension may be named like an output column)."""
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def read_one(data, spec: MetricSpec = CALLS, **kwargs) -> list[tuple]:
    body = data if isinstance(data, bytes) else parquet_bytes(data)
    return rows(read_metrics(body, [spec], **kwargs)[spec.metric_name])


def quarantine_reason(data, specs=(CALLS,), **kwargs) -> str:
    body = data if isinstance(data, bytes) else parquet_bytes(data)
    with pytest.raises(Quarantine) as raised:
        read_metrics(body, list(specs), **kwargs)
    return raised.value.reason


class TestAggregation:
    def test_sum_and_average_of_the_same_rows(self):
        #  date        team  region  calls
        #  2024-01-01  a     eu      10
        #  2024-01-01  a     us      20
        #  2024-01-01  a     eu       3
        #  2024-01-01  b     eu       5
        #  2024-01-02  a     us       7
        #  2024-01-02  null  eu       1
        data = {
            "date": ["2024-01-01"] * 4 + ["2024-01-02"] * 2,
            "team": ["a", "a", "a", "b", "a", None],
            "region": ["eu", "us", "eu", "eu", "us", "eu"],
            "api_call_count": [10, 20, 3, 5, 7, 1],
        }
        total = MetricSpec("calls", "date", "api_call_count", ("team",), Aggregation.SUM)
        mean = MetricSpec("mean_calls", "date", "api_call_count", ("team",), Aggregation.AVERAGE)
        by_both = MetricSpec("by_region", "date", "api_call_count", ("team", "region"), Aggregation.AVERAGE)
        daily = MetricSpec("daily", "date", "api_call_count", (), Aggregation.SUM)

        result = read_metrics(parquet_bytes(data), [total, mean, by_both, daily], batch_size=2)

        assert rows(result["calls"]) == [
            (date(2024, 1, 1), "a", 33.0, 3),
            (date(2024, 1, 1), "b", 5.0, 1),
            (date(2024, 1, 2), "a", 7.0, 1),
            (date(2024, 1, 2), None, 1.0, 1),
        ]
        assert rows(result["mean_calls"]) == [
            (date(2024, 1, 1), "a", 11.0, 3),
            (date(2024, 1, 1), "b", 5.0, 1),
            (date(2024, 1, 2), "a", 7.0, 1),
            (date(2024, 1, 2), None, 1.0, 1),
        ]
        assert rows(result["by_region"]) == [
            (date(2024, 1, 1), "a", "eu", 6.5, 2),
            (date(2024, 1, 1), "a", "us", 20.0, 1),
            (date(2024, 1, 1), "b", "eu", 5.0, 1),
            (date(2024, 1, 2), "a", "us", 7.0, 1),
            (date(2024, 1, 2), None, "eu", 1.0, 1),
        ]
        assert rows(result["daily"]) == [(date(2024, 1, 1), 38.0, 4), (date(2024, 1, 2), 8.0, 2)]

    def test_output_schema(self):
        table = read_metrics(
            parquet_bytes({"date": ["2024-01-01"], "team": ["a"], "api_call_count": [1]}), [CALLS]
        )["api_calls"]
        assert table.schema == pa.schema(
            [("day", pa.date32()), ("team", pa.string()), ("value", pa.float64()), ("row_count", pa.int64())]
        )

    def test_average_is_over_rows_across_batches(self):
        # 2024-01-01 / a: 1, 2, 3, 4, 5, 6 spread over three batches of two → mean 3.5 over 6 rows.
        data = {
            "date": ["2024-01-01"] * 6,
            "team": ["a"] * 6,
            "api_call_count": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
        spec = MetricSpec("m", "date", "api_call_count", ("team",), Aggregation.AVERAGE)
        assert read_one(data, spec, batch_size=2) == [(date(2024, 1, 1), "a", 3.5, 6)]

    def test_dimensions_of_other_types_become_strings_and_nulls_stay_null(self):
        table = pa.table(
            {
                "date": ["2024-01-01"] * 4,
                "shard": pa.array([1, 1, None, 2], pa.int16()),
                "paid": [True, True, False, None],
                "team": pa.array(["x", "x", "y", None]).dictionary_encode(),
                "api_call_count": [1, 2, 3, 4],
            }
        )
        spec = MetricSpec("m", "date", "api_call_count", ("shard", "paid", "team"))
        assert read_one(parquet_bytes(table), spec) == [
            (date(2024, 1, 1), "1", "true", "x", 3.0, 2),
            (date(2024, 1, 1), "2", None, None, 4.0, 1),
            (date(2024, 1, 1), None, "false", "y", 3.0, 1),
        ]

    def test_integer_decimal_and_zero_values(self):
        table = pa.table(
            {
                "date": ["2024-01-01", "2024-01-01", "2024-01-02"],
                "team": ["a", "a", "a"],
                "api_call_count": pa.array(
                    [Decimal("1.25"), Decimal("0.00"), Decimal("2.50")], pa.decimal128(5, 2)
                ),
            }
        )
        assert read_one(parquet_bytes(table)) == [
            (date(2024, 1, 1), "a", 1.25, 2),
            (date(2024, 1, 2), "a", 2.5, 1),
        ]

    def test_no_rows_is_valid_and_empty(self):
        table = pa.table(
            {
                "date": pa.array([], pa.date32()),
                "team": pa.array([], pa.string()),
                "api_call_count": pa.array([], pa.int64()),
            }
        )
        result = read_metrics(parquet_bytes(table), [CALLS])["api_calls"]
        assert result.num_rows == 0
        assert result.column_names == ["day", "team", "value", "row_count"]

    def test_dimension_named_like_an_output_column(self):
        spec = MetricSpec("m", "date", "api_call_count", ("value",))
        table = read_metrics(
            parquet_bytes({"date": ["2024-01-01"], "value": ["v1"], "api_call_count": [2]}), [spec]
        )["m"]
        assert table.column_names == ["day", "value", "value", "row_count"]
        assert rows(table) == [(date(2024, 1, 1), "v1", 2.0, 1)]

    def test_reads_only_the_needed_columns(self):
        # A wide payload column the metric does not use is never fetched.
        n = 20_000
        data = {
            "date": ["2024-01-01"] * n,
            "team": ["a"] * n,
            "api_call_count": [1] * n,
            "payload": [f"{i:0>200}" for i in range(n)],
        }
        body = parquet_bytes(data, compression="none")
        source = CountingFile(body)
        result = read_metrics(pa.PythonFile(source, mode="r"), [CALLS])
        assert rows(result["api_calls"]) == [(date(2024, 1, 1), "a", float(n), n)]
        assert source.bytes_read < len(body) / 10


class TestDates:
    def test_timestamps_with_a_zone_take_the_utc_day(self):
        new_york = timezone(timedelta(hours=-5))
        instants = [
            datetime(2024, 1, 1, 20, 0, tzinfo=new_york),  # 2024-01-02 01:00 UTC
            datetime(2024, 1, 1, 18, 59, tzinfo=new_york),  # 2024-01-01 23:59 UTC
            datetime(2024, 1, 2, 0, 30, tzinfo=UTC),
        ]
        table = pa.table(
            {
                "date": pa.array(instants, pa.timestamp("us", tz="UTC")).cast(
                    pa.timestamp("us", tz="America/New_York")
                ),
                "team": ["a", "a", "a"],
                "api_call_count": [1, 2, 4],
            }
        )
        assert read_one(parquet_bytes(table)) == [
            (date(2024, 1, 1), "a", 2.0, 1),
            (date(2024, 1, 2), "a", 5.0, 2),
        ]

    def test_timestamps_in_a_zone_ahead_of_utc(self):
        # 2024-01-02 08:30 in Tokyo is 2024-01-01 23:30 UTC.
        instant = datetime(2024, 1, 1, 23, 30, tzinfo=UTC)
        table = pa.table(
            {
                "date": pa.array([instant], pa.timestamp("ms", tz="UTC")).cast(
                    pa.timestamp("ms", tz="Asia/Tokyo")
                ),
                "team": ["a"],
                "api_call_count": [1],
            }
        )
        assert read_one(parquet_bytes(table)) == [(date(2024, 1, 1), "a", 1.0, 1)]

    def test_naive_timestamps_are_utc(self):
        table = pa.table(
            {
                "date": pa.array(
                    [datetime(2024, 1, 1, 23, 59, 59), datetime(2024, 1, 2, 0, 0)], pa.timestamp("s")
                ),
                "team": ["a", "a"],
                "api_call_count": [1, 2],
            }
        )
        assert read_one(parquet_bytes(table)) == [
            (date(2024, 1, 1), "a", 1.0, 1),
            (date(2024, 1, 2), "a", 2.0, 1),
        ]

    def test_date32_and_date64(self):
        for data_type in (pa.date32(), pa.date64()):
            table = pa.table(
                {"date": pa.array([date(2024, 2, 29)], data_type), "team": ["a"], "api_call_count": [3]}
            )
            assert read_one(parquet_bytes(table)) == [(date(2024, 2, 29), "a", 3.0, 1)]

    def test_iso_strings(self):
        texts = [
            "2024-01-01",  # a date
            "2024-01-01T23:30:00-02:00",  # 2024-01-02 01:30 UTC
            "2024-01-02 00:15:00+05:30",  # 2024-01-01 18:45 UTC
            "2024-01-02T10:00:00Z",
            "2024-01-02T10:00:00.123456+0000",
            "2024-01-02T23:59",  # no offset: UTC already
            " 2024-01-03 ",  # surrounding blanks are ignored
        ]
        data = {"date": texts, "team": ["a"] * len(texts), "api_call_count": [1, 2, 4, 8, 16, 32, 64]}
        assert read_one(data, batch_size=3) == [
            (date(2024, 1, 1), "a", 5.0, 2),
            (date(2024, 1, 2), "a", 58.0, 4),
            (date(2024, 1, 3), "a", 64.0, 1),
        ]

    def test_dictionary_encoded_date_strings(self):
        table = pa.table(
            {
                "date": pa.array(["2024-01-01", "2024-01-01", "2024-01-02"]).dictionary_encode(),
                "team": ["a", "a", "a"],
                "api_call_count": [1, 1, 1],
            }
        )
        assert read_one(parquet_bytes(table)) == [
            (date(2024, 1, 1), "a", 2.0, 2),
            (date(2024, 1, 2), "a", 1.0, 1),
        ]


class TestQuarantine:
    def test_not_parquet(self):
        assert quarantine_reason(b"date,team,api_call_count\n2024-01-01,a,1\n") == (
            "Not a Parquet file (Parquet magic bytes not found in footer). Write the export in Parquet format and "
            f"{RESEND}."
        )

    def test_empty_object(self):
        assert quarantine_reason(b"") == (
            f"Not a Parquet file (Parquet file size is 0 bytes). Write the export in Parquet format and {RESEND}."
        )

    def test_truncated(self):
        body = parquet_bytes(
            {"date": ["2024-01-01"] * 100, "team": ["a"] * 100, "api_call_count": list(range(100))}
        )
        assert quarantine_reason(body[: len(body) // 2]) == (
            "Truncated or damaged Parquet file (Parquet magic bytes not found in footer). Upload the complete file "
            "again (the same key is fine)."
        )

    def test_damaged_data_pages(self):
        n = 10_000
        body = bytearray(
            parquet_bytes(
                {
                    "date": ["2024-01-01"] * n,
                    "team": [f"t{i}" for i in range(n)],
                    "api_call_count": list(range(n)),
                },
                compression="snappy",
                use_dictionary=False,
            )
        )
        footer_length = int.from_bytes(body[-8:-4], "little")
        for i in range(200, len(body) - footer_length - 200, 7):
            body[i] = 0xFF
        reason = quarantine_reason(bytes(body))
        assert reason.startswith("Truncated or damaged Parquet file (")
        assert reason.endswith("). Upload the complete file again (the same key is fine).")

    def test_missing_column(self):
        data = {"day": ["2024-01-01"], "team": ["a"], "api_call_count": [1]}
        assert quarantine_reason(data) == (
            "Metric `api_calls`: Column `date` (`date_column`) is not in the file; its columns are `day`, `team`, "
            "`api_call_count`. Rename the column in the export or change `date_column`."
        )

    def test_missing_dimension_shared_by_two_metrics(self):
        other = MetricSpec("api_calls_avg", "date", "api_call_count", ("team",), Aggregation.AVERAGE)
        data = {"date": ["2024-01-01"], "api_call_count": [1]}
        assert quarantine_reason(data, (CALLS, other)) == (
            "Metrics `api_calls` and `api_calls_avg`: Column `team` (`dimensions`) is not in the file; its columns "
            "are `date`, `api_call_count`. Rename the column in the export or change `dimensions`."
        )

    def test_mistyped_value_column(self):
        data = {"date": ["2024-01-01"], "team": ["a"], "api_call_count": ["12"]}
        assert quarantine_reason(data) == (
            "Metric `api_calls`: Column `api_call_count` (`value_column`) has type string; expected numbers "
            "(integer, floating point or decimal). Change the column's type in the export or point `value_column` "
            "at another column."
        )

    def test_mistyped_date_column(self):
        data = {"date": [20240101], "team": ["a"], "api_call_count": [1]}
        assert quarantine_reason(data) == (
            "Metric `api_calls`: Column `date` (`date_column`) has type int64; expected a date, a timestamp or ISO "
            "8601 date strings (YYYY-MM-DD). Change the column's type in the export or point `date_column` at "
            "another column."
        )

    def test_mistyped_dimension(self):
        data = {"date": ["2024-01-01"], "team": [1.5], "api_call_count": [1]}
        assert quarantine_reason(data) == (
            "Metric `api_calls`: Column `team` (`dimensions`) has type double; expected strings, integers, "
            "booleans or dates. Change the column's type in the export or point `dimensions` at another column."
        )

    def test_null_dates(self):
        data = {"date": ["2024-01-01", None, None], "team": ["a"] * 3, "api_call_count": [1, 2, 3]}
        assert quarantine_reason(data) == (
            f"2 rows with a null `date` (every row needs a date). Correct these rows in the export and {RESEND}."
        )

    def test_null_timestamp(self):
        table = pa.table(
            {
                "date": pa.array([None, datetime(2024, 1, 1)], pa.timestamp("us")),
                "team": ["a", "a"],
                "api_call_count": [1, 2],
            }
        )
        assert quarantine_reason(parquet_bytes(table)) == (
            f"1 row with a null `date` (every row needs a date). Correct these rows in the export and {RESEND}."
        )

    def test_unparseable_date_strings(self):
        data = {
            "date": ["2024-01-01", "01/02/2024", "2024-02-30", "2024-1-5", "2024-01-01T25:00:00"],
            "team": ["a"] * 5,
            "api_call_count": [1] * 5,
        }
        assert quarantine_reason(data) == (
            "4 rows with a `date` that is not an ISO 8601 date (YYYY-MM-DD, or a date-time with an optional UTC "
            f"offset), e.g. `01/02/2024`. Correct these rows in the export and {RESEND}."
        )

    def test_nan_values(self):
        data = {
            "date": ["2024-01-01"] * 3,
            "team": ["a"] * 3,
            "api_call_count": [1.0, float("nan"), float("nan")],
        }
        assert quarantine_reason(data) == (
            f"2 rows with NaN in `api_call_count`. Correct these rows in the export and {RESEND}."
        )

    def test_infinite_values(self):
        data = {
            "date": ["2024-01-01"] * 3,
            "team": ["a"] * 3,
            "api_call_count": [float("inf"), 1.0, float("-inf")],
        }
        assert quarantine_reason(data) == (
            f"2 rows with an infinite `api_call_count`. Correct these rows in the export and {RESEND}."
        )

    def test_negative_values(self):
        data = {"date": ["2024-01-01"] * 3, "team": ["a"] * 3, "api_call_count": [-1, 0, -5]}
        assert quarantine_reason(data) == (
            "2 rows with a negative `api_call_count` (values must be zero or more). Correct these rows in the "
            f"export and {RESEND}."
        )

    def test_null_values(self):
        data = {"date": ["2024-01-01"] * 2, "team": ["a"] * 2, "api_call_count": [None, 1]}
        assert quarantine_reason(data) == (
            "1 row with a null `api_call_count` (write 0 when there is nothing to count). Correct these rows in the "
            f"export and {RESEND}."
        )

    def test_every_problem_counted_exactly_across_batches(self):
        # Bad rows in the first and last of four batches: counts cover the whole file.
        data = {
            "date": [None, "2024-01-01", "2024-01-01", "2024-01-01", "2024-01-01", "2024-01-01", "bad", None],
            "team": ["a"] * 8,
            "api_call_count": [-1.0, 1.0, 1.0, 1.0, 1.0, 1.0, float("nan"), None],
        }
        assert quarantine_reason(data, batch_size=2) == (
            "2 rows with a null `date` (every row needs a date); 1 row with a `date` that is not an ISO 8601 date "
            "(YYYY-MM-DD, or a date-time with an optional UTC offset), e.g. `bad`; 1 row with a null "
            "`api_call_count` (write 0 when there is nothing to count); 1 row with NaN in `api_call_count`; 1 row "
            "with a negative `api_call_count` (values must be zero or more). "
            f"Correct these rows in the export and {RESEND}."
        )

    def test_a_storage_failure_is_not_a_quarantine(self):
        n = 100_000
        body = parquet_bytes(
            {
                "date": ["2024-01-01"] * n,
                "team": [f"t{i}" for i in range(n)],
                "api_call_count": list(range(n)),
            },
            compression="none",
        )
        with pytest.raises(ObjectReadError):
            read_metrics(pa.PythonFile(FailingFile(body), mode="r"), [CALLS])


class TestColumnsProblem:
    def test_usable_columns(self):
        schema = pa.schema(
            [
                ("date", pa.timestamp("ms", tz="Europe/Paris")),
                ("team", pa.dictionary(pa.int32(), pa.string())),
                ("api_call_count", pa.uint32()),
            ]
        )
        assert columns_problem(schema, CALLS) == []

    def test_each_problem_names_the_definition_field(self):
        schema = pa.schema([("date", pa.bool_()), ("api_call_count", pa.string())])
        assert [field for field, _ in columns_problem(schema, CALLS)] == [
            "date_column",
            "value_column",
            "dimensions",
        ]

    def test_repeated_column(self):
        schema = pa.schema(
            [
                ("date", pa.date32()),
                ("team", pa.string()),
                ("team", pa.string()),
                ("api_call_count", pa.int64()),
            ]
        )
        assert columns_problem(schema, CALLS) == [
            (
                "dimensions",
                "Column `team` (`dimensions`) appears 2 times in the file. "
                "Give each column a distinct name in the export",
            )
        ]

    def test_spec_from_mapping(self):
        spec = MetricSpec.from_mapping(
            {
                "metric_name": "m",
                "gap_filling": "ZERO",
                "aggregation": "Average",
                "value_column": "v",
                "date_column": "d",
                "dimensions": ["a", "b", "a"],
            }
        )
        assert spec == MetricSpec("m", "d", "v", ("a", "b"), Aggregation.AVERAGE)
