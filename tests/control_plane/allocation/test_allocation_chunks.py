"""The engine works on CHUNK_ROWS rows at a time; the result and the warnings must not depend on the chunk size."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_plane.allocation import (
    Allocation,
    Always,
    ConservationError,
    Equals,
    Exists,
    MappingStrategy,
    Matches,
    Rule,
    ValueMapping,
    VirtualDimension,
    allocate,
    engine,
)

from .helpers import costs, usage
from .reference import reference_allocate
from .test_allocation_oracle import cost_tables, dimensions, outcome, usage_for, usage_rows


@contextmanager
def chunk_rows(size: int):
    saved = engine.CHUNK_ROWS
    engine.CHUNK_ROWS = size
    try:
        yield
    finally:
        engine.CHUNK_ROWS = saved


def assert_same(got, expected) -> None:
    if expected[0] == "error":
        assert got == expected
        return
    assert got[0].schema == expected[0].schema
    assert got[0].to_pydict() == expected[0].to_pydict()
    assert got[1] == expected[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cost_tables(), dimensions, usage_rows, st.sampled_from([1, 2, 3, 7]))
def test_tiny_chunks_give_the_one_chunk_result_and_the_oracles(table, dimension, rows, size):
    tables = usage_for(dimension, rows)
    whole = outcome(allocate, table, dimension, tables)
    with chunk_rows(size):
        chunked = outcome(allocate, table, dimension, tables)
    assert_same(chunked, whole)
    assert_same(chunked, outcome(reference_allocate, table, dimension, tables))


DAYS = [date(2026, 11, d) for d in range(1, 8)]
MANUAL = ValueMapping(MappingStrategy.MANUAL, table={"role/a": "team-a", "role/b": "team-b"})
DIMENSION = VirtualDimension(
    "team",
    (
        Rule(
            "gateway",
            Equals("ServiceName", "Gateway"),
            Allocation.metric(ValueMapping(MappingStrategy.REGEX, regex=r"^(t\w)/")),
        ),
        Rule(
            "split",
            Equals("RegionId", "eu"),
            Allocation.split_percent({"x": "33.3", "y": "33.3", "z": "33.4"}),
        ),
        Rule("even", Equals("RegionId", "us"), Allocation.split_even(["p", "q", "r", "s", "t", "u", "v"])),
        Rule("principal", Matches("x_IamPrincipal", "^role/"), Allocation.from_column("x_IamPrincipal", MANUAL)),
        Rule(
            "tagged",
            Exists("tag:team"),
            Allocation.from_column("tag:team", ValueMapping(MappingStrategy.REGEX, regex="^(a)$")),
        ),
        Rule("rest", Equals("ServiceName", "S3"), Allocation.fixed("storage")),
    ),
)


def many_rows() -> pa.Table:
    """60 rows touching every warning, every rule kind and ties, with shuffled row ids."""
    rows = []
    for i in range(60):
        rows.append(
            {
                "row_id": (i * 37) % 61,  # unique, not sorted
                "ChargePeriodStart": DAYS[i % len(DAYS)],
                "BilledCost": None if i % 11 == 3 else f"{(i * 7919) % 2000 / 100 - 3:.6f}",
                "ServiceName": ["Gateway", "EC2", "S3", None][i % 4],
                "RegionId": ["eu", "us", None, None, None, None][i % 6],
                "x_IamPrincipal": [None, "role/a", "role/zz", "user/q"][i % 7 % 4],
                "Tags": {"team": ["a", "", "b"][i % 3]} if i % 2 else None,
            }
        )
    return costs(*rows)


USAGE = {
    "gateway": usage(
        *[(day, owner, value) for day in DAYS[:4] for owner, value in (("ta/x", 3), ("tb/y", 1), ("nobody", 2))],
        (DAYS[4], "ta/x", 0),
    )
}


def test_every_warning_is_counted_over_all_chunks():
    table = many_rows()
    whole = allocate(table, DIMENSION, USAGE)
    assert whole.allocations.column("row_id").num_chunks == 1
    # each warning sums or unites over rows that land in different chunks
    assert whole.warnings == [
        "6 cost rows with a null BilledCost were counted as 0",
        "rule gateway: 3 days without usage went to Unallocated",
        "rule gateway: usage of 1 owners that map to nothing went to Unallocated (nobody)",
        "rule principal: 8 rows whose x_IamPrincipal maps to nothing went to Unallocated",
        "rule tagged: 5 rows whose tag:team maps to nothing went to Unallocated",
    ]
    for size in (1, 2, 5, 13, 59):
        with chunk_rows(size):
            chunked = allocate(table, DIMENSION, USAGE)
        assert chunked.allocations.column("row_id").num_chunks == -(-60 // size)
        assert chunked.allocations.equals(whole.allocations)
        assert chunked.warnings == whole.warnings
    assert whole.allocations.equals(reference_allocate(table, DIMENSION, USAGE).allocations)


def test_input_chunks_with_different_dictionaries_are_unified():
    # the input arrives in chunks whose dictionary-encoded columns have different dictionaries
    table = many_rows()
    service = table.column("ServiceName")
    names = ["Gateway", "EC2", "S3"]
    dictionaries = [pa.array(names[k:] + names[:k] + [f"unused-{k}"]) for k in range(3)]
    parts = [
        pa.DictionaryArray.from_arrays(pc.index_in(service.slice(20 * k, 20), value_set=d).combine_chunks(), d)
        for k, d in enumerate(dictionaries)
    ]
    assert not parts[0].dictionary.equals(parts[1].dictionary)
    pieces = [table.slice(start, 20) for start in (0, 20, 40)]
    pieces = [
        piece.set_column(piece.column_names.index("ServiceName"), "ServiceName", pa.chunked_array([part]))
        for piece, part in zip(pieces, parts, strict=True)
    ]
    encoded = pa.concat_tables(pieces)
    whole = allocate(table, DIMENSION, USAGE)
    for size in (7, 20, 1 << 20):
        with chunk_rows(size):
            got = allocate(encoded, DIMENSION, USAGE)
        assert got.allocations.equals(whole.allocations)
        assert got.warnings == whole.warnings


def test_an_empty_table_with_a_tiny_chunk_size():
    with chunk_rows(1):
        result = allocate(costs(), DIMENSION, USAGE)
    assert result.allocations.num_rows == 0
    assert result.allocations.schema == engine.ALLOCATIONS_SCHEMA


def test_conservation_is_checked_in_every_chunk(monkeypatch):
    # the broken split drops a cent from the rows of the second chunk only; the error names the first such row
    original = engine._split

    def broken(cents, numerators, denominator):
        amounts = original(cents, numerators, denominator)
        if calls.append(True) or len(calls) > 1:
            amounts[:, -1] -= 1
        return amounts

    calls: list[bool] = []
    monkeypatch.setattr(engine, "_split", broken)
    table = costs(*({"row_id": 10 - i, "BilledCost": "1.00"} for i in range(4)))
    dimension = VirtualDimension("t", (Rule("even", Always(), Allocation.split_even(["a", "b", "c"])),))
    with chunk_rows(2), pytest.raises(ConservationError, match="row 9: allocated 0.99"):
        allocate(table, dimension)
