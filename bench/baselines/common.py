"""What both baselines share: the dimension read as per-column rule lists and coefficient groups with integer
numerators (built once, from the rules and the usage tables: work per rule, per day or per distinct value, never
per cost row), and the results' schema."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import lcm

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from control_plane.allocation import AllocationKind, VirtualDimension
from control_plane.allocation.engine import ALLOCATIONS_SCHEMA
from control_plane.allocation.rules import (
    Always,
    And,
    Condition,
    Equals,
    Exists,
    In,
    Matches,
    Not,
    Or,
    percent_decimal,
)

RESULT_SCHEMA = ALLOCATIONS_SCHEMA
"""row_id int64, day date32, value string, amount decimal128(18, 2), rule string (null: no rule matched)."""
EPOCH = date(1970, 1, 1)
MICROS_PER_DAY = 86_400_000_000


def single_value_mask(condition: Condition, values: pa.Array) -> np.ndarray:
    """A one-column condition on each of ``values`` (distinct strings; null allowed), null never matching a leaf."""
    if isinstance(condition, Always):
        return np.ones(len(values), dtype=bool)
    if isinstance(condition, Not):
        return ~single_value_mask(condition.operand, values)
    if isinstance(condition, And | Or):
        masks = [single_value_mask(operand, values) for operand in condition.operands]
        return np.logical_and.reduce(masks) if isinstance(condition, And) else np.logical_or.reduce(masks)
    if isinstance(condition, Equals):
        result = pc.equal(values, pa.scalar(condition.value, pa.string()))
    elif isinstance(condition, In):
        result = pc.is_in(values, value_set=pa.array(condition.values, pa.string()))
    elif isinstance(condition, Matches):
        result = pc.match_substring_regex(values, pattern=condition.regex)
    elif isinstance(condition, Exists):
        result = pc.greater(pc.binary_length(values), 0)
    else:
        raise TypeError(f"unknown condition {condition!r}")
    return result.fill_null(False).to_numpy(zero_copy_only=False)


@dataclass
class RuleShapes:
    """The rules as the baselines use them: per column, the rules reading only that column (first-match order
    is recovered by taking the smallest matching index over all columns); rules reading several columns; and
    the rule a row gets when nothing else matches (a catch-all), else none (= len(rules))."""

    by_column: dict[str, list[int]]
    several: list[int]
    always: int
    none: int


def rule_shapes(dimension: VirtualDimension) -> RuleShapes:
    by_column: dict[str, list[int]] = defaultdict(list)
    several: list[int] = []
    always = len(dimension.rules)
    for index, rule in enumerate(dimension.rules):
        references = rule.condition.references()
        if not references:
            always = min(always, index)  # Always() (or a constant condition): every row
        elif len(references) == 1:
            by_column[next(iter(references))].append(index)
        else:
            several.append(index)
    return RuleShapes(dict(by_column), several, always, len(dimension.rules))


@dataclass
class Groups:
    """Coefficient groups: per group its values (codes into `names`, sorted by value), integer numerators and
    their denominator (shares = numerator / denominator, summing to 1)."""

    leftover: str
    names: list[str] = field(default_factory=list)
    code: dict[str, int] = field(default_factory=dict)
    members: list[tuple[list[int], list[int], int]] = field(default_factory=list)
    index: dict[tuple, int] = field(default_factory=dict)
    singles: dict[str, int] = field(default_factory=dict)

    def value(self, name: str) -> int:
        if name not in self.code:
            self.code[name] = len(self.names)
            self.names.append(name)
        return self.code[name]

    def weighted(self, weights: Mapping[str, Fraction]) -> int:
        """The group of these weights (normalised; zero weights dropped)."""
        total = sum(weights.values(), Fraction(0))
        shares = tuple((v, w / total) for v, w in sorted(weights.items()) if w)
        if shares not in self.index:
            denominator = lcm(*(s.denominator for _v, s in shares))
            numerators = [s.numerator * (denominator // s.denominator) for _v, s in shares]
            self.index[shares] = len(self.members)
            self.members.append(([self.value(v) for v, _s in shares], numerators, denominator))
        return self.index[shares]

    def single(self, name: str | None) -> int:
        name = name or self.leftover
        if name not in self.singles:
            self.singles[name] = self.weighted({name: Fraction(1)})
        return self.singles[name]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(sizes, value codes, numerators, denominators) as padded numpy arrays (one row per group)."""
        width = max(len(codes) for codes, _n, _d in self.members)
        sizes = np.array([len(codes) for codes, _n, _d in self.members], dtype=np.int64)
        codes = np.zeros((len(self.members), width), dtype=np.int32)
        numerators = np.zeros((len(self.members), width), dtype=np.int64)
        for i, (values, nums, _d) in enumerate(self.members):
            codes[i, : len(values)] = values
            numerators[i, : len(nums)] = nums
        denominators = np.array([d for _c, _n, d in self.members], dtype=np.int64)
        return sizes, codes, numerators, denominators


def fixed_groups(dimension: VirtualDimension, groups: Groups) -> np.ndarray:
    """Each rule's group when it does not depend on the row (FIXED and splits); -1 for FROM_COLUMN and METRIC;
    one more entry, for rows no rule matched: the leftover."""
    out = np.full(len(dimension.rules) + 1, -1, dtype=np.int64)
    for index, rule in enumerate(dimension.rules):
        allocation = rule.allocation
        if allocation.kind is AllocationKind.FIXED:
            out[index] = groups.single(allocation.value)
        elif allocation.kind is AllocationKind.SPLIT_PERCENT:
            out[index] = groups.weighted(
                {v: Fraction(percent_decimal(p)) for v, p in (allocation.percentages or {}).items()}
            )
        elif allocation.kind is AllocationKind.SPLIT_EVEN:
            out[index] = groups.weighted({v: Fraction(1) for v in allocation.values or ()})
    out[-1] = groups.single(None)
    return out


def day_groups(rule_allocation, usage: pa.Table, groups: Groups) -> dict[int, int]:
    """A METRIC rule's group per day (days since 1970) with positive usage; other days go to the leftover."""
    owners = pc.unique(usage.column("owner").cast(pa.string()))
    mapped = dict(zip(owners.to_pylist(), rule_allocation.mapping.map(owners).to_pylist(), strict=True))
    by_day: dict[int, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for day, owner, value in zip(*(usage.column(c).to_pylist() for c in ("day", "owner", "value")), strict=True):
        if value is None:
            continue
        weight = Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)
        by_day[(day - EPOCH).days][mapped[owner] or groups.leftover] += weight
    return {day: groups.weighted(w) for day, w in by_day.items() if sum(w.values()) > 0}


def mapped_groups(rule_allocation, values: pa.Array, groups: Groups) -> np.ndarray:
    """A FROM_COLUMN rule's group per distinct value of its column (``values``, with a trailing null)."""
    mapped = rule_allocation.mapping.map(values).to_pylist()
    return np.array([groups.single(v) for v in mapped], dtype=np.int64)
