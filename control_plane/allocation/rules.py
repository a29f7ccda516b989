"""The rule model of a virtual dimension: conditions, allocations and rules.

A virtual dimension (e.g. `team`) is an ordered tuple of rules; the first rule whose condition matches a cost row
decides where that row's cost goes, and cost no rule matches goes to the dimension's leftover value.

Every model is a frozen dataclass of plain values. Models are built from what a user wrote by
`control_plane.dimensions.definition.parse_definition`, the one place rules are validated (each problem on the
attribute path Terraform underlines); the engine takes them as given.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from control_plane.allocation import regex
from control_plane.billing.schema import RULE_COLUMNS

# String columns of the cost table a rule may refer to; anything else is a tag, written `tag:<key>`.
COST_COLUMNS: tuple[str, ...] = RULE_COLUMNS
TAG_PREFIX = "tag:"


# --- conditions ------------------------------------------------------------------------------------------------


class Condition:
    """A boolean expression over one cost row; subclasses are the node kinds."""

    def references(self) -> frozenset[str]:
        """The columns and tags this condition reads."""
        raise NotImplementedError


@dataclass(frozen=True)
class Always(Condition):
    """Matches every row (a catch-all rule)."""

    def references(self) -> frozenset[str]:
        return frozenset()


@dataclass(frozen=True)
class Equals(Condition):
    """The column or tag equals `value` (null never equals anything)."""

    column: str
    value: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})


@dataclass(frozen=True)
class In(Condition):
    """The column or tag is one of `values`."""

    column: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def references(self) -> frozenset[str]:
        return frozenset({self.column})


@dataclass(frozen=True)
class Matches(Condition):
    """The column or tag matches the RE2 regular expression `regex` anywhere (a search); anchor it with `^…$` to
    match the whole value. Null never matches."""

    column: str
    regex: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})


@dataclass(frozen=True)
class Exists(Condition):
    """The column or tag is present on the row: non-null and not the empty string."""

    column: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})


@dataclass(frozen=True)
class And(Condition):
    operands: tuple[Condition, ...]

    def __init__(self, *operands: Condition):
        object.__setattr__(self, "operands", tuple(operands))

    def references(self) -> frozenset[str]:
        return frozenset().union(*(operand.references() for operand in self.operands))


@dataclass(frozen=True)
class Or(Condition):
    operands: tuple[Condition, ...]

    def __init__(self, *operands: Condition):
        object.__setattr__(self, "operands", tuple(operands))

    def references(self) -> frozenset[str]:
        return frozenset().union(*(operand.references() for operand in self.operands))


@dataclass(frozen=True)
class Not(Condition):
    operand: Condition

    def references(self) -> frozenset[str]:
        return self.operand.references()


# --- allocations -----------------------------------------------------------------------------------------------


class AllocationKind(enum.Enum):
    FIXED = "fixed"
    """Every matched row goes to one value."""
    FROM_COLUMN = "from_column"
    """The value is read from a column or tag of the row, then mapped."""
    SPLIT_PERCENT = "split_percent"
    """Each matched row is split by fixed percentages summing to 100."""
    SPLIT_EVEN = "split_even"
    """Each matched row is split evenly across values."""
    METRIC = "metric"
    """Each day's matched cost is split in proportion to that day's usage, per owner mapped to a value."""


class MappingStrategy(enum.Enum):
    IDENTITY = "identity"
    """The value as it is."""
    REGEX = "regex"
    """The first capture group of the RE2 regular expression `regex` (searched anywhere); no match maps to
    nothing."""
    MANUAL = "manual"
    """Looked up in `table`; a value absent from it maps to nothing."""


@dataclass(frozen=True)
class ValueMapping:
    """How a raw value (a column value, or a usage owner) becomes a dimension value. A value that maps to nothing
    (null, no regex match, absent from the manual table, or mapped to an empty string) goes to the leftover."""

    strategy: MappingStrategy = MappingStrategy.IDENTITY
    regex: str | None = None
    table: Mapping[str, str] | None = None

    def map(self, raw: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The dimension value of each raw value (strings), null where it maps to nothing; columnar."""
        values = raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
        values = values.cast(pa.string())
        if self.strategy is MappingStrategy.REGEX:
            mapped = regex.first_group(values, self.regex or "")
        elif self.strategy is MappingStrategy.MANUAL:
            table = self.table or {}
            keys = pa.array(list(table), pa.string())
            mapped = pa.array(list(table.values()), pa.string()).take(pc.index_in(values, value_set=keys))
        else:
            mapped = values
        return pc.if_else(pc.equal(mapped, ""), pa.scalar(None, pa.string()), mapped)

    def apply(self, raw: str | None) -> str | None:
        """The dimension value for one raw value, or None when it maps to nothing."""
        return self.map(pa.array([raw], pa.string()))[0].as_py()


@dataclass(frozen=True)
class Allocation:
    """Where a matched row's cost goes. Build one with the class methods, one per `AllocationKind`."""

    kind: AllocationKind
    value: str | None = None
    column: str | None = None
    mapping: ValueMapping = field(default_factory=ValueMapping)
    percentages: Mapping[str, Decimal | int | float | str] | None = None
    values: tuple[str, ...] | None = None

    @classmethod
    def fixed(cls, value: str) -> Allocation:
        return cls(AllocationKind.FIXED, value=value)

    @classmethod
    def from_column(cls, column: str, mapping: ValueMapping | None = None) -> Allocation:
        return cls(AllocationKind.FROM_COLUMN, column=column, mapping=mapping or ValueMapping())

    @classmethod
    def split_percent(cls, percentages: Mapping[str, Decimal | int | float | str]) -> Allocation:
        return cls(AllocationKind.SPLIT_PERCENT, percentages=dict(percentages))

    @classmethod
    def split_even(cls, values: tuple[str, ...] | list[str]) -> Allocation:
        return cls(AllocationKind.SPLIT_EVEN, values=tuple(values))

    @classmethod
    def metric(cls, mapping: ValueMapping | None = None) -> Allocation:
        return cls(AllocationKind.METRIC, mapping=mapping or ValueMapping())

    def references(self) -> frozenset[str]:
        return frozenset({self.column}) if self.kind is AllocationKind.FROM_COLUMN and self.column else frozenset()


def percent_decimal(percent: Decimal | int | float | str) -> Decimal:
    """A percentage as an exact decimal; floats are read as written (`12.5` is 12.5, not its binary value)."""
    if isinstance(percent, bool):
        raise TypeError("a percentage is not a boolean")
    if isinstance(percent, float):
        return Decimal(repr(percent))
    return Decimal(percent)


# --- rules and dimensions --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """`condition` selects cost rows; `allocation` says where their cost goes."""

    name: str
    condition: Condition
    allocation: Allocation

    def references(self) -> frozenset[str]:
        return self.condition.references() | self.allocation.references()


@dataclass(frozen=True)
class VirtualDimension:
    """An ordered tuple of rules (first match wins) and the value that keeps cost no rule places."""

    name: str
    rules: tuple[Rule, ...]
    leftover: str = "Unallocated"

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))

    def references(self) -> frozenset[str]:
        return frozenset().union(*(rule.references() for rule in self.rules))
