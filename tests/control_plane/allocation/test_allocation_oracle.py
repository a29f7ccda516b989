"""The vectorized engine against the per-row oracle (reference.py) on random tables and random rules.

Every rule kind, nested conditions, usage with zeros, unmapped owners and floats with long expansions (which push
the split onto the Python-int path), float and decimal costs of several types, nulls, shuffled row ids, chunked
tables: the allocations and warnings must be identical, and so must the errors.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from control_plane.allocation import (
    Allocation,
    AllocationError,
    Always,
    And,
    Equals,
    Exists,
    In,
    MappingStrategy,
    Matches,
    Not,
    Or,
    Rule,
    ValueMapping,
    VirtualDimension,
    allocate,
    engine,
)

from .helpers import COST_SCHEMA
from .reference import reference_allocate

DAYS = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 5)]
COLUMN_VALUES = {
    "ServiceName": ["EC2", "S3", "Gateway", "", None],
    "ResourceId": ["team-a-1", "team-b-2", "team-cc-3", "x", "", None],
    "RegionId": ["eu-west-1", "us-east-1", None],
    "SubAccountId": ["111", "222", None],
    "x_IamPrincipal": ["role/a", "role/b", "user/z", None],
}
TAG_KEYS = ["team", "env"]
TAG_VALUES = ["a", "b", "c", "", "prod"]
REFERENCES = [*COLUMN_VALUES, "tag:team", "tag:env", "tag:missing"]
OWNERS = ["a", "b", "c", "team-a", "z", "", "svc/x"]
HALF_CENTS = [0.125, 1.005, 2.675, -2.675, 0.005, -0.005, 0.015, 1e-9, -1e-9, 1e9, 1e9 + 0.005, 123456.785]


def values_of(reference: str) -> list:
    return COLUMN_VALUES.get(reference, TAG_VALUES)


@st.composite
def leaf_conditions(draw):
    reference = draw(st.sampled_from(REFERENCES))
    candidates = [value for value in values_of(reference) if value is not None]
    kind = draw(st.sampled_from(["always", "equals", "in", "matches", "exists"]))
    if kind == "always":
        return Always()
    if kind == "equals":
        return Equals(reference, draw(st.sampled_from(candidates)))
    if kind == "in":
        return In(reference, tuple(draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))))
    if kind == "matches":
        return Matches(reference, draw(st.sampled_from(["^team-", "a", r"\d$", "^$", "."])))
    return Exists(reference)


conditions = st.recursive(
    leaf_conditions(),
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3).map(lambda operands: And(*operands)),
        st.lists(children, min_size=1, max_size=3).map(lambda operands: Or(*operands)),
        children.map(Not),
    ),
    max_leaves=4,
)
mappings = st.one_of(
    st.just(ValueMapping()),
    st.just(ValueMapping(MappingStrategy.REGEX, regex=r"team-(\w+)-")),
    st.just(ValueMapping(MappingStrategy.REGEX, regex=r"^(\w*)")),
    st.dictionaries(
        st.sampled_from(sorted({v for vs in COLUMN_VALUES.values() for v in vs if v} | set(TAG_VALUES) | set(OWNERS))),
        st.sampled_from(["a", "b", "c", ""]),
        min_size=1,
        max_size=6,
    ).map(lambda table: ValueMapping(MappingStrategy.MANUAL, table=table)),
)


@st.composite
def percentages(draw):
    values = draw(st.lists(st.sampled_from(["a", "b", "c", "d", "Unallocated"]), min_size=1, max_size=4, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 10_000), min_size=len(values) - 1, max_size=len(values) - 1)))
    bounds = [0, *cuts, 10_000]
    return {value: Decimal(bounds[i + 1] - bounds[i]) / 100 for i, value in enumerate(values)}


allocations = st.one_of(
    st.sampled_from(["a", "b", "Unallocated"]).map(Allocation.fixed),
    st.builds(Allocation.from_column, st.sampled_from(REFERENCES), mappings),
    percentages().map(Allocation.split_percent),
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), min_size=1, max_size=7, unique=True).map(
        Allocation.split_even
    ),
    mappings.map(Allocation.metric),
)
dimensions = st.builds(
    lambda pairs, leftover: VirtualDimension(
        "team", tuple(Rule(f"r{index}", c, a) for index, (c, a) in enumerate(pairs)), leftover
    ),
    st.lists(st.tuples(conditions, allocations), max_size=5),
    st.sampled_from(["Unallocated", "zz-left", "a"]),
)
usage_values = st.one_of(
    st.sampled_from([0.0, 1.0, 3.0, 0.1, 1e6]),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
    st.none(),
)
usage_rows = st.lists(st.tuples(st.sampled_from(DAYS), st.sampled_from(OWNERS), usage_values), max_size=8)

DECIMAL_TYPES = [
    pa.decimal128(18, 6),
    pa.decimal128(28, 12),
    pa.decimal128(38, 24),  # scale too deep for int64 rounding: the Arrow path
    pa.decimal128(12, 2),
    pa.decimal128(15, 0),
    pa.decimal64(18, 6),
    pa.decimal256(40, 6),
]


@st.composite
def cost_columns(draw):
    """(BilledCost type, its values) — floats or one of the decimal types."""
    n = draw(st.integers(0, 30))
    if draw(st.booleans()):
        value = st.one_of(
            st.sampled_from(HALF_CENTS),
            st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
            st.floats(min_value=-1, max_value=1, allow_nan=False),
            st.integers(-10_000, 10_000).map(lambda c: c / 1000),
            st.none(),
        )
        return pa.float64(), draw(st.lists(value, min_size=n, max_size=n))
    kind = draw(st.sampled_from(DECIMAL_TYPES))
    places = min(kind.scale, 6)
    limit = min(10 ** (kind.precision - kind.scale) - 1, 10**10)
    value = st.one_of(
        st.decimals(min_value=-limit, max_value=limit, places=places, allow_nan=False, allow_infinity=False),
        st.sampled_from([Decimal("0.125"), Decimal("-0.125"), Decimal("0.135"), Decimal("-0.005")]).map(
            lambda d: d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        ),
        st.none(),
    )
    return kind, draw(st.lists(value, min_size=n, max_size=n))


tag_maps = st.one_of(
    st.none(),
    st.lists(st.tuples(st.sampled_from([*TAG_KEYS, "other"]), st.sampled_from(TAG_VALUES)), max_size=3),
)


@st.composite
def cost_tables(draw):
    kind, billed = draw(cost_columns())
    n = len(billed)
    columns = {
        name: draw(st.lists(st.sampled_from(values), min_size=n, max_size=n)) for name, values in COLUMN_VALUES.items()
    }
    table = pa.table(
        {
            "row_id": pa.array(draw(st.permutations(range(0, 3 * n, 3))) if n else [], pa.int64()),
            "ChargePeriodStart": pa.array(draw(st.lists(st.sampled_from(DAYS), min_size=n, max_size=n)), pa.date32()),
            "BilledCost": pa.array(billed, kind),
            **{name: pa.array(values, pa.string()) for name, values in columns.items()},
            "Tags": pa.array(draw(st.lists(tag_maps, min_size=n, max_size=n)), COST_SCHEMA.field("Tags").type),
        }
    )
    if draw(st.booleans()):
        table = table.drop_columns(["row_id"])
    if n > 2 and draw(st.booleans()):  # several chunks, the later ones sliced out of bigger arrays
        cut = draw(st.integers(1, n - 1))
        table = pa.concat_tables([table.slice(0, cut), pa.concat_tables([table, table]).slice(cut, n - cut)])
    if draw(st.booleans()):  # a dictionary-typed column, as a parquet reader may hand over
        table = table.set_column(
            table.column_names.index("ServiceName"), "ServiceName", pc.dictionary_encode(table.column("ServiceName"))
        )
    return table


def usage_for(dimension, rows):
    table = pa.table(
        {
            "day": pa.array([r[0] for r in rows], pa.date32()),
            "owner": pa.array([r[1] for r in rows], pa.string()),
            "value": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    return {rule.name: table for rule in dimension.rules if rule.allocation.kind.name == "METRIC"}


def outcome(function, *args):
    try:
        result = function(*args)
    except AllocationError as error:
        return ("error", str(error))
    return (result.allocations, result.warnings)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cost_tables(), dimensions, usage_rows)
def test_engine_equals_the_per_row_oracle(table, dimension, rows):
    usage = usage_for(dimension, rows)
    got = outcome(allocate, table, dimension, usage)
    expected = outcome(reference_allocate, table, dimension, usage)
    if expected[0] == "error":
        assert got == expected
        return
    assert got[0].schema == expected[0].schema
    assert got[0].to_pydict() == expected[0].to_pydict()
    assert got[1] == expected[1]


def test_the_oracle_test_reaches_the_python_int_path(monkeypatch):
    # 12.34 split by usage 1.8374153357581235 : 1 — numerators of ~17 digits times 1234 cents overflow int64
    from .helpers import costs, usage

    calls: list[bool] = []
    real = engine._python_ints
    monkeypatch.setattr(engine, "_python_ints", lambda values: calls.append(True) or real(values))
    rule = Rule("m", Always(), Allocation.metric())
    table = costs({"BilledCost": "-12.34"}, {"BilledCost": "99999.99"})
    day = table.column("ChargePeriodStart")[0].as_py()
    tables = {"m": usage((day, "a", 1.8374153357581235), (day, "b", 1.0))}
    assert allocate(table, VirtualDimension("t", (rule,)), tables).allocations.equals(
        reference_allocate(table, VirtualDimension("t", (rule,)), tables).allocations
    )
    assert calls


def oracle_cents(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN).scaleb(2))


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False), st.sampled_from(HALF_CENTS))))
@example([0.125, 1.005, 2.675, 1e-9, -0.0, 5e-324, 0.004999999999999999, 0.005000000000000001, 9999999999999998.0])
@example([float(f"{i}.{j}5") for i in (0, 1, 2, 1024, 10**9) for j in range(10)])
def test_float_cents_are_the_written_decimal_rounded_half_even(values):
    got = engine._float_cents(pa.array(values, pa.float64()))
    assert got.tolist() == [oracle_cents(value) for value in values]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_float_cost_is_refused_like_the_oracle(value):
    from .helpers import costs

    table = costs({}, {}).set_column(2, "BilledCost", pa.array([1.0, value], pa.float64()))
    dimension = VirtualDimension("t", ())
    assert outcome(allocate, table, dimension) == outcome(reference_allocate, table, dimension)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(tag_maps, max_size=12),
    st.integers(0, 5),
    st.sampled_from([*TAG_KEYS, "other", "nope"]),
    st.booleans(),
)
def test_tag_values_equal_map_lookup(maps, start, key, dictionary_encoded):
    tags = pa.array(maps, COST_SCHEMA.field("Tags").type)
    if dictionary_encoded:  # as a cost partition's row group is read: keys and values dictionary-encoded
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"Tags": tags}), sink)
        read = pq.read_table(
            pa.BufferReader(sink.getvalue()), read_dictionary=["Tags.key_value.key", "Tags.key_value.value"]
        )
        tags = read.column("Tags").combine_chunks()
    tags = tags.slice(min(start, len(maps)))
    dictionary, codes = engine._tag_codes(pa.table({"Tags": tags}), key)
    got = dictionary.take(pa.array(codes, mask=codes < 0)).to_pylist() if len(dictionary) else [None] * len(codes)
    expected = pc.map_lookup(pa.array(maps, COST_SCHEMA.field("Tags").type).slice(min(start, len(maps))), key, "first")
    assert got == expected.cast(pa.string()).to_pylist()


def test_independent_columns_with_nulls_match_like_the_reference():
    # Every combination of four referenced columns (nulls included): conditions on each column, combined with
    # And / Or / Not, are evaluated per distinct value and spread by codes; each row's rule is the reference's.
    from .helpers import costs

    rows = [
        {"ServiceName": s, "RegionId": r, "SubAccountId": a, "Tags": {"team": t} if t else {}, "BilledCost": "1.00"}
        for s in ("EC2", "S3", None)
        for r in ("eu", "us")
        for a in ("1", None)
        for t in ("a", "b", None)
    ]
    table = costs(*rows)
    dimension = VirtualDimension(
        "d",
        (
            Rule("ec2-eu", And(Equals("ServiceName", "EC2"), Equals("RegionId", "eu")), Allocation.fixed("x")),
            Rule("no-account", Not(Exists("SubAccountId")), Allocation.fixed("y")),
            Rule("team", Or(Equals("tag:team", "a"), In("RegionId", ("us",))), Allocation.from_column("tag:team")),
        ),
    )
    got = allocate(table, dimension)
    assert got.allocations.equals(reference_allocate(table, dimension).allocations)
    assert got.allocations.num_rows == len(rows)  # one part per row: every rule is a single value
