"""The reader's aggregation paths give the same exact groups: int64 keys counted with one bincount (dense), sorted
first (sparse), re-keyed when a dimension outgrows its capacity, and the Arrow group-by taking over past int64."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from control_plane.metrics import reader
from control_plane.metrics.reader import Aggregation, MetricSpec, read_metrics
from tests.control_plane.imports.support import parquet_bytes

#  date        team  region  calls      batch (batch_size=2)
#  2024-01-02  a     eu       1.5       1
#  2024-01-01  a     eu       2.25      1
#  2024-01-01  b     null     4         2   (team b and a null region first seen here)
#  2024-01-01  a     eu       0.25      2
#  2099-12-31  c     us       8         3   (two new values: team c, region us; the last day there is)
#  2024-01-01  b     null     6         3
DATA = {
    "date": ["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-01", "2099-12-31", "2024-01-01"],
    "team": ["a", "a", "b", "a", "c", "b"],
    "region": ["eu", "eu", None, "eu", "us", None],
    "api_call_count": [1.5, 2.25, 4.0, 0.25, 8.0, 6.0],
}
BY_BOTH = MetricSpec("calls", "date", "api_call_count", ("team", "region"), Aggregation.SUM)
MEAN = MetricSpec("mean", "date", "api_call_count", ("region",), Aggregation.AVERAGE)
# Sorted by (day, team, region), a null last:
#   2024-01-01 a eu: 2.25 + 0.25 = 2.5 (2 rows); b null: 4 + 6 = 10 (2 rows); 2024-01-02 a eu 1.5; 2099-12-31 c us 8.
SUMS = [
    (date(2024, 1, 1), "a", "eu", 2.5, 2),
    (date(2024, 1, 1), "b", None, 10.0, 2),
    (date(2024, 1, 2), "a", "eu", 1.5, 1),
    (date(2099, 12, 31), "c", "us", 8.0, 1),
]
# By region: 2024-01-01 eu (2.25 + 0.25) / 2 = 1.25; null (4 + 6) / 2 = 5; 2024-01-02 eu 1.5; 2099-12-31 us 8.
MEANS = [
    (date(2024, 1, 1), "eu", 1.25, 2),
    (date(2024, 1, 1), None, 5.0, 2),
    (date(2024, 1, 2), "eu", 1.5, 1),
    (date(2099, 12, 31), "us", 8.0, 1),
]


def rows(table: pa.Table) -> list[tuple]:
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def read(data=DATA, row_group_size: int = 2, **kwargs) -> dict[str, list[tuple]]:
    """Row groups of 2 by default: each has its own dictionaries, so values are first seen batch by batch."""
    body = parquet_bytes(data, row_group_size=row_group_size)
    return {name: rows(t) for name, t in read_metrics(body, [BY_BOTH, MEAN], **kwargs).items()}


@pytest.mark.parametrize("row_group_size", [2, 6], ids=["row groups of 2", "one row group"])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 6], ids=lambda n: f"batch_size={n}")
def test_same_groups_whatever_the_batches(batch_size, row_group_size):
    assert read(batch_size=batch_size, row_group_size=row_group_size) == {"calls": SUMS, "mean": MEANS}


def test_groups_held_densely_are_re_keyed_when_a_dimension_outgrows_its_capacity(monkeypatch):
    # Batch 1 (a eu) gives team and region capacity 2; batch 2 brings b and a null region (team capacity 4),
    # batch 3 c and us (region capacity 4): the groups held are re-keyed twice, then made dense again.
    windows = []
    original = reader._Partials._window

    def spy(self, low, high):
        first = original(self, low, high)
        windows.append((self.spec.metric_name, tuple(self.capacities), first is not None))
        return first

    monkeypatch.setattr(reader._Partials, "_window", spy)
    assert read(batch_size=2) == {"calls": SUMS, "mean": MEANS}
    assert [w for w in windows if w[0] == "calls"] == [
        ("calls", (2, 2), True),
        ("calls", (4, 2), True),
        ("calls", (4, 4), True),
    ]


def test_groups_become_sparse_once_their_keys_span_too_much(monkeypatch):
    # With a window of 20 keys: 2024-01-02 then 2024-01-01 fit (day codes 1 apart x capacity 4 = 4 + codes);
    # 2099-12-31 does not, and the groups go on as sorted keys.
    monkeypatch.setattr(reader, "_DENSE_SPAN", 20)
    assert read(batch_size=2) == {"calls": SUMS, "mean": MEANS}


def test_sorted_keys_when_a_batch_spans_too_many_keys_to_count_densely(monkeypatch):
    # 2024-01-01 and 2099-12-31 in one batch span ~27,700 days x 8 codes: more than a dense count of 1 allows.
    monkeypatch.setattr(reader, "_DENSE_SPAN", 1)
    assert read(batch_size=6) == {"calls": SUMS, "mean": MEANS}


@pytest.mark.parametrize("limit_reached_at", ["first batch", "third batch"])
def test_arrow_group_by_takes_over_past_the_key_limit(monkeypatch, limit_reached_at):
    # Keys are day code x team capacity x region capacity. Team capacities go 1 -> 2 (a) -> 4 (b, c), region
    # capacities 1 -> 2 (eu) -> 4 (null's code 0 was there; us makes 3 codes). The second limit lets the second
    # batch's _DAYS x 4 x 2 through, not the third's _DAYS x 4 x 4.
    limit = 1 if limit_reached_at == "first batch" else reader._DAYS * 4 * 2 + 1
    monkeypatch.setattr(reader, "_KEY_LIMIT", limit)
    partials = []
    original = reader._GroupBy.__init__

    def record(self, spec):
        original(self, spec)
        partials.append(spec.metric_name)

    monkeypatch.setattr(reader._GroupBy, "__init__", record)
    assert read(batch_size=2) == {"calls": SUMS, "mean": MEANS}
    # BY_BOTH needs 4 x 4 codes in the third batch; MEAN's one dimension (4 codes) stays under the limit.
    assert partials == (["calls", "mean"] if limit_reached_at == "first batch" else ["calls"])


def test_dimension_types_become_text_and_nulls_stay_null():
    data = {
        "date": pa.array([date(2024, 3, 1), date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 1)], pa.date32()),
        "shard": pa.array([7, None, 7, 7], pa.int64()),
        "beta": pa.array([True, False, None, True]),
        "cohort": pa.array([date(2023, 1, 1)] * 4, pa.date32()),
        "nothing": pa.nulls(4),
        "n": [1, 2, 3, 4],
    }
    spec = MetricSpec("n", "date", "n", ("shard", "beta", "cohort", "nothing"))
    assert rows(read_metrics(parquet_bytes(data), [spec], batch_size=2)["n"]) == [
        (date(2024, 3, 1), "7", "true", "2023-01-01", None, 5.0, 2),
        (date(2024, 3, 1), None, "false", "2023-01-01", None, 2.0, 1),
        (date(2024, 3, 2), "7", None, "2023-01-01", None, 3.0, 1),
    ]


def test_an_empty_file_gives_empty_typed_tables():
    empty = {
        "date": pa.array([], pa.date32()),
        "team": pa.array([], pa.string()),
        "region": pa.array([], pa.string()),
        "api_call_count": pa.array([], pa.float64()),
    }
    tables = read_metrics(parquet_bytes(empty), [BY_BOTH])
    assert tables["calls"].num_rows == 0
    assert [str(t) for t in tables["calls"].schema.types] == ["date32[day]", "string", "string", "double", "int64"]
