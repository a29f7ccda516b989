"""Properties over random costs and rules: totals are conserved, input order does not matter."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from control_plane.allocation import (
    Allocation,
    Always,
    Equals,
    In,
    MappingStrategy,
    Matches,
    Not,
    Rule,
    ValueMapping,
    VirtualDimension,
    allocate,
)

from .helpers import DAY1, DAY2, costs, rows_of, usage

SERVICES = ["EC2", "S3", "Gateway", None]
TEAMS = ["a", "b", "c", None]

cost_rows = st.lists(
    st.fixed_dictionaries(
        {
            "ServiceName": st.sampled_from(SERVICES),
            "ResourceId": st.sampled_from(["team-a-1", "team-b-2", "x", None]),
            "ChargePeriodStart": st.sampled_from([DAY1, DAY2]),
            "BilledCost": st.decimals(min_value=-1000, max_value=100_000, places=6, allow_nan=False),
            "Tags": st.sampled_from([{"team": "a"}, {"team": "b"}, {"env": "prod"}, None]),
        }
    ),
    max_size=25,
)

conditions = st.sampled_from(
    [
        Always(),
        Equals("ServiceName", "EC2"),
        In("tag:team", ("a", "b")),
        Matches("ResourceId", "^team-"),
        Not(Equals("ServiceName", "S3")),
    ]
)
allocations = st.sampled_from(
    [
        Allocation.fixed("fixed"),
        Allocation.from_column("tag:team"),
        Allocation.from_column("ResourceId", ValueMapping(MappingStrategy.REGEX, regex=r"team-(\w)-")),
        Allocation.split_percent({"a": "33.3", "b": "33.3", "c": "33.4"}),
        Allocation.split_even(["a", "b", "c"]),
        Allocation.metric(ValueMapping(MappingStrategy.MANUAL, table={"a": "a", "b": "b"})),
    ]
)
dimensions = st.lists(st.tuples(conditions, allocations), max_size=4).map(
    lambda pairs: VirtualDimension(
        "team", tuple(Rule(f"r{index}", condition, allocation) for index, (condition, allocation) in enumerate(pairs))
    )
)
usage_rows = st.lists(
    st.tuples(
        st.sampled_from([DAY1, DAY2]),
        st.sampled_from(TEAMS[:3] + ["z"]),
        st.floats(min_value=0, max_value=1e6, allow_nan=False),
    ),
    max_size=6,
)


def usage_for(dimension, rows):
    return {rule.name: usage(*rows) for rule in dimension.rules if rule.allocation.kind.name == "METRIC"}


@settings(max_examples=150, deadline=None)
@given(cost_rows, dimensions, usage_rows)
def test_every_rows_parts_sum_to_its_rounded_cost(rows, dimension, usage_table_rows):
    result = allocate(costs(*rows), dimension, usage_for(dimension, usage_table_rows))
    sums: dict[int, Decimal] = {}
    for row_id, _value, amount, _rule in rows_of(result):
        sums[row_id] = sums.get(row_id, Decimal(0)) + Decimal(amount)
    expected = {
        index: row["BilledCost"].quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) for index, row in enumerate(rows)
    }
    assert sums == expected


@settings(max_examples=100, deadline=None)
@given(cost_rows, dimensions, usage_rows, st.randoms(use_true_random=False))
def test_shuffling_input_rows_does_not_change_the_result(rows, dimension, usage_table_rows, random):
    table = costs(*rows)
    order = list(range(table.num_rows))
    random.shuffle(order)
    usage_tables = usage_for(dimension, usage_table_rows)
    shuffled_usage = {
        name: t.take(pa.array(list(reversed(range(t.num_rows))), pa.int64())) for name, t in usage_tables.items()
    }
    original = allocate(table, dimension, usage_tables)
    shuffled = allocate(table.take(pa.array(order, pa.int64())), dimension, shuffled_usage)
    assert shuffled.allocations.equals(original.allocations)
    assert shuffled.warnings == original.warnings
