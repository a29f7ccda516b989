"""The rule model of a virtual dimension: conditions, allocations, rules, and their validation.

A virtual dimension (e.g. `team`) is an ordered tuple of rules; the first rule whose condition matches a cost row
decides where that row's cost goes, and cost no rule matches goes to the dimension's leftover value.

Every model is a frozen dataclass. A `Rule` validates its condition and allocation when it is built and raises
`RuleError` with a path naming the rule and the offending field, e.g. `rules[gateway].allocation.percentages`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from control_plane.allocation.errors import RuleError
from control_plane.billing.schema import RULE_COLUMNS

# String columns of the cost table a rule may refer to; anything else is a tag, written `tag:<key>`.
COST_COLUMNS: tuple[str, ...] = RULE_COLUMNS
TAG_PREFIX = "tag:"

Problems = Iterator[tuple[str, str]]


def _reference_problems(reference: object, path: str) -> Problems:
    if not isinstance(reference, str):
        yield path, f"must be a column name or 'tag:<key>', got {reference!r}"
    elif reference.startswith(TAG_PREFIX):
        if not reference[len(TAG_PREFIX) :]:
            yield path, "a tag reference needs a key after 'tag:'"
    elif reference not in COST_COLUMNS:
        yield path, f"unknown column {reference!r}; use one of {', '.join(COST_COLUMNS)} or 'tag:<key>'"


def _regex_problems(pattern: object, path: str, *, needs_group: bool = False) -> Problems:
    if not isinstance(pattern, str):
        yield path, f"must be a regular expression string, got {pattern!r}"
        return
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        yield path, f"invalid regular expression {pattern!r}: {error}"
        return
    if needs_group and compiled.groups < 1:
        yield path, f"regular expression {pattern!r} needs a capture group; its first group is the value"


# --- conditions ------------------------------------------------------------------------------------------------


class Condition:
    """A boolean expression over one cost row; subclasses are the node kinds."""

    def references(self) -> frozenset[str]:
        """The columns and tags this condition reads."""
        raise NotImplementedError

    def problems(self, path: str) -> Problems:
        raise NotImplementedError


@dataclass(frozen=True)
class Always(Condition):
    """Matches every row (a catch-all rule)."""

    def references(self) -> frozenset[str]:
        return frozenset()

    def problems(self, path: str) -> Problems:
        return iter(())


@dataclass(frozen=True)
class Equals(Condition):
    """The column or tag equals `value` (null never equals anything)."""

    column: str
    value: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})

    def problems(self, path: str) -> Problems:
        yield from _reference_problems(self.column, f"{path}.column")
        if not isinstance(self.value, str):
            yield f"{path}.value", f"must be a string, got {self.value!r}"


@dataclass(frozen=True)
class In(Condition):
    """The column or tag is one of `values`."""

    column: str
    values: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def references(self) -> frozenset[str]:
        return frozenset({self.column})

    def problems(self, path: str) -> Problems:
        yield from _reference_problems(self.column, f"{path}.column")
        if not self.values:
            yield f"{path}.values", "must list at least one value"
        for index, value in enumerate(self.values):
            if not isinstance(value, str):
                yield f"{path}.values[{index}]", f"must be a string, got {value!r}"


@dataclass(frozen=True)
class Matches(Condition):
    """The column or tag matches the Python regular expression `regex` anywhere (`re.search`); anchor it with
    `^…$` to match the whole value. Null never matches."""

    column: str
    regex: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})

    def problems(self, path: str) -> Problems:
        yield from _reference_problems(self.column, f"{path}.column")
        yield from _regex_problems(self.regex, f"{path}.regex")


@dataclass(frozen=True)
class Exists(Condition):
    """The column or tag is present on the row: non-null and not the empty string."""

    column: str

    def references(self) -> frozenset[str]:
        return frozenset({self.column})

    def problems(self, path: str) -> Problems:
        yield from _reference_problems(self.column, f"{path}.column")


@dataclass(frozen=True)
class And(Condition):
    operands: tuple[Condition, ...]

    def __init__(self, *operands: Condition):
        object.__setattr__(self, "operands", tuple(operands))

    def references(self) -> frozenset[str]:
        return frozenset().union(*(operand.references() for operand in self.operands))

    def problems(self, path: str) -> Problems:
        yield from _operand_problems(self.operands, path)


@dataclass(frozen=True)
class Or(Condition):
    operands: tuple[Condition, ...]

    def __init__(self, *operands: Condition):
        object.__setattr__(self, "operands", tuple(operands))

    def references(self) -> frozenset[str]:
        return frozenset().union(*(operand.references() for operand in self.operands))

    def problems(self, path: str) -> Problems:
        yield from _operand_problems(self.operands, path)


@dataclass(frozen=True)
class Not(Condition):
    operand: Condition

    def references(self) -> frozenset[str]:
        return self.operand.references()

    def problems(self, path: str) -> Problems:
        if not isinstance(self.operand, Condition):
            yield f"{path}.operand", f"must be a condition, got {self.operand!r}"
        else:
            yield from self.operand.problems(f"{path}.operand")


def _operand_problems(operands: tuple[Condition, ...], path: str) -> Problems:
    if not operands:
        yield f"{path}.operands", "must hold at least one condition"
    for index, operand in enumerate(operands):
        if not isinstance(operand, Condition):
            yield f"{path}.operands[{index}]", f"must be a condition, got {operand!r}"
        else:
            yield from operand.problems(f"{path}.operands[{index}]")


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
    """The first capture group of `regex` (searched anywhere); no match maps to nothing."""
    MANUAL = "manual"
    """Looked up in `table`; a value absent from it maps to nothing."""


@dataclass(frozen=True)
class ValueMapping:
    """How a raw value (a column value, or a usage owner) becomes a dimension value. A value that maps to nothing
    (null, no regex match, absent from the manual table, or mapped to an empty string) goes to the leftover."""

    strategy: MappingStrategy = MappingStrategy.IDENTITY
    regex: str | None = None
    table: Mapping[str, str] | None = None

    def problems(self, path: str) -> Problems:
        if not isinstance(self.strategy, MappingStrategy):
            yield f"{path}.strategy", f"must be a MappingStrategy, got {self.strategy!r}"
        elif self.strategy is MappingStrategy.REGEX:
            yield from _regex_problems(self.regex, f"{path}.regex", needs_group=True)
        elif self.strategy is MappingStrategy.MANUAL:
            if not isinstance(self.table, Mapping) or not self.table:
                yield f"{path}.table", "a manual mapping needs a non-empty table of raw value -> dimension value"
            else:
                for raw, value in self.table.items():
                    if not isinstance(raw, str) or not isinstance(value, str):
                        yield f"{path}.table[{raw!r}]", "keys and values must be strings"

    def apply(self, raw: str | None) -> str | None:
        """The dimension value for `raw`, or None when it maps to nothing."""
        if raw is None:
            return None
        if self.strategy is MappingStrategy.IDENTITY:
            mapped: str | None = raw
        elif self.strategy is MappingStrategy.REGEX:
            assert self.regex is not None
            match = re.search(self.regex, raw)
            mapped = match.group(1) if match else None
        else:
            assert self.table is not None
            mapped = self.table.get(raw)
        return mapped or None


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

    def problems(self, path: str) -> Problems:
        kind = self.kind
        if not isinstance(kind, AllocationKind):
            yield f"{path}.kind", f"must be an AllocationKind, got {kind!r}"
        elif kind is AllocationKind.FIXED:
            if not isinstance(self.value, str) or not self.value:
                yield f"{path}.value", "a fixed allocation needs a non-empty value"
        elif kind is AllocationKind.FROM_COLUMN:
            yield from _reference_problems(self.column, f"{path}.column")
            yield from self.mapping.problems(f"{path}.mapping")
        elif kind is AllocationKind.SPLIT_PERCENT:
            yield from self._percent_problems(f"{path}.percentages")
        elif kind is AllocationKind.SPLIT_EVEN:
            values = self.values or ()
            if not values:
                yield f"{path}.values", "an even split needs at least one value"
            elif any(not isinstance(value, str) or not value for value in values):
                yield f"{path}.values", "values must be non-empty strings"
            elif len(set(values)) != len(values):
                yield f"{path}.values", "values must be distinct"
        elif kind is AllocationKind.METRIC:
            yield from self.mapping.problems(f"{path}.mapping")

    def _percent_problems(self, path: str) -> Problems:
        if not self.percentages:
            yield path, "a percentage split needs at least one value"
            return
        total = Decimal(0)
        for value, percent in self.percentages.items():
            if not isinstance(value, str) or not value:
                yield f"{path}[{value!r}]", "values must be non-empty strings"
                return
            try:
                amount = percent_decimal(percent)
            except (InvalidOperation, ValueError, TypeError):
                yield f"{path}[{value!r}]", f"must be a number, got {percent!r}"
                return
            if not amount.is_finite() or amount < 0:
                yield f"{path}[{value!r}]", f"must be a finite percentage >= 0, got {percent!r}"
                return
            total += amount
        if total != 100:
            yield path, f"percentages must sum to 100, they sum to {total}"


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
    """`condition` selects cost rows; `allocation` says where their cost goes. Validated when built."""

    name: str
    condition: Condition
    allocation: Allocation

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise RuleError("rules[].name", "a rule needs a non-empty name")
        path = f"rules[{self.name}]"
        if not isinstance(self.condition, Condition):
            raise RuleError(f"{path}.condition", f"must be a condition, got {self.condition!r}")
        if not isinstance(self.allocation, Allocation):
            raise RuleError(f"{path}.allocation", f"must be an Allocation, got {self.allocation!r}")
        for problem_path, message in (
            *self.condition.problems(f"{path}.condition"),
            *self.allocation.problems(f"{path}.allocation"),
        ):
            raise RuleError(problem_path, message)

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
        if not isinstance(self.name, str) or not self.name:
            raise RuleError("name", "a virtual dimension needs a non-empty name")
        if not isinstance(self.leftover, str) or not self.leftover:
            raise RuleError("leftover", "the leftover value must be a non-empty string")
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if not isinstance(rule, Rule):
                raise RuleError(f"rules[{index}]", f"must be a Rule, got {rule!r}")
            if rule.name in seen:
                raise RuleError(f"rules[{index}].name", f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)

    def references(self) -> frozenset[str]:
        return frozenset().union(*(rule.references() for rule in self.rules))
